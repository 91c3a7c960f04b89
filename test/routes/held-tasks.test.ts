/**
 * With a model, an image's tasks wait for its draft: asked for at ingest, they open when it is
 * done (starting from it, and the claim is one statement) or at the project's wait with template
 * texts, flagged; a failed draft opens them with template texts too.
 */
import { createExecutionContext, createScheduledController, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import { call, createProject, d1Cost, tokenFor } from "../support/api.ts";
import { mockTenant } from "../support/mock-vlm.ts";
import { ingestScene, until } from "../support/scenes.ts";
import { claimNext, submissionBody, submit } from "../support/work.ts";

let lead: string, ann: string, ann2: string;
beforeAll(async () => {
  lead = await tokenFor("lead", [], "held-lead");
  ann = await tokenFor("annotator", ["*"], "held-ann");
  ann2 = await tokenFor("annotator", ["*"], "held-ann-2");
});

const statuses = async (imageId: string) =>
  (await env.DB.prepare("SELECT status, start_source FROM tasks WHERE image_id = ? AND round = 1 ORDER BY slot").bind(imageId).all<{ status: string; start_source: string | null }>()).results;
const statementsOf = (res: Response) => d1Cost(res).statements;
const vlm = (baseUrl: string, extra: Record<string, unknown> = {}) => ({ vlm: { provider: "openai", baseUrl, model: "mock-held", timeoutMs: 30_000, ...extra } });

describe("tasks held for their draft", () => {
  it("open when the draft is ready, and the claim starts from it in one statement", { timeout: 60_000 }, async () => {
    const mock = mockTenant("held-ready");
    await mock.reset();
    await mock.control({ mode: "slow", delayMs: 2500, times: 1 });
    await createProject(lead, { id: "held-ready", settings: { redundancy: { round1: 2 }, ...vlm(mock.baseUrl) } });
    const image = await ingestScene(lead, "held-ready", 121);
    expect(await statuses(image.id)).toEqual([
      { status: "held", start_source: null },
      { status: "held", start_source: null },
    ]);
    // Nothing to claim while the model works: no claim starts from template texts.
    expect((await claimNext(ann, "held-ready")).status).toBe(204);

    await until("tasks opened by the draft", async () => (await statuses(image.id)).every((t) => t.status === "open"), 30_000, 200);
    expect((await statuses(image.id)).map((t) => t.start_source)).toEqual(["vlm", "vlm"]);
    const draft = (await call("GET", `/v1/images/${image.id}/drafts/1`, { token: lead })).data;
    expect(draft.status).toBe("ready");

    const claim = await claimNext(ann, "held-ready");
    expect(claim.status).toBe(200);
    expect(claim.data.start.source).toBe("vlm");
    expect(claim.data.start.key).toBe(draft.key);
    const drafted = new Map(draft.regions.map((r: any) => [r.segment_id, r.text]));
    for (const t of claim.data.start.texts) expect(t.text).toBe(drafted.get(t.segment_id));
    // The project read (cached per isolate for a few seconds) and the claim: nothing else.
    expect(statementsOf(claim.res)).toBeLessThanOrEqual(2);
    expect((await mock.stats()).requests).toBe(1);

    // The submission measures its effort against the same start.
    const sent = await submit(ann, claim.data, submissionBody(claim.data));
    expect(sent.status).toBe(201);
    expect(sent.data.draft).toEqual({ source: "vlm", key: draft.key });
    expect(sent.data.effort.acceptedShare).toBe(1);
    // A second claimer of the same image starts from the same draft too.
    const second = await claimNext(ann2, "held-ready");
    expect(second.data.start.source).toBe("vlm");
    expect(statementsOf(second.res)).toBeLessThanOrEqual(2);
  });

  it("round 2 waits for the merge draft too, and starts from it", { timeout: 60_000 }, async () => {
    const mock = mockTenant("held-merge");
    await mock.reset();
    await createProject(lead, { id: "held-merge", settings: { redundancy: { round1: 1, round2: 1 }, review: { required: false }, ...vlm(mock.baseUrl) } });
    const image = await ingestScene(lead, "held-merge", 125);
    await until("round-1 tasks open", async () => (await statuses(image.id)).every((t) => t.status === "open"), 30_000, 200);
    await mock.control({ mode: "slow", delayMs: 2500, times: 1 });
    const r1 = (await claimNext(ann, "held-merge")).data;
    expect((await submit(ann, r1, submissionBody(r1))).status).toBe(201);
    const round2 = async () => (await env.DB.prepare("SELECT status, start_source FROM tasks WHERE image_id = ? AND round = 2").bind(image.id).all<{ status: string; start_source: string | null }>()).results;
    expect(await round2()).toEqual([{ status: "held", start_source: null }]);
    expect((await call("POST", "/v1/projects/held-merge/tasks/next", { token: ann2, json: { round: 2 } })).status).toBe(204);
    await until("round-2 task opened by the merge draft", async () => (await round2())[0].status === "open", 30_000, 200);
    const lease = await call("POST", "/v1/projects/held-merge/tasks/next", { token: ann2, json: { round: 2 } });
    expect(lease.status).toBe(200);
    expect(lease.data.start.source).toBe("vlm");
    const merge = (await call("GET", `/v1/images/${image.id}/drafts/2`, { token: lead })).data;
    expect(lease.data.start.key).toBe(merge.key);
    expect(lease.data.start.caption.text).toBe(merge.caption.text);
    expect(statementsOf(lease.res)).toBeLessThanOrEqual(3);
  });

  it("open with template texts, flagged, when the draft fails", { timeout: 60_000 }, async () => {
    const mock = mockTenant("held-fail");
    await mock.reset();
    await mock.control({ mode: "500" });
    await createProject(lead, { id: "held-fail", settings: { redundancy: { round1: 1 }, ...vlm(mock.baseUrl) } });
    const image = await ingestScene(lead, "held-fail", 122);
    await until("tasks opened by the failed draft", async () => (await statuses(image.id)).every((t) => t.status === "open"), 40_000, 250);
    expect((await statuses(image.id))[0].start_source).toBe("template-fallback");
    const claim = await claimNext(ann, "held-fail");
    expect(claim.data.start.source).toBe("template-fallback");
    expect(claim.data.start.note).toContain("failed");
    expect(statementsOf(claim.res)).toBeLessThanOrEqual(2);
    await mock.reset();
  });

  it("open with template texts, flagged, once the project's wait has passed", { timeout: 60_000 }, async () => {
    const mock = mockTenant("held-wait");
    await mock.reset();
    await mock.control({ mode: "slow", delayMs: 20_000, times: 1 });
    await createProject(lead, { id: "held-wait", settings: { redundancy: { round1: 1 }, ...vlm(mock.baseUrl, { draftWaitSeconds: 60 }) } });
    const image = await ingestScene(lead, "held-wait", 123);
    expect((await statuses(image.id))[0].status).toBe("held");
    // A tick before the wait is over leaves them held; one after it opens them.
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + 30_000, cron: "* * * * *" }), env, createExecutionContext());
    expect((await statuses(image.id))[0].status).toBe("held");
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + 61_000, cron: "* * * * *" }), env, createExecutionContext());
    expect(await statuses(image.id)).toEqual([{ status: "open", start_source: "template-fallback" }]);
    const claim = await claimNext(ann, "held-wait");
    expect(claim.data.start.source).toBe("template-fallback");
    expect(claim.data.start.note).toContain("not ready within");
  });

  it("with a wait of 0 the tasks open at once (the draft is still asked for at ingest)", { timeout: 60_000 }, async () => {
    const mock = mockTenant("held-none");
    await mock.reset();
    await createProject(lead, { id: "held-none", settings: { redundancy: { round1: 1 }, ...vlm(mock.baseUrl, { draftWaitSeconds: 0 }) } });
    const image = await ingestScene(lead, "held-none", 124);
    expect((await statuses(image.id))[0].status).toBe("open");
    await until("the draft asked for at ingest", async () => (await call("GET", `/v1/images/${image.id}/drafts/1`, { token: lead })).data?.status === "ready", 30_000, 200);
  });
});
