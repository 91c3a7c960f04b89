import { createRoute } from "@hono/zod-openapi";
import { problemResponses } from "../../schema/api/common.ts";
import { DraftParams, DraftSchema, PendingSchema } from "../../schema/api/drafts.ts";
import type { DraftRow } from "../../schema/tables.ts";
import { currentDraft } from "../flows/current-draft.ts";
import { principal } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { router } from "../http/router.ts";
import { dbOf } from "../store/db.ts";
import { getImage } from "../store/images.ts";
import type { DraftOutcome } from "../store/drafts.ts";
import { PROJECT_MEMBERS, projectFor } from "./guards.ts";

export const draftRoutes = router();
const RETRY_AFTER_SECONDS = 2;

const get = createRoute({
  method: "get",
  path: "/v1/images/{imageId}/drafts/{round}",
  tags: ["Drafts"],
  security: [{ bearer: [] }],
  summary: "The current VLM draft of an image (made on first request)",
  description:
    "Under the project's current VLM, render and prompt settings. The first request starts generation and answers 202 with " +
    "`Retry-After`; concurrent requests for the same draft share one model call. A failed model draft is answered with the " +
    "template draft (`source: template-fallback`) so annotation never waits on the model.",
  request: { params: DraftParams },
  responses: {
    200: { description: "The draft", content: { "application/json": { schema: DraftSchema } } },
    202: { description: "Being generated; retry after the given seconds", content: { "application/json": { schema: PendingSchema } } },
    ...problemResponses(400, 401, 403, 404, 409),
  },
});

draftRoutes.openapi(get, async (c) => {
  const { imageId, round } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const image = await getImage(db, imageId);
  if (!image) throw problems.notFound(`image "${imageId}"`);
  const project = await projectFor(db, principal(c), image.projectId, PROJECT_MEMBERS, "read drafts");
  const draft = await currentDraft(c.env, db, image, project, round as 1 | 2);
  if (draft.state === "unavailable") throw problems.conflict(draft.reason);
  if (draft.state === "pending") {
    c.header("Retry-After", String(RETRY_AFTER_SECONDS));
    return c.json({ image_id: image.id, round, key: draft.key, status: "pending" as const, retry_after_seconds: RETRY_AFTER_SECONDS }, 202);
  }
  return c.json(draftJson(image.id, draft.row, draft.fallback), 200);
});

/**
 * `imageId` is the image asked about: drafts are cached by content (an image's twin in another
 * project shares its row), so the row's own image may be one the caller cannot see.
 */
export function draftJson(imageId: string, row: DraftRow, fallback: DraftOutcome | null) {
  const regions = fallback ? fallback.regions : row.regions;
  const caption = fallback ? fallback.caption : row.caption;
  return {
    image_id: imageId,
    round: row.round,
    key: row.key,
    status: row.status as "ready" | "partial" | "failed",
    source: fallback ? ("template-fallback" as const) : row.provider === "template" ? ("template" as const) : ("vlm" as const),
    provider: row.provider,
    model: row.model,
    prompt: { id: row.promptId, version: row.promptVersion },
    regions: regions ? regions.map((r) => ({ segment_id: r.segmentId, mark: r.mark, text: r.text })) : null,
    caption: caption ?? null,
    problems: row.problems
      ? {
          ...(row.problems.missingMarks ? { missing_marks: row.problems.missingMarks } : {}),
          ...(row.problems.unknownMarks ? { unknown_marks: row.problems.unknownMarks } : {}),
          ...(row.problems.errors ? { errors: row.problems.errors } : {}),
          ...(row.problems.reason ? { reason: row.problems.reason } : {}),
        }
      : null,
    attempts: row.attempts,
    tokens_in: row.tokensIn,
    tokens_out: row.tokensOut,
    render_key: row.renderKey,
    updated_at: new Date(row.updatedAt).toISOString(),
  };
}
