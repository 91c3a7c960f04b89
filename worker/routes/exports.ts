import { createRoute, z } from "@hono/zod-openapi";
import { Cursor, problemResponses } from "../../schema/api/common.ts";
import { ExportTrailer } from "../../schema/api/exports.ts";
import { decodeCursor } from "../domain/ids.ts";
import { exportPageSize, type ExportFilter } from "../flows/export.ts";
import { exportStatementBudget } from "../flows/export-budget.ts";
import { FORMATS, type ExportFormat } from "../flows/export-format.ts";
import { exportPageStream } from "../flows/export-stream.ts";
import type { Env } from "../env.ts";
import { limitBody, principal, requireContentType } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { SignedQuery } from "../../schema/api/images.ts";
import type { ExportJobRow } from "../../schema/tables.ts";
import { checkSignature, signPath } from "../auth/signed-url.ts";
import { ulid } from "../domain/ids.ts";
import { getExportJob, insertExportJob } from "../store/export-jobs.ts";
import { signingSecret } from "./images.ts";
import { router } from "../http/router.ts";
import { dbOf } from "../store/db.ts";
import { LEADS, projectFor } from "./guards.ts";

export const exportRoutes = router();
exportRoutes.openAPIRegistry.register("ExportTrailer", ExportTrailer);

export const ExportQuery = z.object({
  split: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/).optional().openapi({ description: "Only images of this split." }),
  status: z.enum(["final", "stale", "all"]).default("final").openapi({ description: "`final`: current captions; `stale`: built on region texts changed since; `all`." }),
  since: z.iso.datetime({ offset: true }).optional().openapi({ description: "Only captions finalised (or flagged) at or after this time." }),
});

/** Images one streamed response may hold (default, most): each costs statements of the request's budget. */
const STREAM_LIMIT = { default: 1000, max: 10_000 };

const StreamQuery = ExportQuery.extend({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(STREAM_LIMIT.max)
    .default(STREAM_LIMIT.default)
    .openapi({ description: `Most images in this response (1–${STREAM_LIMIT.max}, default ${STREAM_LIMIT.default}); a response may hold fewer and still have a \`next\`.` }),
  cursor: Cursor.optional().openapi({ description: "The trailer's `next` of the previous response (with the same format and filters)." }),
});

const TRAILER_DOC =
  "The export comes in pages: each response holds at most `limit` images in image order, then one last line, the trailer " +
  '(schema `ExportTrailer`: `{"_trailer": {"images": n, "lines": m, "next": cursor | null, "complete": true}}`). ' +
  "Ask again with `cursor=<next>` (same format and filters) until `next` is null. A response may hold fewer than `limit` images " +
  "(each response keeps within D1's statements per request) and still have a `next`. A body that does not end with the trailer " +
  "was cut short (the server errors the stream on a failure, it never ends it cleanly): ask for the same page again.";

const stream = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/exports/{format}",
  tags: ["Exports"],
  security: [{ bearer: [] }],
  summary: "Stream a page of the project's final captions in a dataset format (NDJSON, one image per line, then a trailer)",
  description:
    "Lead or admin. `pancap`: the canonical record with image info, segments, final region texts and their drafts, and the inline form. " +
    "`llava`: LLaVA conversations with `<p> phrase </p> [SEG]` and `seg_group_ids`. `gcg`: GLaMM GranD-f with one COCO RLE (pycocotools " +
    "string, column-major) per segment. `refer`: one referring expression per span (several lines per image). `t2i`: image/caption " +
    "pairs. `regions`: per-segment descriptions. " +
    TRAILER_DOC +
    " The body is streamed as it is read; the Worker never holds the project. For a whole large project as one file, use an export job.",
  request: {
    params: z.object({
      projectId: z.string().openapi({ param: { name: "projectId", in: "path" } }),
      format: z.enum(FORMATS).openapi({ param: { name: "format", in: "path" } }),
    }),
    query: StreamQuery,
  },
  responses: {
    200: { description: "NDJSON records, then the trailer line", content: { "application/x-ndjson": { schema: z.string() } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

exportRoutes.openapi(stream, async (c) => {
  const { projectId, format } = c.req.valid("param");
  const { split, status, since, limit, cursor } = c.req.valid("query");
  const after = cursor === undefined ? null : decodeCursor(cursor);
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, LEADS, "export datasets");
  const filter: ExportFilter = { projectId, split, status, since: since === undefined ? undefined : Date.parse(since) };
  const body = exportPageStream(c.env.BLOBS, db, format, filter, {
    after,
    limit,
    pageSize: exportPageSize(c.env.EXPORT_PAGE_IMAGES),
    budget: exportStatementBudget(c.env.D1_STATEMENT_LIMIT),
  });
  // A raw Response: the typed helpers cannot describe a byte stream.
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": "application/x-ndjson; charset=utf-8",
      "Content-Disposition": `attachment; filename="${projectId}-${format}.ndjson"`,
      "Cache-Control": "no-store",
    },
  }) as never;
});

