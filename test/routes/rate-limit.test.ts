import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/api.ts";
import { claimNext, submissionBody, submit } from "../support/work.ts";
import { seedWorld, type World } from "../support/world.ts";

/**
 * Abuse limits through Workers' rate-limiting binding (Miniflare simulates it): a project's
 * settings choose a tier per scope; over it a request is 429 problem+json with Retry-After and
 * nothing is written. The strict tier allows 10 requests per 10-second window; a window may roll
 * over during a loop, so each loop asserts "at least 10 passed, then 429", never an exact index.
 */
let w: World;

beforeAll(async () => {
  w = await seedWorld("rl");
  const patched = await call("PATCH", `/v1/projects/${w.projectA}`, {
    token: w.tokens.lead,
    json: { settings: { rateLimits: { writes: "strict", votes: "strict", joins: "strict" } } },
  });
  expect(patched.status, JSON.stringify(patched.data)).toBe(200);
  expect(patched.data.settings.rateLimits).toEqual({ writes: "strict", votes: "strict", joins: "strict" });
}, 120_000);

/** Sends `request` until it is refused with 429 (at most `most` times); returns how many passed first, the last 200 and the refusal. */
async function untilLimited(request: () => Promise<{ status: number; data: any; res: Response }>, most = 25) {
  let passed = 0;
  let lastOk: any = null;
  for (let i = 0; i < most; i++) {
    const r = await request();
    if (r.status === 429) return { passed, lastOk, refusal: r };
    expect(r.status, JSON.stringify(r.data)).toBeLessThan(400);
    if (r.status === 200) lastOk = r.data;
    passed++;
  }
  throw new Error(`no 429 in ${most} requests`);
}

function expectRateLimited(r: { status: number; data: any; res: Response }, scope: string) {
  expect(r.status).toBe(429);
  expect(r.res.headers.get("content-type")).toBe("application/problem+json");
  expect(r.res.headers.get("retry-after")).toBe("10");
  expect(r.data).toMatchObject({ status: 429, type: expect.stringMatching(/rate-limited$/), scope, tier: "strict" });
}

