import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DraftQueueMessage } from "../../worker/env.ts";
import { claim, draftClaimFor } from "../../worker/flows/draft.ts";
import worker from "../../worker/index.ts";
import { dbOf } from "../../worker/store/db.ts";
import { getDraft } from "../../worker/store/drafts.ts";
import { getImage } from "../../worker/store/images.ts";
import { getProject } from "../../worker/store/projects.ts";
import { createProject, tokenFor } from "../support/api.ts";
import { mockTenant } from "../support/mock-vlm.ts";
import { ingestScene, until } from "../support/scenes.ts";

const mock = mockTenant("queue");
const db = () => dbOf(env.DB);

/** A claimed draft no message carries yet: the image is ingested where drafts are not asked for at ingest (template provider). */
async function claimedDraft(seed: number) {
  const lead = await tokenFor("lead", [], "queue-lead");
  const image = await ingestScene(lead, "q-src", seed);
  const row = (await getImage(db(), image.id))!;
  const spec = await draftClaimFor(row, (await getProject(db(), "q-proj"))!, 1);
  const token = (await claim(db(), spec, false))!;
  expect(token).toBeTruthy();
  return { key: spec.key, token };
}

/** Delivers a real batch to the Worker's queue handler; also records the delay each retry asked for. */
async function deliver(messages: { id: string; attempts: number; body: DraftQueueMessage }[]) {
  const batch = createMessageBatch<DraftQueueMessage>("groundwork-drafts", messages.map((m) => ({ ...m, timestamp: new Date() })));
  const delays: Record<string, number | undefined> = {};
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    m.retry = (options?: QueueRetryOptions) => {
      delays[m.id] = options?.delaySeconds;
      retry(options);
    };
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ...result, retryMessages: result.retryMessages.map((r) => ({ ...r, delaySeconds: delays[r.msgId] })) };
}

beforeAll(async () => {
  await createProject(await tokenFor("lead", [], "queue-lead"), { id: "q-src" });
  await createProject(await tokenFor("lead", [], "queue-lead"), {
    id: "q-proj",
    settings: { vlm: { provider: "openai", baseUrl: mock.baseUrl, model: "mock-llava", timeoutMs: 2000 } },
  });
});

describe("the draft queue consumer, with real message batches", () => {
  it("acks a message whose claim was superseded, without calling the model", async () => {
    await mock.reset();
    const { key } = await claimedDraft(21);
    const result = await deliver([{ id: "stale-1", attempts: 1, body: { kind: "draft", key, token: "not-the-claim", jobId: null } }]);
    expect(result.explicitAcks).toEqual(["stale-1"]);
    expect(result.retryMessages).toEqual([]);
    expect((await mock.stats()).requests).toBe(0);
    expect((await getDraft(db(), key))!.status).toBe("pending");
  });

  it("retries a 429 with the provider's Retry-After, then acks the success", async () => {
    await mock.reset();
    const { key, token } = await claimedDraft(22);
    await mock.control({ mode: "429", times: 1, retryAfterSeconds: 7 });
    const first = await deliver([{ id: "m-1", attempts: 1, body: { kind: "draft", key, token, jobId: null } }]);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toEqual([{ msgId: "m-1", delaySeconds: 7 }]);
    expect((await getDraft(db(), key))!.status).toBe("pending");

    const second = await deliver([{ id: "m-1", attempts: 2, body: { kind: "draft", key, token, jobId: null } }]);
    expect(second.explicitAcks).toEqual(["m-1"]);
    expect((await getDraft(db(), key))!.status).toBe("ready");
  });

  it("backs off exponentially on 5xx and, on the last attempt, fails the draft and dead-letters the message", { timeout: 20_000 }, async () => {
    await mock.reset();
    const { key, token } = await claimedDraft(23);
    await mock.control({ mode: "500" });
    const first = await deliver([{ id: "f-1", attempts: 1, body: { kind: "draft", key, token, jobId: null } }]);
    const second = await deliver([{ id: "f-1", attempts: 2, body: { kind: "draft", key, token, jobId: null } }]);
    // base 200 ms (test config): 200 ms then 400 ms, rounded up to whole seconds by the queue;
    // the mock's 500 carries no Retry-After
    expect(first.retryMessages).toEqual([{ msgId: "f-1", delaySeconds: 1 }]);
    expect(second.retryMessages).toEqual([{ msgId: "f-1", delaySeconds: 1 }]);
    const last = await deliver([{ id: "f-1", attempts: 3, body: { kind: "draft", key, token, jobId: null } }]);
    expect(last.explicitAcks).toEqual(["f-1"]);
    const draft = (await getDraft(db(), key))!;
    expect(draft.status).toBe("failed");
    expect(draft.attempts).toBe(3);
    const dead = await until("dead letter", async () =>
      (await env.DB.prepare("SELECT reason FROM dead_letters WHERE json_extract(body, '$.key') = ?").bind(key).first<{ reason: string }>()) ?? null,
    );
    expect(dead.reason).toMatch(/server/);
    await mock.control({ mode: "ok" });
  });

  it("processes a batch of several drafts, each acked on its own", async () => {
    await mock.reset();
    const a = await claimedDraft(24);
    const b = await claimedDraft(25);
    const result = await deliver([
      { id: "a", attempts: 1, body: { kind: "draft", key: a.key, token: a.token, jobId: null } },
      { id: "b", attempts: 1, body: { kind: "draft", key: b.key, token: b.token, jobId: null } },
    ]);
    expect([...result.explicitAcks].sort()).toEqual(["a", "b"]);
    expect((await mock.stats()).requests).toBe(2);
  });
});
