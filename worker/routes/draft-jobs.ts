import { createRoute } from "@hono/zod-openapi";
import { problemResponses, ProjectIdParam } from "../../schema/api/common.ts";
import { DraftJobCreate, DraftJobParams, DraftJobSchema } from "../../schema/api/drafts.ts";
import type { DraftJobRow } from "../../schema/tables.ts";
import { ulid } from "../domain/ids.ts";
import { limitBody, principal, requireContentType } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { router } from "../http/router.ts";
import { dbOf } from "../store/db.ts";
import { getJob, insertJob } from "../store/drafts.ts";
import { LEADS, projectFor } from "./guards.ts";

export const draftJobRoutes = router();
const tags = ["Drafts"];
const security = [{ bearer: [] }];

const create = createRoute({
  method: "post",
  path: "/v1/projects/{projectId}/draft-jobs",
  tags,
  security,
  summary: "Pre-generate drafts for every image that lacks a current one",
  description:
    "Lead or admin. Work goes through a queue: bounded concurrency, retries with exponential backoff that honours `Retry-After` " +
    "on 429/5xx/timeouts, and a dead-letter queue after the last attempt. Poll the job for progress.",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: ProjectIdParam, body: { required: true, content: { "application/json": { schema: DraftJobCreate } } } },
  responses: {
    202: { description: "Accepted; planning has started", content: { "application/json": { schema: DraftJobSchema } } },
    ...problemResponses(400, 401, 403, 404, 413, 415),
  },
});

draftJobRoutes.openapi(create, async (c) => {
  const { projectId } = c.req.valid("param");
  const { round } = c.req.valid("json");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  await projectFor(db, me, projectId, LEADS, "start draft jobs");

  const now = Date.now();
  const job: DraftJobRow = {
    id: `job_${ulid()}`,
    projectId,
    round,
    status: "planning",
    queued: 0,
    skipped: 0,
    done: 0,
    failed: 0,
    tokensIn: 0,
    tokensOut: 0,
    createdBy: me.subject,
    createdAt: now,
    updatedAt: now,
  };
  await insertJob(db, job);
  await c.env.DRAFT_QUEUE.send({ kind: "plan", jobId: job.id, projectId, round, after: null });
  c.header("Location", `/v1/projects/${projectId}/draft-jobs/${job.id}`);
  return c.json(jobJson(job), 202);
});

const get = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/draft-jobs/{jobId}",
  tags,
  security,
  summary: "Progress of a draft job",
  request: { params: DraftJobParams },
  responses: {
    200: { description: "The job", content: { "application/json": { schema: DraftJobSchema } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

draftJobRoutes.openapi(get, async (c) => {
  const { projectId, jobId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, LEADS, "read draft jobs");
  const job = await getJob(db, jobId);
  if (!job || job.projectId !== projectId) throw problems.notFound(`draft job "${jobId}"`);
  return c.json(jobJson(job), 200);
});

function jobJson(j: DraftJobRow) {
  // "done" is derived: planning is over and every queued draft has an outcome.
  const status = j.status === "running" && j.done + j.failed >= j.queued ? ("done" as const) : j.status;
  return {
    id: j.id,
    project_id: j.projectId,
    round: j.round,
    status,
    queued: j.queued,
    skipped: j.skipped,
    done: j.done,
    failed: j.failed,
    tokens_in: j.tokensIn,
    tokens_out: j.tokensOut,
    created_at: new Date(j.createdAt).toISOString(),
    updated_at: new Date(j.updatedAt).toISOString(),
  };
}