describe("rate limits", () => {
  it("a project's settings default to limits and refuse a value that is not a tier, naming the field", async () => {
    const b = await call("GET", `/v1/projects/${w.projectB}`, { token: w.tokens["lead-other-project"] });
    expect(b.data.settings.rateLimits).toEqual({ writes: "generous", votes: "standard", joins: "standard" });
    const bad = await call("PATCH", `/v1/projects/${w.projectB}`, { token: w.tokens["lead-other-project"], json: { settings: { rateLimits: { writes: "fast" } } } });
    expect(bad.status).toBe(400);
    expect(bad.data.errors.map((e: any) => e.path)).toContain("body.settings.rateLimits.writes");
    const again = await call("GET", `/v1/projects/${w.projectB}`, { token: w.tokens["lead-other-project"] });
    expect(again.data.settings.rateLimits.writes).toBe("generous");
  });

  it("an annotator's writes over the tier are 429 with Retry-After; the refused submission stores nothing and is accepted after the window", async () => {
    const { passed, refusal } = await untilLimited(() => claimNext(w.tokens.annotator, w.projectA));
    expect(passed).toBeGreaterThanOrEqual(10);
    expectRateLimited(refusal, "writes");

    const lease = w.held.submit;
    const key = crypto.randomUUID();
    const refused = await submit(w.tokens.annotator, lease, submissionBody(lease), key);
    expectRateLimited(refused, "writes");
    const stored = await env.DB.prepare("SELECT count(*) AS n FROM submissions WHERE task_id = ?").bind(lease.task_id).first<{ n: number }>();
    expect(stored!.n).toBe(0);
    const task = await env.DB.prepare("SELECT status FROM tasks WHERE id = ?").bind(lease.task_id).first<{ status: string }>();
    expect(task!.status).toBe("leased");

    // Another member of the same project, and the same kind of write in another project, are counted apart.
    expect((await claimNext(w.tokens["annotator-other-person"], w.projectA)).status).not.toBe(429);
    expect((await claimNext(w.tokens.admin, w.projectB)).status).not.toBe(429);

    await new Promise((r) => setTimeout(r, 10_500));
    const accepted = await submit(w.tokens.annotator, lease, submissionBody(lease), key);
    expect(accepted.status, JSON.stringify(accepted.data)).toBe(201);

    // Over the limit again, a retry of the recorded submission still gets its first answer: replays are never counted.
    expectRateLimited((await untilLimited(() => claimNext(w.tokens.annotator, w.projectA))).refusal, "writes");
    const replayed = await submit(w.tokens.annotator, lease, submissionBody(lease), key);
    expect(replayed.status).toBe(201);
    expect(replayed.data.id).toBe(accepted.data.id);
  }, 60_000);

  it("a voter's ballot claims and votes share its vote limit; a refused vote records nothing, a replayed one still answers", async () => {
    const participant = w.tokens.participant;
    const voteOn = (ballot: { id: string; leaseToken: string }, key: string) =>
      call("POST", `/v1/ballots/${ballot.id}/vote`, { token: participant, headers: { "idempotency-key": key }, json: { lease_token: ballot.leaseToken, choice: "A" } });
    const firstKey = crypto.randomUUID();
    const first = await voteOn(w.ballot, firstKey);
    expect(first.status, JSON.stringify(first.data)).toBe(201);

    const { passed, lastOk, refusal } = await untilLimited(() => call("POST", `/v1/studies/${w.studyOpen}/ballots/next`, { token: participant }));
    // The vote above was counted in the same scope: with it, at least 10 passed.
    expect(passed + 1).toBeGreaterThanOrEqual(10);
    expectRateLimited(refusal, "votes");
    const replayed = await voteOn(w.ballot, firstKey);
    expect(replayed.status).toBe(201);
    expect(replayed.data.vote_id).toBe(first.data.vote_id);

    expect(lastOk, "the participant was handed a second ballot").not.toBeNull();
    const held = { id: lastOk.ballot_id, leaseToken: lastOk.lease_token };
    expectRateLimited(await voteOn(held, crypto.randomUUID()), "votes");
    const votes = await env.DB.prepare("SELECT count(*) AS n FROM votes WHERE ballot_id = ?").bind(held.id).first<{ n: number }>();
    expect(votes!.n).toBe(0);
    // Another voter of the same study is not held back.
    expect((await call("POST", `/v1/studies/${w.studyOpen}/ballots/next`, { token: w.tokens["participant-other"] })).status).not.toBe(429);
  }, 60_000);

  it("joins through an invite are limited per client address and study: one address cannot mint identities in bulk, another is not held back", async () => {
    let n = 0;
    const join = (ip: string) =>
      call("POST", `/v1/studies/${w.studyOpen}/participants`, { headers: { "cf-connecting-ip": ip }, json: { invite: w.invite, participant_id: `rl-bulk-${n++}` } });
    const { passed, refusal } = await untilLimited(() => join("203.0.113.7"));
    expect(passed).toBeGreaterThanOrEqual(10);
    expectRateLimited(refusal, "joins");
    const refusedId = `participant:${w.invite}:rl-bulk-${n - 1}`;
    const admitted = await env.DB.prepare("SELECT count(*) AS n FROM study_voters WHERE voter = ?").bind(refusedId).first<{ n: number }>();
    expect(admitted!.n).toBe(0);
    expect((await join("203.0.113.8")).status).toBe(201);
  }, 60_000);

  it("a scope set to off is never limited, and the change applies at once", async () => {
    const off = await call("PATCH", `/v1/projects/${w.projectA}`, { token: w.tokens.lead, json: { settings: { rateLimits: { writes: "off" } } } });
    expect(off.status).toBe(200);
    for (let i = 0; i < 30; i++) expect((await claimNext(w.tokens.reviewer, w.projectA, "review")).status).not.toBe(429);
    for (let i = 0; i < 15; i++) expect((await claimNext(w.tokens.annotator, w.projectA)).status).not.toBe(429);
  }, 60_000);
});
