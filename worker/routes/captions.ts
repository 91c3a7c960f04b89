import { createRoute, z } from "@hono/zod-openapi";
import { Cursor, problemResponses, ProjectIdParam } from "../../schema/api/common.ts";
import { ImageIdParam } from "../../schema/api/images.ts";
import type { FinalCaptionRow } from "../../schema/tables.ts";
import { decodeCursor, encodeCursor } from "../domain/ids.ts";
import { toInline } from "../domain/grounded-caption.ts";
import { principal } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { router } from "../http/router.ts";
import { finalCaptionPage, getFinalCaption } from "../store/captions.ts";
import { dbOf } from "../store/db.ts";
import { getImage } from "../store/images.ts";
import { PROJECT_MEMBERS, projectFor } from "./guards.ts";

export const captionRoutes = router();
const tags = ["Captions"];
const security = [{ bearer: [] }];

const Span = z.object({ start: z.int(), end: z.int(), segment_ids: z.array(z.int()) });
export const FinalCaptionSchema = z
  .object({
    image_id: z.string(),
    version: z.int(),
    text: z.string(),
    spans: z.array(Span).openapi({ description: "Half-open offsets in Unicode code points of the NFC text." }),
    inline: z.string(),
    stale: z.boolean().openapi({ description: "A region text it was built on changed since (see `stale_reason`): it needs rework." }),
    stale_reason: z.string().nullable(),
    lineage: z.object({
      submission_id: z.string(),
      draft_key: z.string().nullable(),
      region_versions: z.record(z.string(), z.int()).openapi({ description: "segment id → version of the final region text the caption was built on." }),
    }),
    coverage: z.record(z.string(), z.unknown()),
    stats: z.record(z.string(), z.unknown()),
    updated_at: z.iso.datetime(),
  })
  .openapi("FinalCaption");

export function finalCaptionJson(f: FinalCaptionRow) {
  const caption = { text: f.text, spans: f.spans };
  return {
    image_id: f.imageId,
    version: f.version,
    ...caption,
    inline: toInline(caption),
    stale: f.stale,
    stale_reason: f.staleReason,
    lineage: { submission_id: f.submissionId, draft_key: f.draftKey, region_versions: f.regionVersions },
    coverage: { ...f.coverage },
    stats: { ...f.stats },
    updated_at: new Date(f.updatedAt).toISOString(),
  };
}

const get = createRoute({
  method: "get",
  path: "/v1/images/{imageId}/caption",
  tags,
  security,
  summary: "The image's final grounded caption, with its lineage, coverage and statistics",
  request: { params: ImageIdParam },
  responses: {
    200: { description: "The final caption", content: { "application/json": { schema: FinalCaptionSchema } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

captionRoutes.openapi(get, async (c) => {
  const { imageId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const image = await getImage(db, imageId);
  if (!image) throw problems.notFound(`image "${imageId}"`);
  await projectFor(db, principal(c), image.projectId, PROJECT_MEMBERS, "read captions");
  const caption = await getFinalCaption(db, image.id);
  if (!caption) throw problems.notFound(`a final caption of image "${imageId}"`);
  c.header("ETag", `"${caption.version}"`);
  return c.json(finalCaptionJson(caption), 200);
});

const list = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/captions",
  tags,
  security,
  summary: "Final captions of a project in image order; `stale=true` lists those needing rework",
  request: {
    params: ProjectIdParam,
    query: z.object({
      stale: z.enum(["true", "false"]).optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: Cursor.optional(),
    }),
  },
  responses: {
    200: {
      description: "A page of captions",
      content: { "application/json": { schema: z.object({ items: z.array(FinalCaptionSchema), next_cursor: z.string().nullable() }) } },
    },
    ...problemResponses(400, 401, 403, 404),
  },
});

captionRoutes.openapi(list, async (c) => {
  const { projectId } = c.req.valid("param");
  const { stale, limit, cursor } = c.req.valid("query");
  const after = cursor === undefined ? null : decodeCursor(cursor);
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, PROJECT_MEMBERS, "read captions");
  const rows = await finalCaptionPage(db, { projectId, stale: stale === undefined ? undefined : stale === "true" }, after, limit + 1);
  const page = rows.slice(0, limit);
  return c.json({ items: page.map(finalCaptionJson), next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1].imageId) : null }, 200);
});
