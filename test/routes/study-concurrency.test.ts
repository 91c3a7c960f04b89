import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, d1Cost, tokenFor } from "../support/api.ts";
import { seedFinalCaptions } from "../support/final-captions.ts";
import { stableHash } from "../../worker/domain/stable-hash.ts";

/**
 * Many voters at once on one study: every claim and vote races the others. Afterwards no pair has
 * more than k votes, no voter has two votes on a pair, and every pair has exactly k.
 */
const PROJECT = "study-race";
const IMAGES = 20;
const K = 3;
const VOTERS = 10;
let studyId = "";
const lead = () => tokenFor("lead", [PROJECT], "race-lead");

beforeAll(async () => {
  await createProject(await lead(), { id: PROJECT });
  await seedFinalCaptions(PROJECT, IMAGES, { prefix: "race" });
  const lines = Array.from({ length: IMAGES }, (_, i) => JSON.stringify({ external_id: `race-${i}`, text: `Another caption of scene ${i}.` }));
  const up = await call("PUT", `/v1/projects/${PROJECT}/caption-sets/other`, { token: await lead(), body: lines.join("\n"), headers: { "content-type": "application/x-ndjson" } });
  expect(up.status, JSON.stringify(up.data)).toBe(200);
  const study = await call("POST", `/v1/projects/${PROJECT}/studies`, {
    token: await lead(),
    json: { name: "race", question: "Which is better?", design: { sources: ["final", "import:other"], votesPerPair: K, gold: { share: 0 }, seed: 99 } },
  });
  expect(study.status, JSON.stringify(study.data)).toBe(201);
  studyId = study.data.id;
  const open = await call("POST", `/v1/studies/${studyId}/open`, { token: await lead() });
  expect(open.status, JSON.stringify(open.data)).toBe(200);
});

async function voter(name: string): Promise<{ votes: number; claimCosts: number[] }> {
  const token = await tokenFor("voter", [PROJECT], name);
  const claimCosts: number[] = [];
  let votes = 0;
  for (let n = 0; n < 100; n++) {
    // Two claims at once from one voter: both get the same ballot (the one held), never two.
    const [a, b] = await Promise.all([0, 1].map(() => call("POST", `/v1/studies/${studyId}/ballots/next`, { token })));
    if (a.status === 204 || b.status === 204) {
      expect([a.status, b.status]).toEqual([204, 204]);
      return { votes, claimCosts };
    }
    expect(a.data.ballot_id).toBe(b.data.ballot_id);
    if (n > 0) claimCosts.push(d1Cost(a.res).statements, d1Cost(b.res).statements);
    const choice = n % 3 === 0 ? "tie" : n % 3 === 1 ? "A" : "B";
    const r = await call("POST", `/v1/ballots/${a.data.ballot_id}/vote`, { token, json: { lease_token: a.data.lease_token, choice }, headers: { "idempotency-key": a.data.ballot_id } });
    expect(r.status, JSON.stringify(r.data)).toBe(201);
    votes++;
  }
  throw new Error(`${name} never ran out of ballots`);
}