const ExportJobSchema = z
  .object({
    id: z.string(),
    project_id: z.string(),
    format: z.enum(FORMATS),
    filter: z.object({ split: z.string().optional(), status: z.string(), since: z.int().optional() }),
    status: z.enum(["queued", "running", "done", "failed"]),
    images: z.int().openapi({ description: "Images written so far." }),
    lines: z.int().openapi({ description: "NDJSON lines written so far (`refer` writes one per grounded phrase)." }),
    bytes: z.int().openapi({ description: "Bytes written so far." }),
    messages: z.int().openapi({ description: "Queue messages that moved the job on: each writes what fits its D1 statement budget and leaves a checkpoint." }),
    peak_statements: z.int().openapi({ description: "The most D1 statements of one queue invocation that moved the job on (D1 allows 1,000, 50 on the free plan)." }),
    sha256: z.string().nullable(),
    config_hash: z.string().nullable().openapi({ description: "Hash of the project's settings and categories when the file was written." }),
    download: z
      .object({ url: z.string(), manifest_url: z.string(), expires_at: z.iso.datetime() })
      .nullable()
      .openapi({ description: "Signed URLs of the file and its manifest, once done." }),
    error: z.string().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("ExportJob");

const JobParams = z.object({
  projectId: z.string().openapi({ param: { name: "projectId", in: "path" } }),
  jobId: z.string().regex(/^exp_[0-9a-z]{26}$/, "not an export job id").openapi({ param: { name: "jobId", in: "path" } }),
});

const createJob = createRoute({
  method: "post",
  path: "/v1/projects/{projectId}/exports",
  tags: ["Exports"],
  security: [{ bearer: [] }],
  summary: "Export a large project to a file through the queue",
  description:
    "Lead or admin. The job writes the NDJSON file and a manifest (image and line counts, bytes, the file's sha256, the project's config hash) " +
    "to R2; poll the job for progress and, when done, signed download URLs. The file is written over several queue messages, each within " +
    "D1's statements per invocation, each resuming from the checkpoint the last one left (a redelivered or retried message neither " +
    "repeats nor skips rows). The file holds the data lines only (no trailer); the manifest's counts and sha256 vouch for it.",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: {
    params: z.object({ projectId: z.string().openapi({ param: { name: "projectId", in: "path" } }) }),
    body: { required: true, content: { "application/json": { schema: ExportQuery.extend({ format: z.enum(FORMATS) }).strict().openapi("ExportJobCreate") } } },
  },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: ExportJobSchema } } },
    ...problemResponses(400, 401, 403, 404, 413, 415),
  },
});

exportRoutes.openapi(createJob, async (c) => {
  const { projectId } = c.req.valid("param");
  const { format, split, status, since } = c.req.valid("json");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  await projectFor(db, me, projectId, LEADS, "export datasets");
  const now = Date.now();
  const job: ExportJobRow = {
    id: `exp_${ulid(now)}`,
    projectId,
    format,
    filter: { status, ...(split ? { split } : {}), ...(since ? { since: Date.parse(since) } : {}) },
    status: "queued",
    rows: 0,
    lines: 0,
    bytes: 0,
    sha256: null,
    objectKey: null,
    manifestKey: null,
    configHash: null,
    error: null,
    seq: 0,
    cursor: null,
    uploadId: null,
    parts: [],
    carryKey: null,
    hashState: null,
    peakStatements: 0,
    createdBy: me.subject,
    createdAt: now,
    updatedAt: now,
  };
  await insertExportJob(db, job);
  await c.env.DRAFT_QUEUE.send({ kind: "export", jobId: job.id, seq: 0 });
  c.header("Location", `/v1/projects/${projectId}/exports/jobs/${job.id}`);
  return c.json(await exportJobJson(c.env, job), 202);
});

