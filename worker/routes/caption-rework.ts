import { createRoute, z } from "@hono/zod-openapi";
import { problemResponses, ProjectIdParam } from "../../schema/api/common.ts";
import { ImageIdParam } from "../../schema/api/images.ts";
import { principal } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { router } from "../http/router.ts";
import { reopenStaleCaptions } from "../store/caption-rework.ts";
import { getFinalCaption } from "../store/captions.ts";
import { dbOf } from "../store/db.ts";
import { getImage } from "../store/images.ts";
import { LEADS, projectFor } from "./guards.ts";

/**
 * Stale captions come back as round-2 rework: a task that starts from the current caption, with
 * the regions whose text changed named in its lease. Accepting it writes the caption's next
 * version, which is not stale.
 */
export const captionReworkRoutes = router();
const tags = ["Captions"];
const security = [{ bearer: [] }];

const Reopened = z
  .object({
    reopened: z.int().openapi({ description: "Rework tasks created." }),
    tasks: z.array(z.object({ task_id: z.string(), image_id: z.string() })).openapi({ description: "The first 100 of them." }),
  })
  .openapi("ReworkReopened");

const one = createRoute({
  method: "post",
  path: "/v1/images/{imageId}/caption/rework",
  tags,
  security,
  summary: "Reopen a stale final caption as round-2 rework (lead)",
  description:
    "Creates one round-2 edit task that starts from the current final caption; its lease lists the segments whose region text " +
    "changed since (`start.changed_segments`) beside their current texts. 409 when the caption is not stale or its rework is already under way. " +
    "Another annotator than the caption's author takes it (nobody works twice on an image in a round).",
  request: { params: ImageIdParam },
  responses: {
    201: { description: "Reopened", content: { "application/json": { schema: Reopened } } },
    ...problemResponses(400, 401, 403, 404, 409),
  },
});

captionReworkRoutes.openapi(one, async (c) => {
  const { imageId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const image = await getImage(db, imageId);
  if (!image) throw problems.notFound(`image "${imageId}"`);
  await projectFor(db, principal(c), image.projectId, LEADS, "reopen captions");
  const reopened = await reopenStaleCaptions(db, { projectId: image.projectId, imageId: image.id }, Date.now());
  if (reopened.length === 0) {
    const caption = await getFinalCaption(db, image.id);
    if (!caption) throw problems.notFound(`a final caption of image "${imageId}"`);
    throw problems.conflict(caption.stale ? "the caption's rework is already under way" : "the caption is not stale: nothing to rework", { stale: caption.stale });
  }
  return c.json({ reopened: reopened.length, tasks: reopened.map((r) => ({ task_id: r.taskId, image_id: r.imageId })) }, 201);
});

const all = createRoute({
  method: "post",
  path: "/v1/projects/{projectId}/captions/rework",
  tags,
  security,
  summary: "Reopen every stale final caption of a project as round-2 rework (lead)",
  description:
    "One round-2 rework task per stale caption whose rework is not already under way, in one statement however many there are. " +
    "Safe to repeat: a second call reopens only captions that went stale since.",
  request: { params: ProjectIdParam },
  responses: {
    200: { description: "Reopened (possibly none)", content: { "application/json": { schema: Reopened } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

captionReworkRoutes.openapi(all, async (c) => {
  const { projectId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const project = await projectFor(db, principal(c), projectId, LEADS, "reopen captions");
  const reopened = await reopenStaleCaptions(db, { projectId: project.id }, Date.now());
  return c.json({ reopened: reopened.length, tasks: reopened.slice(0, 100).map((r) => ({ task_id: r.taskId, image_id: r.imageId })) }, 200);
});
