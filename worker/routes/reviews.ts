import { createRoute } from "@hono/zod-openapi";
import { problemResponses } from "../../schema/api/common.ts";
import { IdempotencyHeader, ReviewCreate, ReviewSchema, SubmissionIdParam, SubmissionSchema } from "../../schema/api/tasks.ts";
import { requireRole } from "../auth/access.ts";
import { consolidateAfterAccept, markConsolidationDue } from "../flows/consolidate.ts";
import { finalCaptionFor, newReview, reviewStatements } from "../flows/review.ts";
import { finalizeStatements } from "../store/captions.ts";
import { limitBody, principal, requireContentType } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { limitRate } from "../http/rate-limit.ts";
import { router } from "../http/router.ts";
import { dbOf } from "../store/db.ts";
import { replayFor, rememberAnswer, requestHash } from "../store/idempotency.ts";
import { getImage, isUniqueViolation } from "../store/images.ts";
import { getSubmission, reviewOf } from "../store/submissions.ts";
import { PROJECT_MEMBERS, projectFor } from "./guards.ts";
import { reviewJson, submissionJson } from "./shape-tasks.ts";

export const reviewRoutes = router();
const tags = ["Reviews"];
const security = [{ bearer: [] }];
const REVIEWERS = ["reviewer", "lead", "admin"] as const;

const create = createRoute({
  method: "post",
  path: "/v1/submissions/{submissionId}/reviews",
  tags,
  security,
  summary: "Accept or reject a submission",
  description:
    "Reviewer, lead or admin; not the submission's author. A rejection needs a reason and reopens the work for a different annotator, " +
    "starting from the rejected text with the reason shown. When every slot of an image's round 1 is accepted, its region texts are " +
    "consolidated and its round-2 tasks created. Needs an `Idempotency-Key`; one review per submission.",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: SubmissionIdParam, headers: IdempotencyHeader, body: { required: true, content: { "application/json": { schema: ReviewCreate } } } },
  responses: {
    201: { description: "Recorded", content: { "application/json": { schema: ReviewSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 429),
  },
});

reviewRoutes.openapi(create, async (c) => {
  const { submissionId } = c.req.valid("param");
  const key = c.req.valid("header")["idempotency-key"];
  const body = c.req.valid("json");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const submission = await getSubmission(db, submissionId);
  if (!submission) throw problems.notFound(`submission "${submissionId}"`);
  const project = await projectFor(db, me, submission.projectId, REVIEWERS, "review submissions");
  if (submission.subject === me.subject) throw problems.forbidden("nobody reviews their own submission");

  const route = `review:${submission.id}`;
  const hash = await requestHash(route, body);
  const replay = await replayFor(db, me.subject, key, route, hash);
  if (replay) return c.json(replay.body as never, replay.status as 201);
  await limitRate(c, "writes", project, me.subject);
  const earlier = await reviewOf(db, submission.id);
  if (earlier) throw problems.conflict(`submission ${submission.id} was already reviewed (${earlier.decision})`, { review_id: earlier.id });

  const now = Date.now();
  const image = (await getImage(db, submission.imageId))!;
  const review = newReview(submission, me.subject, body.decision, body.reason ?? null, null, now);
  const answer = reviewJson(review);
  // An accepted round-2 caption becomes final in the same batch as the review that accepts it.
  const finalize = review.decision === "accept" && submission.round === 2 ? finalizeStatements(db, await finalCaptionFor(db, image, submission, now)) : [];
  // An accepted round-1 submission may complete its image: the batch that accepts it says so.
  const due = review.decision === "accept" && submission.round === 1 ? [markConsolidationDue(db, image.id, me.subject, now)] : [];
  try {
    await db.batch([...reviewStatements(db, submission, review, now), ...finalize, ...due, rememberAnswer(db, me.subject, key, route, hash, 201, answer, now)]);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const again = await replayFor(db, me.subject, key, route, hash);
    if (again) return c.json(again.body as never, again.status as 201);
    throw problems.conflict(`submission ${submission.id} was already reviewed`);
  }
  if (due.length) await consolidateAfterAccept(db, c.env.DRAFT_QUEUE, image, project, me.subject);
  c.header("Location", `/v1/submissions/${submission.id}`);
  return c.json(answer, 201);
});

const get = createRoute({
  method: "get",
  path: "/v1/submissions/{submissionId}",
  tags,
  security,
  summary: "A submission with its texts, the draft it started from, its effort and its status",
  description: "Annotators see only their own submissions; reviewers, leads and admins see every submission of their projects.",
  request: { params: SubmissionIdParam },
  responses: {
    200: { description: "The submission", content: { "application/json": { schema: SubmissionSchema } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

reviewRoutes.openapi(get, async (c) => {
  const { submissionId } = c.req.valid("param");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const submission = await getSubmission(db, submissionId);
  if (!submission) throw problems.notFound(`submission "${submissionId}"`);
  await projectFor(db, me, submission.projectId, PROJECT_MEMBERS, "read submissions");
  if (submission.subject !== me.subject) requireRole(me, REVIEWERS, "read other people's submissions");
  return c.json(submissionJson(submission, await reviewOf(db, submission.id)), 200);
});