const getJob = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/exports/jobs/{jobId}",
  tags: ["Exports"],
  security: [{ bearer: [] }],
  summary: "Progress of an export job, and its download URLs when done",
  request: { params: JobParams },
  responses: {
    200: { description: "The job", content: { "application/json": { schema: ExportJobSchema } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

exportRoutes.openapi(getJob, async (c) => {
  const { projectId, jobId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, LEADS, "read export jobs");
  const job = await getExportJob(db, jobId);
  if (!job || job.projectId !== projectId) throw problems.notFound(`export job "${jobId}"`);
  return c.json(await exportJobJson(c.env, job), 200);
});

const download = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/exports/jobs/{jobId}/{file}",
  tags: ["Exports"],
  security: [{ bearer: [] }],
  summary: "Download an export job's file or manifest (bearer, or the signed URL from the job)",
  request: {
    params: JobParams.extend({ file: z.enum(["file", "manifest"]).openapi({ param: { name: "file", in: "path" } }) }),
    query: SignedQuery,
  },
  responses: {
    200: { description: "The bytes", content: { "application/x-ndjson": { schema: z.string() }, "application/json": { schema: z.unknown() } } },
    ...problemResponses(400, 401, 403, 404, 409),
  },
});

exportRoutes.openapi(download, async (c) => {
  const { projectId, jobId, file } = c.req.valid("param");
  const { expires, sig } = c.req.valid("query");
  const db = dbOf(c.env.DB);
  if (sig !== undefined && !c.get("principal")) {
    const check = await checkSignature(signingSecret(c.env), c.req.path, expires ?? "0", sig, Date.now());
    if (check !== "valid") throw problems.unauthorized(check === "expired" ? "the signed URL has expired" : "the URL signature does not verify");
  } else {
    await projectFor(db, principal(c), projectId, LEADS, "download exports");
  }
  const job = await getExportJob(db, jobId);
  if (!job || job.projectId !== projectId) throw problems.notFound(`export job "${jobId}"`);
  if (job.status !== "done") throw problems.conflict(`the export job is ${job.status}`);
  const object = await c.env.BLOBS.get(file === "file" ? job.objectKey! : job.manifestKey!);
  if (!object) throw new Error(`export object of ${job.id} is missing from R2`);
  return new Response(object.body, {
    headers: {
      "Content-Type": file === "file" ? "application/x-ndjson; charset=utf-8" : "application/json",
      "Content-Length": String(object.size),
      "Content-Disposition": `attachment; filename="${projectId}-${job.format}${file === "manifest" ? ".manifest.json" : ".ndjson"}"`,
      ...(file === "file" && job.sha256 ? { ETag: `"${job.sha256}"` } : {}),
    },
  }) as never;
});

async function exportJobJson(env: Env, j: ExportJobRow) {
  const expires = Math.floor(Date.now() / 1000) + Number(env.SIGNED_URL_TTL_SECONDS ?? 300);
  const base = `/v1/projects/${j.projectId}/exports/jobs/${j.id}`;
  return {
    id: j.id,
    project_id: j.projectId,
    format: j.format as ExportFormat,
    filter: j.filter,
    status: j.status,
    images: j.rows,
    lines: j.lines,
    bytes: j.bytes,
    messages: j.seq,
    peak_statements: j.peakStatements,
    sha256: j.sha256,
    config_hash: j.configHash,
    download:
      j.status === "done"
        ? {
            url: await signPath(signingSecret(env), `${base}/file`, expires),
            manifest_url: await signPath(signingSecret(env), `${base}/manifest`, expires),
            expires_at: new Date(expires * 1000).toISOString(),
          }
        : null,
    error: j.error,
    created_at: new Date(j.createdAt).toISOString(),
    updated_at: new Date(j.updatedAt).toISOString(),
  };
}
