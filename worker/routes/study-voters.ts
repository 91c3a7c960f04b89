import { createRoute, z } from "@hono/zod-openapi";
import { PageQuery, pageOf, problemResponses } from "../../schema/api/common.ts";
import { ExclusionCreate, InviteCreate, InviteSchema, ParticipantCreate, ParticipantToken, StudyIdParam, VoterSchema } from "../../schema/api/studies.ts";
import type { StudyInviteRow, StudyVoterRow } from "../../schema/tables.ts";
import { mintToken } from "../auth/token.ts";
import { decodeCursor, encodeCursor, ulid } from "../domain/ids.ts";
import { limitBody, principal, requireContentType } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { clientAddress, limitRate } from "../http/rate-limit.ts";
import { router } from "../http/router.ts";
import { dbOf } from "../store/db.ts";
import { getProjectForClaims } from "../store/projects.ts";
import { getStudy } from "../store/studies.ts";
import { admitParticipant, getInvite, getVoter, insertInvite, listInvites, listVoters, setExcluded } from "../store/voters.ts";
import { studyForLead } from "./study-guards.ts";

export const studyVoterRoutes = router();
const tags = ["Study voters"];
const security = [{ bearer: [] }];
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** How long a participant's voting token lasts: a session, not an account. */
const PARTICIPANT_TOKEN_SECONDS = 6 * 3600;

function inviteJson(i: StudyInviteRow) {
  return {
    id: i.id,
    study_id: i.studyId,
    label: i.label,
    participant_param: i.participantParam,
    completion_code: i.completionCode,
    max_participants: i.maxParticipants,
    participants: i.participants,
    expires_at: iso(i.expiresAt),
    link: `/studies/${i.studyId}/vote?invite=${i.id}&pid_param=${i.participantParam}`,
  };
}

function voterJson(v: StudyVoterRow) {
  return {
    voter: v.voter,
    invite_id: v.inviteId,
    participant_id: v.participantId,
    votes: v.votes,
    excluded: v.excluded,
    excluded_reason: v.excludedReason,
    joined_at: iso(v.joinedAt)!,
    last_vote_at: iso(v.lastVoteAt),
  };
}

