import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, tokenFor } from "../support/api.ts";
import { seedFinalCaptions } from "../support/final-captions.ts";

/**
 * Crowd participants: an invite link carries their platform id, the page trades it for a token
 * good for that study only, each sees only their own ballots, and the completion code comes at
 * the end. Voters, whatever their token says, see nothing of the project itself.
 */
const PROJECT = "study-crowd";
const IMAGES = 3;
let studyId = "";
let inviteId = "";
const lead = () => tokenFor("lead", [PROJECT], "crowd-lead");

beforeAll(async () => {
  await createProject(await lead(), { id: PROJECT });
  // A 20-character prefix: with the 6-digit number the ids have the shape image ids have.
  await seedFinalCaptions(PROJECT, IMAGES, { prefix: "crowdcrowdcrowdcrowd" });
  const lines = Array.from({ length: IMAGES }, (_, i) => JSON.stringify({ external_id: `crowdcrowdcrowdcrowd-${i}`, text: `Other caption ${i}.` }));
  expect((await call("PUT", `/v1/projects/${PROJECT}/caption-sets/other`, { token: await lead(), body: lines.join("\n"), headers: { "content-type": "application/x-ndjson" } })).status).toBe(200);
  const study = await call("POST", `/v1/projects/${PROJECT}/studies`, {
    token: await lead(),
    json: { name: "crowd", question: "Which is better?", design: { sources: ["final", "import:other"], votesPerPair: 2, quota: 2, gold: { share: 0 }, seed: 5 } },
  });
  studyId = study.data.id;
  expect((await call("POST", `/v1/studies/${studyId}/open`, { token: await lead() })).status).toBe(200);
  const invite = await call("POST", `/v1/studies/${studyId}/invites`, { token: await lead(), json: { label: "Prolific", completion_code: "DONE2026", max_participants: 2 } });
  expect(invite.status, JSON.stringify(invite.data)).toBe(201);
  inviteId = invite.data.id;
  expect(invite.data.link).toBe(`/studies/${studyId}/vote?invite=${inviteId}&pid_param=PROLIFIC_PID`);
});

const join = (participant: string, invite = inviteId) => call("POST", `/v1/studies/${studyId}/participants`, { json: { invite, participant_id: participant } });

describe("invite links", () => {
  it("trade an invite and a participant id for a token good for that study only", async () => {
    const r = await join("p-1");
    expect(r.status, JSON.stringify(r.data)).toBe(201);
    expect(r.data).toMatchObject({ voter: `participant:${inviteId}:p-1`, returning: false });
    const token = r.data.token;
    expect((await call("GET", `/v1/projects/${PROJECT}`, { token })).status).toBe(403);
    expect((await call("GET", `/v1/studies/${studyId}/results`, { token })).status).toBe(403);
    const again = await join("p-1");
    expect(again.data.returning).toBe(true);
    const row = await env.DB.prepare("SELECT invite_id, participant_id FROM study_voters WHERE voter = ?").bind(`participant:${inviteId}:p-1`).first();
    expect(row).toEqual({ invite_id: inviteId, participant_id: "p-1" });
  });

  it("refuse unknown invites, bad participant ids and participants beyond the invite's limit", async () => {
    expect((await join("p-2", "inv_0000000000000000000000000z")).status).toBe(404);
    const bad = await join("p 2!");
    expect(bad.status).toBe(400);
    expect(bad.data.errors[0].path).toBe("body.participant_id");
    expect((await join("p-2")).status).toBe(201);
    const full = await join("p-3");
    expect(full.status).toBe(409);
    const invite = await env.DB.prepare("SELECT participants FROM study_invites WHERE id = ?").bind(inviteId).first<{ participants: number }>();
    expect(invite!.participants).toBe(2);
  });

  it("give each participant only their own ballots, and the completion code once done", async () => {
    const one = (await join("p-1")).data.token;
    const two = (await join("p-2")).data.token;
    const mine = await call("POST", `/v1/studies/${studyId}/ballots/next`, { token: one });
    expect(mine.status).toBe(200);
    const theirs = await call("POST", `/v1/ballots/${mine.data.ballot_id}/vote`, { token: two, json: { lease_token: mine.data.lease_token, choice: "A" }, headers: { "idempotency-key": "x" } });
    expect(theirs.status).toBe(404);
    expect((await call("POST", `/v1/ballots/${mine.data.ballot_id}/release`, { token: two, json: { lease_token: mine.data.lease_token } })).status).toBe(404);
    let before = await call("GET", `/v1/studies/${studyId}/me`, { token: one });
    expect(before.data).toMatchObject({ votes: 0, quota: 2, done: false, completion_code: null });
    let ballot = mine.data;
    for (let n = 0; n < 2; n++) {
      const v = await call("POST", `/v1/ballots/${ballot.ballot_id}/vote`, { token: one, json: { lease_token: ballot.lease_token, choice: "B" }, headers: { "idempotency-key": ballot.ballot_id } });
      expect(v.status).toBe(201);
      expect(v.data.progress).toMatchObject({ votes: n + 1, quota: 2, done: n === 1 });
      if (n === 0) ballot = (await call("POST", `/v1/studies/${studyId}/ballots/next`, { token: one })).data;
    }
    expect((await call("POST", `/v1/studies/${studyId}/ballots/next`, { token: one })).status).toBe(204);
    before = await call("GET", `/v1/studies/${studyId}/me`, { token: one });
    expect(before.data).toMatchObject({ votes: 2, quota: 2, done: true, completion_code: "DONE2026" });
    // p-2 has not voted: no code yet.
    expect((await call("GET", `/v1/studies/${studyId}/me`, { token: two })).data.completion_code).toBeNull();
  });
});

