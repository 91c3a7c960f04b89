import { createRoute, z } from "@hono/zod-openapi";
import { problemResponses, ProjectIdParam } from "../../schema/api/common.ts";
import { ClaimRequest, IdempotencyHeader, IdempotencyKey, LeaseSchema, LeaseTokenBody, SubmissionCreate, SubmissionSchema, TaskIdParam } from "../../schema/api/tasks.ts";
import type { TaskRow } from "../../schema/tables.ts";
import { requireRole } from "../auth/access.ts";
import { chooseStart, startTexts } from "../flows/start-text.ts";
import { buildSubmission, submitStatements } from "../flows/submit.ts";
import { consolidateAfterAccept, markConsolidationDue } from "../flows/consolidate.ts";
import { finalCaptionFor } from "../flows/review.ts";
import { finalizeStatements } from "../store/captions.ts";
import { emptyBodyAsJson, limitBody, principal, requireContentType } from "../http/middleware.ts";
import { Problem, problems } from "../http/problem.ts";
import { limitRate } from "../http/rate-limit.ts";
import { router } from "../http/router.ts";
import { dbOf, type Db } from "../store/db.ts";
import { BatchLostError } from "../store/group-commit.ts";
import { replayFor, replayOf, rememberAnswer, requestHash } from "../store/idempotency.ts";
import { isUniqueViolation } from "../store/images.ts";
import { getProjectForClaims } from "../store/projects.ts";
import { getSubmission, submissionOfTask } from "../store/submissions.ts";
import { claimWithImage, commitBatch, getTask, heartbeat, heldWithToken, recordStart, release, submitContext } from "../store/tasks.ts";
import { keyedLeaseToken, leaseSecret } from "../auth/lease-token.ts";
import { PROJECT_MEMBERS, projectFor } from "./guards.ts";
import { leaseJson, submissionJson } from "./shape-tasks.ts";

export const taskRoutes = router();
const tags = ["Tasks"];
const security = [{ bearer: [] }];

const ClaimHeaders = z.object({
  "Server-Timing": z.string().openapi({
    description:
      'How many requests shared this claim\'s D1 batch, e.g. `claim;desc="batch of 7"` (claims and submits arriving together are committed together), ' +
      'beside the D1 statements and calls of the request (`d1;desc="1 statements in 1 calls"`).',
  }),
});

const next = createRoute({
  method: "post",
  path: "/v1/projects/{projectId}/tasks/next",
  tags,
  security,
  summary: "Claim the next task (a lease), or 204 when none is available to you",
  description:
    "Edit tasks go to annotators, review tasks to reviewers (leads and admins may take both). The lease carries the image, its " +
    "set-of-marks render, the regions with their mark numbers and the texts to start from. Nobody gets two tasks of one image in a " +
    "round, nor reviews their own work; expired leases come back to the queue. With an `Idempotency-Key`, a retried claim " +
    "(say, after a lost response) returns the lease the first attempt took instead of taking a second task. The body is optional: " +
    "an empty one claims with the defaults (round 1, kind edit).",
  // The size is checked first because an empty body of unknown length has to be read to be known empty.
  middleware: [limitBody("json"), emptyBodyAsJson(), requireContentType("json")] as const,
  request: {
    params: ProjectIdParam,
    headers: z.object({ "idempotency-key": IdempotencyKey.optional() }),
    body: { required: false, content: { "application/json": { schema: ClaimRequest } } },
  },
  responses: {
    200: { description: "A lease", headers: ClaimHeaders, content: { "application/json": { schema: LeaseSchema } } },
    204: { description: "Nothing available to this person right now", headers: ClaimHeaders },
    ...problemResponses(400, 401, 403, 404, 413, 415, 429, 503),
  },
});

