import { createRoute, z } from "@hono/zod-openapi";
import { problemResponses } from "../../schema/api/common.ts";
import { BallotIdParam, BallotSchema, Progress, StudyIdParam, VoteCreate, VoteSchema } from "../../schema/api/studies.ts";
import { IdempotencyHeader, LeaseTokenBody } from "../../schema/api/tasks.ts";
import type { ProjectRow, StudyRow } from "../../schema/tables.ts";
import { stableHash } from "../domain/stable-hash.ts";
import { castVote, sidesOf } from "../flows/vote.ts";
import { emptyBodyAsJson, limitBody, principal, requireContentType } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { limitRate } from "../http/rate-limit.ts";
import { router } from "../http/router.ts";
import { BatchLostError } from "../store/group-commit.ts";
import { claimBallot, getBallot, hasBallotFor, releaseBallot, type ClaimedBallot } from "../store/ballots.ts";
import { dbOf, type Db } from "../store/db.ts";
import { getInvite, getVoter, joinStudy } from "../store/voters.ts";
import { signedLink } from "./images.ts";
import { studyForVoter, votingIn } from "./study-guards.ts";

export const ballotRoutes = router();
const tags = ["Voting"];
const security = [{ bearer: [] }];

const next = createRoute({
  method: "post",
  path: "/v1/studies/{studyId}/ballots/next",
  tags,
  security,
  summary: "Claim the next ballot (a lease on one vote), or 204 when there is none for you",
  description:
    "Voters. Like a task claim, one statement: the ballot you already hold if any (a reload gets it back), else a gold pair or swapped " +
    "repeat that is due, else the next pair you have never seen that still needs votes. Nobody gets a pair twice, no pair gets more than " +
    "`k` votes, and a lease that runs out comes back. The two captions come as A and B with no source names.",
  middleware: [limitBody("json"), emptyBodyAsJson(), requireContentType("json")] as const,
  request: { params: StudyIdParam, body: { required: false, content: { "application/json": { schema: z.strictObject({}).openapi("BallotClaim") } } } },
  responses: {
    200: { description: "A ballot", content: { "application/json": { schema: BallotSchema } } },
    204: { description: "No ballot for you now: your quota is reached, you were excluded, or every pair you may see has its votes" },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
  },
});

ballotRoutes.openapi(next, async (c) => {
  const { studyId } = c.req.valid("param");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const { study, project } = await votingIn(db, me, studyId, "vote");
  await limitRate(c, "votes", project, me.subject);
  if (study.status !== "open") throw problems.conflict(`study ${study.id} is ${study.status === "draft" ? "not open yet" : "closed"}`);
  const now = Date.now();
  const values = {
    studyId,
    voter: me.subject,
    token: crypto.randomUUID(),
    now,
    expires: now + study.design.leaseSeconds * 1000,
    quota: study.design.quota ?? -1,
    parity: (stableHash(`${study.seed}:side:${me.subject}`) % 2) as 0 | 1,
  };
  let { claimed, batch } = await claimOrUnavailable(db, values);
  if (!claimed && !(await getVoter(db, studyId, me.subject))) {
    // A voter's first ballot: join, then claim.
    await joinStudy(db, { studyId, voter: me.subject, inviteId: null, participantId: null, joinedAt: now });
    ({ claimed, batch } = await claimOrUnavailable(db, values));
  }
  c.header("Server-Timing", `claim;desc="batch of ${batch}"`);
  if (!claimed) return c.body(null, 204);
  return c.json(await ballotJson(c.env, study, claimed), 200);
});

async function claimOrUnavailable(db: Db, values: Parameters<typeof claimBallot>[1]) {
  try {
    return await claimBallot(db, values);
  } catch (error) {
    // A lost batch may have leased a ballot: the next claim returns the one held.
    if (error instanceof BatchLostError) throw problems.unavailable(`${error.message}; claim again to get the ballot it may have leased`, 1);
    throw error;
  }
}

async function ballotJson(env: Parameters<typeof signedLink>[0], study: StudyRow, claimed: ClaimedBallot) {
  const { ballot, image } = claimed;
  const [img, som] = await Promise.all([signedLink(env, image, "image"), study.design.showMarks ? signedLink(env, image, "som") : null]);
  const text = { [ballot.a]: claimed.textA, [ballot.b]: claimed.textB };
  const sides = sidesOf(ballot);
  return {
    ballot_id: ballot.id,
    study_id: study.id,
    lease_token: ballot.leaseToken!,
    lease_expires_at: new Date(ballot.leaseExpires!).toISOString(),
    question: study.question,
    image: { id: image.id, width: image.width, height: image.height, url: img.url, som_url: som?.url ?? null },
    A: { text: text[sides.A] },
    B: { text: text[sides.B] },
    allow_ties: study.design.allowTies,
    reasons: study.design.reasons,
    progress: { votes: claimed.votesSoFar, quota: study.design.quota },
  };
}