const createInvite = createRoute({
  method: "post",
  path: "/v1/studies/{studyId}/invites",
  tags,
  security,
  summary: "Make an invite link for crowd participants (Prolific, MTurk…)",
  description:
    "Lead or admin. The link opens the voting page; the platform appends the participant's id under `participant_param`. Each participant " +
    "votes under their own identity (`participant:<invite>:<id>`), sees only their own ballots, and is shown the completion code when done.",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: StudyIdParam, body: { required: true, content: { "application/json": { schema: InviteCreate } } } },
  responses: {
    201: { description: "The invite", content: { "application/json": { schema: InviteSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

studyVoterRoutes.openapi(createInvite, async (c) => {
  const { studyId } = c.req.valid("param");
  const body = c.req.valid("json");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const { study } = await studyForLead(db, me, studyId, "invite participants");
  if (study.status === "closed") throw problems.conflict(`study ${study.id} is closed`);
  const now = Date.now();
  const row: StudyInviteRow = {
    id: `inv_${ulid(now)}`,
    studyId: study.id,
    label: body.label,
    participantParam: body.participant_param,
    completionCode: body.completion_code ?? randomCode(),
    maxParticipants: body.max_participants,
    participants: 0,
    expiresAt: body.expires_in_days === null ? null : now + body.expires_in_days * 86_400_000,
    revokedAt: null,
    createdBy: me.subject,
    createdAt: now,
  };
  await insertInvite(db, row);
  return c.json(inviteJson(row), 201);
});

function randomCode(): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  return [...crypto.getRandomValues(new Uint8Array(8))].map((b) => alphabet[b % alphabet.length]).join("");
}

const invites = createRoute({
  method: "get",
  path: "/v1/studies/{studyId}/invites",
  tags,
  security,
  summary: "A study's invite links",
  request: { params: StudyIdParam },
  responses: {
    200: { description: "Invites", content: { "application/json": { schema: z.object({ items: z.array(InviteSchema) }) } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

studyVoterRoutes.openapi(invites, async (c) => {
  const { studyId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  await studyForLead(db, principal(c), studyId, "read invites");
  return c.json({ items: (await listInvites(db, studyId)).map(inviteJson) }, 200);
});

const participate = createRoute({
  method: "post",
  path: "/v1/studies/{studyId}/participants",
  tags,
  summary: "Come in through an invite: exchange the invite and your participant id for a voting token (no token needed)",
  description:
    "Public: the voting page calls it with the invite id from its link and the participant id the platform appended. The same participant " +
    "coming back gets a token for the same identity, so their progress and completion code carry over.",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: StudyIdParam, body: { required: true, content: { "application/json": { schema: ParticipantCreate } } } },
  responses: {
    201: { description: "A voting token for this study only", content: { "application/json": { schema: ParticipantToken } } },
    ...problemResponses(400, 401, 404, 409, 413, 415, 429, 503),
  },
});

studyVoterRoutes.openapi(participate, async (c) => {
  const { studyId } = c.req.valid("param");
  const { invite: inviteId, participant_id } = c.req.valid("json");
  const db = dbOf(c.env.DB);
  const invite = await getInvite(db, inviteId);
  // An invite of another study, a revoked or an expired one: all the same to the caller.
  const now = Date.now();
  if (!invite || invite.studyId !== studyId || invite.revokedAt !== null || (invite.expiresAt !== null && invite.expiresAt < now)) throw problems.notFound(`invite ${inviteId}`);
  const study = await getStudy(db, studyId);
  if (!study || study.status === "closed") throw problems.conflict(`study ${studyId} is closed`);
  const project = await getProjectForClaims(db, study.projectId);
  // A study always has its project (a foreign key), so the read finds it.
  await limitRate(c, "joins", project!, `${clientAddress(c)}:${studyId}`);
  if (!c.env.JWT_SECRET) throw problems.unavailable("this deployment has no JWT_SECRET, so it cannot issue participant tokens", 3600);
  const voter = `participant:${invite.id}:${participant_id}`;
  const outcome = await admitParticipant(db, invite, voter, participant_id, now);
  if (outcome === "full") throw problems.conflict(`invite ${invite.id} has admitted its ${invite.maxParticipants} participants`);
  const token = await mintToken({
    secret: c.env.JWT_SECRET,
    subject: voter,
    role: "voter",
    projects: [],
    studies: [studyId],
    issuer: c.env.JWT_ISSUER,
    audience: c.env.JWT_AUDIENCE,
    ttlSeconds: PARTICIPANT_TOKEN_SECONDS,
  });
  return c.json({ token, voter, expires_at: new Date(now + PARTICIPANT_TOKEN_SECONDS * 1000).toISOString(), returning: outcome === "returning" }, 201);
});

const voters = createRoute({
  method: "get",
  path: "/v1/studies/{studyId}/voters",
  tags,
  security,
  summary: "A study's voters: votes cast, exclusion",
  description: "Lead or admin. Quality figures per voter (gold accuracy, flip rate, times, flags) are in the results' `voters` table.",
  request: { params: StudyIdParam, query: PageQuery },
  responses: {
    200: { description: "A page of voters", content: { "application/json": { schema: pageOf(VoterSchema, "StudyVoterPage") } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

studyVoterRoutes.openapi(voters, async (c) => {
  const { studyId } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  const db = dbOf(c.env.DB);
  await studyForLead(db, principal(c), studyId, "read voters");
  const after = cursor ? decodeCursor(cursor) : null;
  const rows = await listVoters(db, studyId, after, limit + 1);
  const page = rows.slice(0, limit);
  return c.json({ items: page.map(voterJson), next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1].voter) : null }, 200);
});

const exclude = createRoute({
  method: "post",
  path: "/v1/studies/{studyId}/exclusions",
  tags,
  security,
  summary: "Exclude a voter from the results (or include them again), with a reason",
  description:
    "Lead or admin. The voter's votes are kept; results leave them out unless asked for all voters; the exclusion is recorded, append-only. " +
    "An excluded voter gets no more ballots.",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: StudyIdParam, body: { required: true, content: { "application/json": { schema: ExclusionCreate } } } },
  responses: {
    200: { description: "The voter, as now", content: { "application/json": { schema: VoterSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

studyVoterRoutes.openapi(exclude, async (c) => {
  const { studyId } = c.req.valid("param");
  const body = c.req.valid("json");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  await studyForLead(db, me, studyId, "exclude voters");
  const current = await getVoter(db, studyId, body.voter);
  if (!current) throw problems.notFound(`voter "${body.voter}" in study ${studyId}`);
  const wanted = body.action === "exclude";
  if (current.excluded === wanted) throw problems.conflict(`voter "${body.voter}" is already ${wanted ? "excluded" : "included"}`);
  const changed = await setExcluded(db, studyId, body.voter, wanted, body.reason, me.subject, Date.now());
  if (!changed) throw problems.conflict(`voter "${body.voter}" changed meanwhile; read it again`);
  return c.json(voterJson(changed), 200);
});