taskRoutes.openapi(next, async (c) => {
  const { projectId } = c.req.valid("param");
  const { round, kind } = c.req.valid("json");
  const key = c.req.valid("header")["idempotency-key"];
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const project = await projectFor(db, me, projectId, PROJECT_MEMBERS, "claim tasks", getProjectForClaims);
  requireRole(me, kind === "edit" ? ["annotator", "lead", "admin"] : ["reviewer", "lead", "admin"], `claim ${kind} tasks`);

  // With a key the lease token is derived from it (keyed with a server secret), so a retry finds the lease its first attempt took.
  const token = key ? await keyedLeaseToken(leaseSecret(c.env), { key, subject: me.subject, projectId, round, kind }) : crypto.randomUUID();
  const claim = {
    projectId,
    round,
    kind,
    subject: me.subject,
    token,
    now: Date.now(),
    leaseMs: project.settings.leaseSeconds * 1000,
    templateStart: project.settings.vlm.provider === "template",
  };
  const held = key ? await heldWithToken(db, me.subject, token) : null;
  // A keyed retry that finds the lease its first attempt took is a replay: never counted.
  if (!held) await limitRate(c, "writes", project, me.subject);
  const { claimed, batch } = held ? { claimed: held, batch: 1 } : await claimOrUnavailable(db, claim);
  // How many claims shared this one's D1 batch (group commit), for clients' and benchmarks' eyes.
  c.header("Server-Timing", `claim;desc="batch of ${batch}"`);
  if (!claimed) return c.body(null, 204);
  const { task, image, segments, draft, regionTexts } = claimed;
  if (task.kind === "review") {
    const submission = (await getSubmission(db, task.submissionId!))!;
    const start = await startTexts(db, image, segments, submission.draftSource as never, submission.draftKey, null);
    return c.json(await leaseJson(c.env, task, image, segments, start, submissionJson(submission, undefined)), 200);
  }
  const start = await chooseStart(c.env, db, image, segments, project, task, draft, regionTexts);
  // Known at claim time (template, rework) means already recorded by the claim itself.
  if (start.source !== task.startSource || start.key !== task.startKey) await recordStart(db, task.id, claim.token, start.key, start.source);
  return c.json(await leaseJson(c.env, task, image, segments, start), 200);
});

/** A batch that never answered may or may not have leased a task: a keyed retry finds out which. */
async function claimOrUnavailable(db: Db, claim: Parameters<typeof claimWithImage>[1]) {
  try {
    return await claimWithImage(db, claim);
  } catch (error) {
    if (error instanceof BatchLostError) throw problems.unavailable(`${error.message}; retry with the same Idempotency-Key to get the lease it may have taken`, 1);
    throw error;
  }
}

const LeaseStatus = z.object({ task_id: z.string(), status: z.string(), lease_expires_at: z.iso.datetime().nullable() }).openapi("LeaseStatus");