describe("voters see nothing but their ballots", () => {
  it("a voter token listing the project still cannot read its images, captions or drafts", async () => {
    const voter = await tokenFor("voter", [PROJECT], "peeking-voter");
    const image = await env.DB.prepare("SELECT id FROM images WHERE project_id = ? LIMIT 1").bind(PROJECT).first<{ id: string }>();
    for (const path of [`/v1/projects/${PROJECT}`, `/v1/projects/${PROJECT}/images`, `/v1/images/${image!.id}`, `/v1/images/${image!.id}/caption`, `/v1/projects/${PROJECT}/captions`, `/v1/images/${image!.id}/drafts/1`]) {
      const r = await call("GET", path, { token: voter });
      expect(r.status, path).toBe(403);
      expect(r.res.headers.get("content-type"), path).toContain("application/problem+json");
    }
  });
});

describe("changing a study", () => {
  it("a draft's design changes under If-Match; an open study keeps its question and design", async () => {
    const made = await call("POST", `/v1/projects/${PROJECT}/studies`, {
      token: await lead(),
      json: { name: "draft", question: "Which?", design: { sources: ["final", "import:other"], seed: 8 } },
    });
    const id = made.data.id;
    const stale = await call("PATCH", `/v1/studies/${id}`, { token: await lead(), json: { question: "Which one?" }, headers: { "if-match": '"7"' } });
    expect(stale.status).toBe(412);
    expect(stale.data.current_version).toBe(1);
    const bad = await call("PATCH", `/v1/studies/${id}`, { token: await lead(), json: { design: { sources: ["final"] } } });
    expect(bad.status).toBe(400);
    expect(bad.data.errors[0].path).toBe("body.design.sources");
    const ok = await call("PATCH", `/v1/studies/${id}`, { token: await lead(), json: { question: "Which one is better?", design: { sources: ["import:other", "final"], votesPerPair: 1 } }, headers: { "if-match": '"1"' } });
    expect(ok.status, JSON.stringify(ok.data)).toBe(200);
    expect(ok.data).toMatchObject({ version: 2, question: "Which one is better?", seed: 8 });
    expect(ok.data.design.sources).toEqual(["import:other", "final"]);
    expect((await call("POST", `/v1/studies/${id}/open`, { token: await lead() })).status).toBe(200);
    const frozen = await call("PATCH", `/v1/studies/${id}`, { token: await lead(), json: { question: "Changed?" } });
    expect(frozen.status).toBe(409);
    const renamed = await call("PATCH", `/v1/studies/${id}`, { token: await lead(), json: { name: "renamed" } });
    expect(renamed.status).toBe(200);
    expect(renamed.data).toMatchObject({ name: "renamed", question: "Which one is better?", status: "open" });
  });
});
