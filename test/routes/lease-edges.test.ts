import { SELF } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { BASE, call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";
import { claimNext, submissionBody, submit } from "../support/work.ts";

let lead: string;
let alice: string;
let bob: string;

beforeAll(async () => {
  lead = await tokenFor("lead", [], "edges-lead");
  alice = await tokenFor("annotator", ["*"], "edges-alice");
  bob = await tokenFor("annotator", ["*"], "edges-bob");
});

afterEach(() => {
  vi.useRealTimers();
});

const beat = (token: string, taskId: string, leaseToken: string) => call("POST", `/v1/tasks/${taskId}/heartbeat`, { token, json: { lease_token: leaseToken } });
const giveBack = (token: string, taskId: string, leaseToken: string) => call("POST", `/v1/tasks/${taskId}/release`, { token, json: { lease_token: leaseToken } });

function expectLeaseProblem(r: Awaited<ReturnType<typeof call>>, reason: string, detail: RegExp) {
  expect(r.status).toBe(409);
  expect(r.res.headers.get("content-type")).toContain("application/problem+json");
  expect(r.data).toMatchObject({ type: "https://groundwork.dev/problems/lease-not-held", reason });
  expect(r.data.detail).toMatch(detail);
}

describe("why a lease-bound call is refused", () => {
  it("says what is true: a wrong token of one's own lease, someone else's lease, an expired lease, no lease", { timeout: 30_000 }, async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    await createProject(lead, { id: "edges-why", settings: { leaseSeconds: 60, redundancy: { round1: 1 } } });
    await ingestScene(lead, "edges-why", 61);
    const lease = (await claimNext(alice, "edges-why")).data;

    // The holder with a wrong token: their lease is fine, their token is not.
    for (const refused of [await beat(alice, lease.task_id, "not-my-token"), await giveBack(alice, lease.task_id, "not-my-token"), await submit(alice, lease, { ...submissionBody(lease), lease_token: "not-my-token" })]) {
      expectLeaseProblem(refused, "token-mismatch", /you hold this lease, but lease_token does not match it/);
      expect(refused.data.detail).not.toMatch(/someone else|reclaimed/);
    }
    // Someone else, even with the holder's real token.
    expectLeaseProblem(await beat(bob, lease.task_id, lease.lease_token), "leased-by-someone-else", /leased by someone else/);
    expectLeaseProblem(await submit(bob, lease, submissionBody(lease)), "leased-by-someone-else", /leased by someone else/);

    vi.setSystemTime(Date.now() + 61_000);
    expectLeaseProblem(await beat(alice, lease.task_id, lease.lease_token), "expired", /your lease has expired/);
    expectLeaseProblem(await submit(alice, lease, submissionBody(lease)), "expired", /your lease has expired/);

    // Released (a release needs no live lease), the task is nobody's.
    expect((await giveBack(alice, lease.task_id, lease.lease_token)).status).toBe(200);
    const none = await beat(alice, lease.task_id, lease.lease_token);
    expectLeaseProblem(none, "not-leased", /not leased \(it is open\)/);
    expect(none.data.task_status).toBe("open");
  });
});

describe("GET /v1/me/tasks", () => {
  it("marks each lease expired or not", { timeout: 30_000 }, async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    await createProject(lead, { id: "edges-mine", settings: { leaseSeconds: 60, redundancy: { round1: 1 } } });
    await ingestScene(lead, "edges-mine", 62);
    await ingestScene(lead, "edges-mine", 63);
    const first = (await claimNext(alice, "edges-mine")).data;
    vi.setSystemTime(Date.now() + 40_000);
    const second = (await claimNext(alice, "edges-mine")).data;
    const leasesAt = async () => {
      const r = await call("GET", "/v1/me/tasks", { token: alice });
      expect(r.status).toBe(200);
      return Object.fromEntries(r.data.leases.map((l: any) => [l.task_id, l.expired]));
    };
    expect(await leasesAt()).toEqual({ [first.task_id]: false, [second.task_id]: false });
    vi.setSystemTime(Date.now() + 30_000); // 70 s after the first claim, 30 s after the second
    expect(await leasesAt()).toEqual({ [first.task_id]: true, [second.task_id]: false });

    const doc = (await call("GET", "/openapi.json")).data;
    const schema = doc.paths["/v1/me/tasks"].get.responses["200"].content["application/json"].schema;
    expect(schema.properties.leases.items.properties.expired).toMatchObject({ type: "boolean" });
    expect(schema.properties.leases.items.required).toContain("expired");
  });
});

describe("claim bodies", () => {
  const claim = (headers: Record<string, string>, body?: BodyInit) =>
    SELF.fetch(`${BASE}/v1/projects/edges-claim/tasks/next`, { method: "POST", headers: { authorization: `Bearer ${alice}`, ...headers }, body });

  it("an empty body, with or without a content type, claims with the defaults; a body of another type is still 415", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "edges-claim", settings: { redundancy: { round1: 1 } } });
    for (const seed of [64, 65, 66]) await ingestScene(lead, "edges-claim", seed);

    const bare = await claim({});
    expect(bare.status).toBe(200);
    expect(await bare.json<any>()).toMatchObject({ round: 1, kind: "edit" });
    const emptyJson = await claim({ "content-type": "application/json" }, "");
    expect(emptyJson.status).toBe(200);
    expect(await emptyJson.json<any>()).toMatchObject({ round: 1, kind: "edit" });
    // A stream that turns out empty (no Content-Length) is empty too.
    const emptyStream = await claim({}, new ReadableStream({ start: (c) => c.close() }));
    expect(emptyStream.status).toBe(200);
    await emptyStream.arrayBuffer();

    // (A string body would get text/plain from fetch; bytes go with no content type at all.)
    for (const [headers, body] of [
      [{ "content-type": "text/plain" }, '{"round":1}'],
      [{}, new TextEncoder().encode('{"round":1}')],
    ] as const) {
      const refused = await claim(headers, body);
      expect(refused.status).toBe(415);
      expect(refused.headers.get("content-type")).toContain("application/problem+json");
      expect((await refused.json<any>()).detail).toContain("application/json");
    }
    const doc = (await call("GET", "/openapi.json")).data;
    expect(doc.paths["/v1/projects/{projectId}/tasks/next"].post.requestBody.required).not.toBe(true);
  });

  it("an unknown round is a 400 that lists the allowed values", async () => {
    const r = await call("POST", "/v1/projects/edges-claim/tasks/next", { token: alice, json: { round: 3 } });
    expect(r.status).toBe(400);
    expect(r.res.headers.get("content-type")).toContain("application/problem+json");
    expect(r.data.errors).toEqual([{ path: "body.round", message: "round must be 1 or 2" }]);
    expect(r.data.detail).toBe("body.round: round must be 1 or 2");
  });
});