const vote = createRoute({
  method: "post",
  path: "/v1/ballots/{ballotId}/vote",
  tags,
  security,
  summary: "Vote on a ballot you hold: A, B or tie",
  description:
    "The voter who holds the ballot, with its lease token and an Idempotency-Key (a retry returns the first answer and records nothing twice). " +
    "Votes are append-only, one per voter and pair. Reason codes must be the study's.",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: BallotIdParam, headers: IdempotencyHeader, body: { required: true, content: { "application/json": { schema: VoteCreate } } } },
  responses: {
    201: { description: "Recorded", content: { "application/json": { schema: VoteSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 429),
  },
});

ballotRoutes.openapi(vote, async (c) => {
  const { ballotId } = c.req.valid("param");
  const key = c.req.valid("header")["idempotency-key"];
  const input = c.req.valid("json");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  let project: ProjectRow;
  const studyOf = async (studyId: string) => {
    const voting = await votingIn(db, me, studyId, "vote");
    project = voting.project;
    return voting.study;
  };
  // Counted only when the vote is not a replay: a retry of a recorded vote always gets its answer.
  const admit = () => limitRate(c, "votes", project, me.subject);
  const replay = await castVote(db, ballotId, me.subject, key, input, studyOf, ({ vote, voterVotes }, study) => ({
    vote_id: vote.id,
    ballot_id: vote.ballotId,
    choice: vote.choice,
    at: new Date(vote.at).toISOString(),
    progress: { votes: voterVotes, quota: study.design.quota, done: study.design.quota !== null && voterVotes >= study.design.quota, completion_code: null },
  }), admit);
  return c.json(replay.body as z.infer<typeof VoteSchema>, replay.status as 201);
});

const skip = createRoute({
  method: "post",
  path: "/v1/ballots/{ballotId}/release",
  tags,
  security,
  summary: "Hand a ballot back without voting (another voter gets it; you never see that pair again)",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: BallotIdParam, body: { required: true, content: { "application/json": { schema: LeaseTokenBody } } } },
  responses: {
    200: { description: "Released", content: { "application/json": { schema: z.object({ ballot_id: z.string(), status: z.literal("open") }) } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

ballotRoutes.openapi(skip, async (c) => {
  const { ballotId } = c.req.valid("param");
  const { lease_token } = c.req.valid("json");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const ballot = await getBallot(db, ballotId);
  if (!ballot || ballot.leaseOwner !== me.subject) throw problems.notFound(`ballot ${ballotId}`);
  await studyForVoter(db, me, ballot.studyId, "vote");
  const released = await releaseBallot(db, ballotId, me.subject, lease_token, Date.now());
  if (!released) throw problems.conflict(`ballot ${ballotId} is not leased to you with that token (it was voted, released, or its lease expired)`);
  return c.json({ ballot_id: ballotId, status: "open" as const }, 200);
});

const mine = createRoute({
  method: "get",
  path: "/v1/studies/{studyId}/me",
  tags,
  security,
  summary: "Your progress in a study, and the completion code once you are done (invite participants)",
  request: { params: StudyIdParam },
  responses: {
    200: { description: "Progress", content: { "application/json": { schema: Progress.extend({ question: z.string(), status: z.enum(["draft", "open", "closed"]) }) } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

ballotRoutes.openapi(mine, async (c) => {
  const { studyId } = c.req.valid("param");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const study = await studyForVoter(db, me, studyId, "vote");
  const row = await getVoter(db, studyId, me.subject);
  const votes = row?.votes ?? 0;
  const quota = study.design.quota;
  const done = study.status !== "open" || (quota !== null && votes >= quota) || Boolean(row?.excluded) || (row !== undefined && !(await hasBallotFor(db, studyId, me.subject, Date.now())));
  const invite = done && votes > 0 && row?.inviteId ? await getInvite(db, row.inviteId) : undefined;
  return c.json({ votes, quota, done, completion_code: invite?.completionCode ?? null, question: study.question, status: study.status }, 200);
});
