import { createRoute, z } from "@hono/zod-openapi";
import { problemResponses } from "../../schema/api/common.ts";
import { toGcg } from "../domain/export-gcg.ts";
import { toLlava } from "../domain/export-llava.ts";
import { toNdjson, toPancap, toRefer, toRegions, toT2i, type FinalImage } from "../domain/exports.ts";
import { encodeRleForAll } from "../domain/rle.ts";
import { finalImagePages, panopticOf, type ExportFilter } from "../flows/export.ts";
import type { Env } from "../env.ts";
import { principal, requireContentType } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { SignedQuery } from "../../schema/api/images.ts";
import type { ExportJobRow } from "../../schema/tables.ts";
import { checkSignature, signPath } from "../auth/signed-url.ts";
import { ulid } from "../domain/ids.ts";
import { getExportJob, insertExportJob } from "../store/export-jobs.ts";
import { signingSecret } from "./images.ts";
import { router } from "../http/router.ts";
import { dbOf, type Db } from "../store/db.ts";
import { LEADS, projectFor } from "./guards.ts";

export const exportRoutes = router();

export const FORMATS = ["pancap", "llava", "gcg", "refer", "t2i", "regions"] as const;
export type ExportFormat = (typeof FORMATS)[number];

/** One page of final images → NDJSON lines in a format. Masks (gcg) are read from R2 per image. */
export async function formatPage(env: Env, db: Db, format: ExportFormat, page: FinalImage[]): Promise<string> {
  let out = "";
  for (const fi of page) {
    switch (format) {
      case "pancap":
        out += toNdjson(toPancap(fi));
        break;
      case "llava":
        out += toNdjson(toLlava(fi));
        break;
      case "gcg": {
        const map = await panopticOf(env.BLOBS, db, fi.image.id);
        out += toNdjson(toGcg(fi, encodeRleForAll(map, new Set(fi.caption.spans.flatMap((s) => s.segment_ids)))));
        break;
      }
      case "refer":
        out += toNdjson(toRefer(fi));
        break;
      case "t2i":
        out += toNdjson(toT2i(fi));
        break;
      case "regions":
        out += toNdjson(toRegions(fi));
        break;
    }
  }
  return out;
}

/** The NDJSON of an export as a pull stream: one page is fetched only when the reader wants more. */
export function exportStream(env: Env, db: Db, format: ExportFormat, filter: ExportFilter): ReadableStream<Uint8Array> {
  const pages = finalImagePages(db, filter);
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await pages.next();
        if (next.done) {
          controller.close();
          return;
        }
        const text = await formatPage(env, db, format, next.value);
        if (text) controller.enqueue(encoder.encode(text));
      },
      async cancel() {
        await pages.return(undefined);
      },
    },
    { highWaterMark: 1 },
  );
}

export const ExportQuery = z.object({
  split: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/).optional().openapi({ description: "Only images of this split." }),
  status: z.enum(["final", "stale", "all"]).default("final").openapi({ description: "`final`: current captions; `stale`: built on region texts changed since; `all`." }),
  since: z.iso.datetime({ offset: true }).optional().openapi({ description: "Only captions finalised (or flagged) at or after this time." }),
});

const stream = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/exports/{format}",
  tags: ["Exports"],
  security: [{ bearer: [] }],
  summary: "Stream the project's final captions in a dataset format (NDJSON, one image per line)",
  description:
    "Lead or admin. `pancap`: the canonical record with image info, segments, final region texts and their drafts, and the inline form. " +
    "`llava`: LLaVA conversations with `<p> phrase </p> [SEG]` and `seg_group_ids`. `gcg`: GLaMM GranD-f with one COCO RLE (pycocotools " +
    "string, column-major) per segment. `refer`: one referring expression per span (several lines per image). `t2i`: image/caption " +
    "pairs. `regions`: per-segment descriptions. The export is streamed page by page; the Worker never holds the project.",
  request: {
    params: z.object({
      projectId: z.string().openapi({ param: { name: "projectId", in: "path" } }),
      format: z.enum(FORMATS).openapi({ param: { name: "format", in: "path" } }),
    }),
    query: ExportQuery,
  },
  responses: {
    200: { description: "NDJSON", content: { "application/x-ndjson": { schema: z.string() } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

exportRoutes.openapi(stream, async (c) => {
  const { projectId, format } = c.req.valid("param");
  const { split, status, since } = c.req.valid("query");
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, LEADS, "export datasets");
  const body = exportStream(c.env, db, format, { projectId, split, status, since: since === undefined ? undefined : Date.parse(since) });
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
    bytes: z.int(),
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
    "Lead or admin. The job writes the NDJSON file and a manifest (image count, bytes, the file's sha256, the project's config hash) " +
    "to R2; poll the job for progress and, when done, signed download URLs.",
  middleware: [requireContentType("json")] as const,
  request: {
    params: z.object({ projectId: z.string().openapi({ param: { name: "projectId", in: "path" } }) }),
    body: { required: true, content: { "application/json": { schema: ExportQuery.extend({ format: z.enum(FORMATS) }).strict().openapi("ExportJobCreate") } } },
  },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: ExportJobSchema } } },
    ...problemResponses(400, 401, 403, 404, 415),
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
    bytes: 0,
    sha256: null,
    objectKey: null,
    manifestKey: null,
    configHash: null,
    error: null,
    createdBy: me.subject,
    createdAt: now,
    updatedAt: now,
  };
  await insertExportJob(db, job);
  await c.env.DRAFT_QUEUE.send({ kind: "export", jobId: job.id });
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
    bytes: j.bytes,
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