const beat = createRoute({
  method: "post",
  path: "/v1/tasks/{taskId}/heartbeat",
  tags,
  security,
  summary: "Extend a live lease by the project's lease duration",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: TaskIdParam, body: { required: true, content: { "application/json": { schema: LeaseTokenBody } } } },
  responses: {
    200: { description: "Extended", content: { "application/json": { schema: LeaseStatus } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

taskRoutes.openapi(beat, async (c) => {
  const { taskId } = c.req.valid("param");
  const { lease_token } = c.req.valid("json");
  const db = dbOf(c.env.DB);
  const { task, project } = await taskFor(db, c, taskId);
  const now = Date.now();
  const subject = principal(c).subject;
  const extended = await heartbeat(db, task.id, subject, lease_token, now, project.settings.leaseSeconds * 1000);
  // Read again: what refused the update may have happened after the read above.
  if (!extended) throw leaseProblem((await getTask(db, task.id)) ?? task, subject, lease_token, now);
  return c.json({ task_id: task.id, status: extended.status, lease_expires_at: new Date(extended.leaseExpires!).toISOString() }, 200);
});

const giveBack = createRoute({
  method: "post",
  path: "/v1/tasks/{taskId}/release",
  tags,
  security,
  summary: "Hand a leased task back to the queue (for someone else)",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: TaskIdParam, body: { required: true, content: { "application/json": { schema: LeaseTokenBody } } } },
  responses: {
    200: { description: "Released", content: { "application/json": { schema: LeaseStatus } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

taskRoutes.openapi(giveBack, async (c) => {
  const { taskId } = c.req.valid("param");
  const { lease_token } = c.req.valid("json");
  const db = dbOf(c.env.DB);
  const { task } = await taskFor(db, c, taskId);
  const subject = principal(c).subject;
  const released = await release(db, task.id, subject, lease_token, Date.now());
  if (!released) throw leaseProblem((await getTask(db, task.id)) ?? task, subject, lease_token, Date.now());
  return c.json({ task_id: task.id, status: released.status, lease_expires_at: null }, 200);
});

const submit = createRoute({
  method: "post",
  path: "/v1/tasks/{taskId}/submissions",
  tags,
  security,
  summary: "Submit a leased task: round 1, one entry per segment; round 2, one grounded caption",
  description:
    "Round 1: each region is `accepted` (the start text unchanged), `edited`, `rewritten`, or `skipped` with a reason. Round 2: the " +
    "caption in canonical form (`caption`) or inline (`inline`: segment ids as `<3,5:two dogs>`, or mark numbers as `<#3,#5:two dogs>`); " +
    "every grounding must point at a segment of the image, coverage is " +
    "computed, and the project's rule on ungrounded things applies. The server stores the submission whole with what it started " +
    "from and computes the edit effort and time. Needs the live lease and an `Idempotency-Key`; a retry returns the first answer.",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: {
    params: TaskIdParam,
    headers: IdempotencyHeader,
    body: { required: true, content: { "application/json": { schema: SubmissionCreate } } },
  },
  responses: {
    201: { description: "Recorded", content: { "application/json": { schema: SubmissionSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
  },
});

taskRoutes.openapi(submit, async (c) => {
  const { taskId } = c.req.valid("param");
  const key = c.req.valid("header")["idempotency-key"];
  const body = c.req.valid("json");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  // One statement reads the task, its image, segments and start draft, and an earlier answer under this key.
  const context = await unlessLost(submitContext(db, taskId, me.subject, key));
  if (!context) throw problems.notFound(`task "${taskId}"`);
  const { task, image, segments, draft } = context;
  const project = await projectFor(db, me, task.projectId, PROJECT_MEMBERS, "work on tasks", getProjectForClaims);

  const route = `submit:${task.id}`;
  const hash = await requestHash(route, body);
  const replay = replayOf(context.answer, key, route, hash);
  if (replay) return c.json(replay.body as never, replay.status as 201);
  await limitRate(c, "writes", project, me.subject);

  const now = Date.now();
  if (task.status !== "leased") {
    const existing = await submissionOfTask(db, task.id);
    if (existing) throw problems.conflict(`this task was already submitted (${existing.id})`, { submission_id: existing.id });
  }
  if (task.status !== "leased" || task.leaseToken !== body.lease_token || task.leaseOwner !== me.subject || (task.leaseExpires ?? 0) < now) {
    throw leaseProblem(task, me.subject, body.lease_token, now);
  }
  if (task.kind !== "edit") throw problems.conflict("review tasks are answered with POST /v1/submissions/{submissionId}/reviews");

  const row = await buildSubmission(db, { image, segments, draft }, project, task, me.subject, body, now);
  const answer = submissionJson(row, undefined);
  // Without review an accepted round-2 caption is final at once, in the same batch.
  const finalize = !project.settings.review.required && task.round === 2 ? finalizeStatements(db, await finalCaptionFor(db, image, row, now)) : [];
  // Accepted as it arrives, a round-1 submission may complete its image: the same batch says so.
  const due = !project.settings.review.required && task.round === 1 ? [markConsolidationDue(db, image.id, me.subject, now)] : [];
  try {
    // One batch, shared with the submits (and claims) that arrive together (group commit), still atomic on its own.
    await commitBatch(db, [...submitStatements(db, project, task, row, now), ...finalize, ...due, rememberAnswer(db, me.subject, key, route, hash, 201, answer, now)]);
  } catch (err) {
    // Applied or not, a retry with the same key answers right: the answer is remembered in the same batch.
    if (err instanceof BatchLostError) throw problems.unavailable(`${err.message}; retry with the same Idempotency-Key`, 1);
    if (String(err).includes("lease_not_held")) throw leaseProblem((await getTask(db, task.id)) ?? task, me.subject, body.lease_token, Date.now());
    if (isUniqueViolation(err)) {
      const again = await replayFor(db, me.subject, key, route, hash);
      if (again) return c.json(again.body as never, again.status as 201);
      throw problems.conflict("this task was already submitted");
    }
    throw err;
  }
  if (due.length) await consolidateAfterAccept(db, c.env.DRAFT_QUEUE, image, project, me.subject);
  c.header("Location", `/v1/submissions/${row.id}`);
  return c.json(answer, 201);
});

/** A read whose batch never answered changed nothing: the caller may simply retry. */
async function unlessLost<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof BatchLostError) throw problems.unavailable(`${error.message}; retry`, 1);
    throw error;
  }
}

async function taskFor(db: Db, c: Parameters<typeof principal>[0], taskId: string) {
  const task = await getTask(db, taskId);
  if (!task) throw problems.notFound(`task "${taskId}"`);
  const project = await projectFor(db, principal(c), task.projectId, PROJECT_MEMBERS, "work on tasks");
  return { task, project };
}

/**
 * Why a lease-bound call by `subject` was refused, as the task's state tells it: a caller who
 * holds the lease but sent another token has a bug to fix, not a lease to mourn. `reason` lets a
 * front end tell the cases apart without reading prose.
 */
function leaseProblem(task: TaskRow, subject: string, token: string, now: number): Problem {
  const refuse = (reason: string, detail: string) => new Problem(409, "lease-not-held", "Lease not held", detail, { task_id: task.id, task_status: task.status, reason });
  if (task.status !== "leased") return refuse("not-leased", `the task is not leased (it is ${task.status}); claim a new task`);
  if (task.leaseOwner !== subject) return refuse("leased-by-someone-else", "the task is leased by someone else");
  if (task.leaseToken !== token) return refuse("token-mismatch", "you hold this lease, but lease_token does not match it: send the lease_token your claim returned");
  if ((task.leaseExpires ?? 0) < now) return refuse("expired", "your lease has expired; claim a new task");
  return refuse("changed", "the lease changed while this request ran; try again");
}
