import { createRoute, z } from "@hono/zod-openapi";
import { problemResponses, ProjectIdParam } from "../../schema/api/common.ts";
import { CaptionSetSchema } from "../../schema/api/studies.ts";
import { CaptionSetName } from "../../schema/study-design.ts";
import { importCaptionSet, MAX_SET_BYTES, MAX_SET_LINES } from "../flows/caption-set.ts";
import { principal } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { router } from "../http/router.ts";
import { listCaptionSets } from "../store/caption-sets.ts";
import { dbOf } from "../store/db.ts";
import { LEADS, projectFor } from "./guards.ts";

export const captionSetRoutes = router();
const tags = ["Caption sets"];
const security = [{ bearer: [] }];

const put = createRoute({
  method: "put",
  path: "/v1/projects/{projectId}/caption-sets/{name}",
  tags,
  security,
  summary: "Upload a caption set (NDJSON), replacing it whole: a study's `import:<name>` source",
  description:
    "Lead or admin. One JSON object per line: `{\"image_id\": \"img_…\", \"text\": \"…\"}` or `{\"external_id\": \"000000039769\", \"text\": \"…\"}` " +
    `(e.g. GPT-4V's captions, or another dataset's, of the same COCO images). At most ${MAX_SET_LINES} lines and ${MAX_SET_BYTES / 1024 / 1024} MiB. ` +
    "The body is read as it streams; every line is checked, and if any is bad the answer lists the bad lines by number and nothing of the upload is stored.",
  request: {
    params: ProjectIdParam.extend({ name: CaptionSetName }),
    body: { required: true, content: { "application/x-ndjson": { schema: z.string().openapi({ example: '{"external_id": "000000039769", "text": "Two cats sleep on a pink blanket."}' }) } } },
  },
  responses: {
    200: { description: "The set as stored", content: { "application/json": { schema: CaptionSetSchema } } },
    ...problemResponses(400, 401, 403, 404, 413, 415),
  },
});

captionSetRoutes.openapi(put, async (c) => {
  const { projectId, name } = c.req.valid("param");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  await projectFor(db, me, projectId, LEADS, "upload caption sets");
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  if (!/^application\/(x-ndjson|jsonl|x-jsonlines)\b/.test(type)) throw problems.unsupportedMediaType(`this endpoint takes application/x-ndjson, not "${type || "no content type"}"`);
  const declared = Number(c.req.header("content-length") ?? NaN);
  if (declared > MAX_SET_BYTES) throw problems.tooLarge(MAX_SET_BYTES);
  if (!c.req.raw.body) throw problems.validation([{ path: "body", message: "no captions: send one JSON object per line" }]);
  const result = await importCaptionSet(db, projectId, name, c.req.raw.body, me.subject);
  return c.json(
    { name, source: `import:${name}`, upload_id: result.uploadId, lines: result.lines, bytes: result.bytes, sha256: result.sha256, created_by: me.subject, created_at: new Date().toISOString() },
    200,
  );
});

const list = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/caption-sets",
  tags,
  security,
  summary: "A project's caption sets, each with its latest upload",
  request: { params: ProjectIdParam },
  responses: {
    200: { description: "Caption sets", content: { "application/json": { schema: z.object({ items: z.array(CaptionSetSchema) }) } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

captionSetRoutes.openapi(list, async (c) => {
  const { projectId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, LEADS, "read caption sets");
  const rows = await listCaptionSets(db, projectId);
  return c.json(
    {
      items: rows.map((r) => ({
        name: r.name,
        source: `import:${r.name}`,
        upload_id: r.upload_id,
        lines: r.lines,
        bytes: r.bytes,
        sha256: r.sha256,
        created_by: r.created_by,
        created_at: new Date(r.created_at).toISOString(),
      })),
    },
    200,
  );
});
