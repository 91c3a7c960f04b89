import { createRoute, z } from "@hono/zod-openapi";
import { problemResponses } from "../../schema/api/common.ts";
import { toGcg } from "../domain/export-gcg.ts";
import { toLlava } from "../domain/export-llava.ts";
import { toNdjson, toPancap, toRefer, toRegions, toT2i, type FinalImage } from "../domain/exports.ts";
import { encodeRleForAll } from "../domain/rle.ts";
import { finalImagePages, panopticOf, type ExportFilter } from "../flows/export.ts";
import type { Env } from "../env.ts";
import { principal } from "../http/middleware.ts";
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