describe("voters racing on one study", () => {
  it("never puts more than k votes on a pair nor a voter twice on one, and fills every pair", async () => {
    const outcomes = await Promise.all(Array.from({ length: VOTERS }, (_, i) => voter(`racer-${i}`)));
    expect(outcomes.reduce((t, o) => t + o.votes, 0)).toBe(IMAGES * K);
    // A claim is one statement (the study and project come from the isolate's short cache).
    expect(Math.max(...outcomes.flatMap((o) => o.claimCosts))).toBe(1);

    const perPair = await env.DB.prepare(
      "SELECT pair_id, COUNT(*) AS n, COUNT(DISTINCT voter) AS voters FROM votes WHERE study_id = ? GROUP BY pair_id",
    )
      .bind(studyId)
      .all<{ n: number; voters: number }>();
    expect(perPair.results.length).toBe(IMAGES);
    expect(perPair.results.every((r) => r.n === K && r.voters === K)).toBe(true);
    const ballots = await env.DB.prepare("SELECT status, COUNT(*) AS n FROM ballots WHERE study_id = ? GROUP BY status").bind(studyId).all();
    expect(ballots.results).toEqual([{ status: "voted", n: IMAGES * K }]);
    const study = await call("GET", `/v1/studies/${studyId}`, { token: await lead() });
    expect(study.data).toMatchObject({ pairs: IMAGES, votes: IMAGES * K, votes_needed: IMAGES * K });
    // Sides: each voter's n-th ballot shows the first source on the right when n + its parity is odd,
    // the parity drawn per voter, so first ballots are not all alike across a crowd.
    const firsts = await env.DB.prepare(
      "SELECT lease_owner AS voter, swapped FROM ballots b WHERE study_id = ? AND leased_at = (SELECT MIN(leased_at) FROM ballots c WHERE c.study_id = b.study_id AND c.lease_owner = b.lease_owner)",
    )
      .bind(studyId)
      .all<{ voter: string; swapped: number }>();
    const parityOf = (voter: string) => stableHash(`99:side:${voter}`) % 2;
    for (const f of firsts.results) expect(f.swapped, f.voter).toBe(parityOf(f.voter));
    expect(new Set(firsts.results.map((f) => f.swapped))).toEqual(new Set([0, 1]));
    // And each voter's ballots alternate: of its n ballots, the first source was on the left in ⌊n/2⌋ or ⌈n/2⌉.
    const perVoter = await env.DB.prepare("SELECT lease_owner AS voter, COUNT(*) AS n, SUM(swapped) AS swapped FROM ballots WHERE study_id = ? GROUP BY lease_owner")
      .bind(studyId)
      .all<{ n: number; swapped: number }>();
    for (const v of perVoter.results) expect([Math.floor(v.n / 2), Math.ceil(v.n / 2)]).toContain(v.swapped);
  });
});

describe("a ballot whose voter went away", () => {
  it("comes back when its lease runs out, to another voter, and the first can no longer vote on it", async () => {
    const study = await call("POST", `/v1/projects/${PROJECT}/studies`, {
      token: await lead(),
      json: { name: "expiry", question: "Which?", design: { sources: ["final", "import:other"], votesPerPair: 1, gold: { share: 0 }, selection: { sample: 1 }, seed: 3 } },
    });
    const id = study.data.id;
    expect((await call("POST", `/v1/studies/${id}/open`, { token: await lead() })).status).toBe(200);
    const gone = await tokenFor("voter", [PROJECT], "gone-voter");
    const first = await call("POST", `/v1/studies/${id}/ballots/next`, { token: gone });
    expect(first.status).toBe(200);
    const next = await tokenFor("voter", [PROJECT], "next-voter");
    expect((await call("POST", `/v1/studies/${id}/ballots/next`, { token: next })).status).toBe(204);
    // The lease runs out (as if its voter closed the tab ten minutes ago).
    await env.DB.prepare("UPDATE ballots SET lease_expires = ? WHERE id = ?").bind(Date.now() - 1000, first.data.ballot_id).run();
    const taken = await call("POST", `/v1/studies/${id}/ballots/next`, { token: next });
    expect(taken.status).toBe(200);
    expect(taken.data.ballot_id).toBe(first.data.ballot_id);
    expect(taken.data.lease_token).not.toBe(first.data.lease_token);
    const late = await call("POST", `/v1/ballots/${first.data.ballot_id}/vote`, { token: gone, json: { lease_token: first.data.lease_token, choice: "A" }, headers: { "idempotency-key": "late" } });
    expect(late.status).toBe(404);
    const vote = await call("POST", `/v1/ballots/${taken.data.ballot_id}/vote`, { token: next, json: { lease_token: taken.data.lease_token, choice: "B" }, headers: { "idempotency-key": "on-time" } });
    expect(vote.status).toBe(201);
    // The vote's read and its batch: one statement to read, one batch to write.
    const cost = d1Cost(vote.res);
    expect(cost.calls).toBeLessThanOrEqual(3);
    const votes = await env.DB.prepare("SELECT voter FROM votes WHERE study_id = ?").bind(id).all();
    expect(votes.results).toEqual([{ voter: "next-voter" }]);
  });
});
