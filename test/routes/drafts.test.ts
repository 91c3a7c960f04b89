import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ROUND1_PROMPT } from "../../worker/vlm/prompts.ts";
import { call, createProject, tokenFor } from "../support/api.ts";
import { mockTenant } from "../support/mock-vlm.ts";
import { ingestScene, until } from "../support/scenes.ts";

let lead: string;
const mock = mockTenant("drafts");

async function vlmProject(id: string) {
  await createProject(lead, { id, settings: { vlm: { provider: "openai", baseUrl: mock.baseUrl, model: "mock-qwen2-vl", timeoutMs: 2000 } } });
}

async function draftWhenDone(imageId: string) {
  return until(`draft of ${imageId}`, async () => {
    const r = await call("GET", `/v1/images/${imageId}/drafts/1`, { token: lead });
    return r.status === 200 ? r.data : null;
  });
}

const calls = async (key: string) =>
  (await env.DB.prepare("SELECT outcome, http_status, attempt FROM vlm_calls WHERE draft_key = ? ORDER BY id").bind(key).all<{ outcome: string; http_status: number | null; attempt: number }>()).results;

beforeAll(async () => {
  lead = await tokenFor("lead", [], "drafts-lead");
});

describe("round-1 drafts", () => {
  it("the template provider drafts every region at once, with no model", async () => {
    await createProject(lead, { id: "d-template" });
    const image = await ingestScene(lead, "d-template", 1);
    const r = await call("GET", `/v1/images/${image.id}/drafts/1`, { token: lead });
    expect(r.status).toBe(200);
    expect(r.data).toMatchObject({ status: "ready", source: "template", provider: "template" });
    expect(r.data.regions.map((x: any) => x.segment_id).sort()).toEqual(image.segments.map((s: any) => s.id).sort());
    for (const region of r.data.regions) expect(region.text.length).toBeGreaterThan(3);
  });

  it("20 concurrent requests for one key make exactly one VLM call; the mock got the SoM image and the versioned prompt", { timeout: 30_000 }, async () => {
    await mock.reset();
    await vlmProject("d-flight");
    const image = await ingestScene(lead, "d-flight", 2);
    const answers = await Promise.all(Array.from({ length: 20 }, () => call("GET", `/v1/images/${image.id}/drafts/1`, { token: lead })));
    for (const a of answers) expect([200, 202]).toContain(a.status);
    const pending = answers.find((a) => a.status === 202)!;
    expect(pending.res.headers.get("retry-after")).toBe("2");

    const draft = await draftWhenDone(image.id);
    expect(draft).toMatchObject({ status: "ready", source: "vlm", provider: "openai", model: "mock-qwen2-vl", prompt: { id: "pancap-round1", version: 1 } });
    expect(draft.regions).toHaveLength(image.segments.length);
    expect(draft.tokens_in).toBeGreaterThan(0);
    expect((await mock.stats()).requests).toBe(1);
    expect(await calls(draft.key)).toEqual([{ outcome: "ok", http_status: 200, attempt: 1 }]);

    // the request carried the set-of-marks render and every mark of the prompt
    const som = await call("GET", `/v1/images/${image.id}/files/som`, { token: lead });
    const somBytes = new Uint8Array(await som.res.arrayBuffer());
    const last = (await mock.stats()).last!;
    const user = last.body.messages.find((m: any) => m.role === "user");
    const imagePart = user.content.find((p: any) => p.type === "image_url");
    expect(imagePart.image_url.url).toEqual({ mediaType: "image/png", bytes: somBytes.byteLength });
    expect(last.body.model).toBe("mock-qwen2-vl");
    expect(last.system).toBe(ROUND1_PROMPT.system);
    for (const region of draft.regions) expect(last.prompt).toContain(String(region.mark));

    // same key again: served from the cache, no new call
    expect((await call("GET", `/v1/images/${image.id}/drafts/1`, { token: lead })).status).toBe(200);
    expect((await mock.stats()).requests).toBe(1);
  });

  it("a 429 is retried after Retry-After and gives one draft", { timeout: 30_000 }, async () => {
    await mock.reset();
    await vlmProject("d-429");
    const image = await ingestScene(lead, "d-429", 3);
    await mock.control({ mode: "429", times: 1, retryAfterSeconds: 1 });
    const draft = await draftWhenDone(image.id);
    expect(draft.status).toBe("ready");
    expect(draft.attempts).toBe(2);
    expect(await calls(draft.key)).toEqual([
      { outcome: "rate_limited", http_status: 429, attempt: 1 },
      { outcome: "ok", http_status: 200, attempt: 2 },
    ]);
    expect((await mock.stats()).requests).toBe(2);
  });

  it("a persistent 500 ends in the dead-letter queue; the draft is failed and the template stands in, flagged", { timeout: 40_000 }, async () => {
    await mock.reset();
    await vlmProject("d-500");
    const image = await ingestScene(lead, "d-500", 4);
    await mock.control({ mode: "500" });
    const draft = await until("failed draft", async () => {
      const r = await call("GET", `/v1/images/${image.id}/drafts/1`, { token: lead });
      return r.status === 200 ? r.data : null;
    }, 30_000);
    expect(draft).toMatchObject({ status: "failed", source: "template-fallback", attempts: 3 });
    expect(draft.problems.reason).toMatch(/gave up after 3 attempt\(s\): server/);
    expect(draft.regions).toHaveLength(image.segments.length);
    expect((await calls(draft.key)).map((c) => c.outcome)).toEqual(["server", "server", "server"]);
    const dead = await until("dead letter", async () => {
      const r = await env.DB.prepare("SELECT queue, body, reason FROM dead_letters").all<{ queue: string; body: string; reason: string }>();
      return r.results.find((d) => JSON.parse(d.body).key === draft.key);
    });
    expect(dead.queue).toBe("groundwork-drafts-dlq");
    expect(dead.reason).toContain("server");
    await mock.control({ mode: "ok" });
  });

  it("malformed and partial answers are recorded as such", { timeout: 30_000 }, async () => {
    await mock.reset();
    await vlmProject("d-bad");
    // Each image's draft is asked for at its ingest, so the mock's mode is set before each.
    await mock.control({ mode: "malformed" });
    const a = await ingestScene(lead, "d-bad", 5);
    const malformed = await draftWhenDone(a.id);
    expect(malformed).toMatchObject({ status: "failed", source: "template-fallback" });
    expect(malformed.problems.reason).toMatch(/JSON/);

    await mock.control({ mode: "partial" });
    const b = await ingestScene(lead, "d-bad", 6);
    const partial = await draftWhenDone(b.id);
    expect(partial.status).toBe("partial");
    expect(partial.problems.missing_marks.length).toBeGreaterThan(0);
    expect(partial.regions.length + partial.problems.missing_marks.length).toBe(b.segments.length);

    await mock.control({ mode: "unknown-mark" });
    const c = await ingestScene(lead, "d-bad", 7);
    const unknown = await draftWhenDone(c.id);
    expect(unknown.status).toBe("partial");
    expect(unknown.problems.unknown_marks.length).toBe(1);
    expect(unknown.regions).toHaveLength(c.segments.length);
    await mock.control({ mode: "ok" });
  });

  it("changing the model changes the key; round 2 waits for final texts", { timeout: 30_000 }, async () => {
    await vlmProject("d-key");
    const image = await ingestScene(lead, "d-key", 8);
    const first = await draftWhenDone(image.id);
    await call("PATCH", "/v1/projects/d-key", { token: lead, json: { settings: { vlm: { model: "mock-internvl" } } } });
    const second = await draftWhenDone(image.id);
    expect(second.key).not.toBe(first.key);
    expect(second.model).toBe("mock-internvl");
    const r2 = await call("GET", `/v1/images/${image.id}/drafts/2`, { token: lead });
    expect(r2.status).toBe(409);
    expect((await call("GET", `/v1/images/${image.id}/drafts/3`, { token: lead })).status).toBe(400);
  });
});

describe("draft jobs", () => {
  it("pre-generates every image lacking a draft and reports progress", { timeout: 30_000 }, async () => {
    await mock.reset();
    // Ingested under the template provider, then switched to a model: no image has its draft yet
    // (with a model from the start, ingest asks for each image's draft itself).
    await createProject(lead, { id: "d-job" });
    const images = [await ingestScene(lead, "d-job", 11), await ingestScene(lead, "d-job", 12), await ingestScene(lead, "d-job", 13)];
    const switched = await call("PATCH", "/v1/projects/d-job", { token: lead, json: { settings: { vlm: { provider: "openai", baseUrl: mock.baseUrl, model: "mock-qwen2-vl", timeoutMs: 2000 } } } });
    expect(switched.status).toBe(200);
    await draftWhenDone(images[0].id); // already drafted: the job skips it
    const start = await call("POST", "/v1/projects/d-job/draft-jobs", { token: lead, json: { round: 1 } });
    expect(start.status).toBe(202);
    expect(start.res.headers.get("location")).toBe(`/v1/projects/d-job/draft-jobs/${start.data.id}`);
    const done = await until("job done", async () => {
      const r = await call("GET", `/v1/projects/d-job/draft-jobs/${start.data.id}`, { token: lead });
      return r.data.status === "done" ? r.data : null;
    });
    expect(done).toMatchObject({ queued: 2, skipped: 1, done: 2, failed: 0 });
    expect(done.tokens_in).toBeGreaterThan(0);
    for (const image of images) expect((await call("GET", `/v1/images/${image.id}/drafts/1`, { token: lead })).status).toBe(200);
    expect((await mock.stats()).requests).toBe(3);

    const annotator = await tokenFor("annotator", ["d-job"]);
    expect((await call("POST", "/v1/projects/d-job/draft-jobs", { token: annotator, json: { round: 1 } })).status).toBe(403);
    expect((await call("POST", "/v1/projects/d-job/draft-jobs", { token: lead, json: { round: 3 } })).status).toBe(400);
  });
});
