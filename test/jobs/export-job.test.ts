import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DraftQueueMessage, Env } from "../../worker/env.ts";
import worker from "../../worker/index.ts";
import { dbOf } from "../../worker/store/db.ts";
import { PART_BYTES } from "../../worker/store/export-file.ts";
import { advanceExportJob, getExportJob } from "../../worker/store/export-jobs.ts";
import { recentInvocations, type Invocation } from "../../worker/store/statement-budget.ts";
import { BASE, call, createProject, tokenFor } from "../support/api.ts";
import { seedFinalCaptions } from "../support/final-captions.ts";

/**
 * Export jobs through real message batches delivered to the Worker's queue handler, with the
 * queue binding replaced by a list: the test decides when (and how often) each message arrives.
 */
let lead: string;
const db = () => dbOf(env.DB);
const decoder = new TextDecoder();

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");

interface Harness {
  env: Env;
  /** Messages the Worker sent, not yet delivered. */
  queued: DraftQueueMessage[];
}

/** The free plan's 50 statements and small pages, so tens of images take several messages. */
function harness(over: Partial<Env> = {}): Harness {
  const queued: DraftQueueMessage[] = [];
  const queue = {
    send: async (body: DraftQueueMessage) => void queued.push(structuredClone(body)),
    sendBatch: async (messages: { body: DraftQueueMessage }[]) => void queued.push(...messages.map((m) => structuredClone(m.body))),
  } as unknown as Queue<DraftQueueMessage>;
  return { env: { ...env, D1_STATEMENT_LIMIT: "50", EXPORT_PAGE_IMAGES: "4", DRAFT_QUEUE: queue, ...over }, queued };
}

let deliveries = 0;

/** One real batch of one message; returns what the queue was told and the invocation's statement count. */
async function deliver(h: Harness, body: DraftQueueMessage, o: { attempts?: number; env?: Env } = {}) {
  const id = `m-${++deliveries}`;
  const batch = createMessageBatch<DraftQueueMessage>("groundwork-drafts", [{ id, timestamp: new Date(), attempts: o.attempts ?? 1, body }]);
  const ctx = createExecutionContext();
  const seen = new Set<Invocation>(recentInvocations);
  await worker.queue(batch, o.env ?? h.env, ctx);
  const result = await getQueueResult(batch, ctx);
  const invocation = recentInvocations.find((i) => !seen.has(i) && i.label === "queue groundwork-drafts")!;
  return { acked: result.explicitAcks.includes(id), retried: result.retryMessages.some((r) => r.msgId === id), statements: invocation.statements };
}

async function startJob(h: Harness, projectId: string, format: string) {
  const req = new Request(`${BASE}/v1/projects/${projectId}/exports`, {
    method: "POST",
    headers: { authorization: `Bearer ${lead}`, "content-type": "application/json" },
    body: JSON.stringify({ format }),
  });
  const res = await worker.fetch(req as Parameters<typeof worker.fetch>[0], h.env, createExecutionContext());
  expect(res.status).toBe(202);
  const job = await res.json<{ id: string }>();
  expect(h.queued).toEqual([{ kind: "export", jobId: job.id, seq: 0 }]);
  return job.id;
}

/** Delivers what the Worker queues, in order, until nothing is left; every invocation's statements. */
async function drain(h: Harness): Promise<number[]> {
  const counts: number[] = [];
  for (let guard = 0; h.queued.length > 0 && guard < 500; guard++) {
    const r = await deliver(h, h.queued.shift()!);
    expect(r.acked).toBe(true);
    counts.push(r.statements);
  }
  expect(h.queued).toEqual([]);
  return counts;
}

const jobJson = async (projectId: string, jobId: string) => (await call("GET", `/v1/projects/${projectId}/exports/jobs/${jobId}`, { token: lead })).data;

/** The streamed export's data lines (every page, trailers dropped), as bytes. */
async function streamed(projectId: string, format: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let cursor: string | null = null;
  do {
    const r = await call("GET", `/v1/projects/${projectId}/exports/${format}?limit=10000${cursor ? `&cursor=${cursor}` : ""}`, { token: lead });
    const bytes = new Uint8Array(await r.res.arrayBuffer());
    const cut = bytes.lastIndexOf(10, bytes.length - 2) + 1;
    cursor = JSON.parse(decoder.decode(bytes.subarray(cut)))._trailer.next;
    parts.push(bytes.subarray(0, cut));
  } while (cursor !== null);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The finished job's file and manifest, checked against the streamed export byte for byte. */
async function expectFileIsTheStream(projectId: string, jobId: string, format: string, images: number) {
  const job = await jobJson(projectId, jobId);
  expect(job).toMatchObject({ status: "done", images, error: null });
  const file = new Uint8Array(await (await call("GET", job.download.url)).res.arrayBuffer());
  const manifest = (await call("GET", job.download.manifest_url)).data;
  const stream = await streamed(projectId, format);
  expect(file.byteLength).toBe(stream.byteLength);
  expect(file.every((b, i) => b === stream[i]), "the file is the streamed export, byte for byte").toBe(true);
  const sha = hex(await crypto.subtle.digest("SHA-256", file));
  const lines = decoder.decode(file).split("\n").filter(Boolean);
  expect(manifest).toMatchObject({ images, lines: lines.length, bytes: file.byteLength, sha256: sha, format });
  expect(job).toMatchObject({ sha256: sha, bytes: file.byteLength, lines: lines.length });
  return { job, manifest, lines, file };
}

beforeAll(async () => {
  lead = await tokenFor("lead", [], "expjob-lead");
  for (const id of ["ej-pages", "ej-fail", "ej-parts"]) await createProject(lead, { id });
});

describe("export jobs, a checkpoint per queue message", () => {
  it("goes through several messages, each within the free plan's 50 statements, and writes the streamed export", { timeout: 60_000 }, async () => {
    const ids = await seedFinalCaptions("ej-pages", 60, { prefix: "ejp" });
    const h = harness();
    const jobId = await startJob(h, "ej-pages", "pancap");

    const first = await deliver(h, h.queued.shift()!);
    expect(first.acked).toBe(true);
    const progress = await jobJson("ej-pages", jobId);
    expect(progress).toMatchObject({ status: "running", messages: 1, download: null });
    expect(progress.images).toBeGreaterThan(0);
    expect(progress.images).toBeLessThan(60);
    expect(progress.bytes).toBeGreaterThan(0);
    expect(h.queued).toEqual([{ kind: "export", jobId, seq: 1 }]);

    const counts = [first.statements, ...(await drain(h))];
    expect(counts.length).toBeGreaterThanOrEqual(3);
    for (const n of counts) expect(n).toBeLessThanOrEqual(50);
    const { job, lines } = await expectFileIsTheStream("ej-pages", jobId, "pancap", 60);
    expect(job.messages).toBe(counts.length);
    expect(job.peak_statements).toBe(Math.max(...counts));
    expect(lines.map((l) => JSON.parse(l).image_id)).toEqual(ids);
  });

  it("resumes from its checkpoint after a failed attempt, and ignores redelivered, duplicate and early messages", { timeout: 60_000 }, async () => {
    await seedFinalCaptions("ej-fail", 80, { prefix: "ejf" });
    const h = harness();
    const jobId = await startJob(h, "ej-fail", "refer");
    expect((await deliver(h, h.queued.shift()!)).acked).toBe(true);
    const second = h.queued.shift()!;
    const before = (await getExportJob(db(), jobId))!;

    // R2 refuses the attempt's carried bytes once: the attempt fails after writing its pages.
    let refusals = 1;
    const flaky = new Proxy(env.BLOBS, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop === "put") return (...args: Parameters<R2Bucket["put"]>) => (refusals-- > 0 ? Promise.reject(new Error("R2 is unavailable")) : target.put(...args));
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const failed = await deliver(h, second, { env: { ...h.env, BLOBS: flaky } });
    expect(failed).toMatchObject({ acked: false, retried: true });
    const afterFailure = (await getExportJob(db(), jobId))!;
    expect(afterFailure).toMatchObject({ seq: before.seq, rows: before.rows, lines: before.lines, bytes: before.bytes, cursor: before.cursor });
    expect(afterFailure.error).toMatch(/R2 is unavailable/);
    expect(h.queued).toEqual([]);

    // The retry queues the next message, then dies before its checkpoint (the queue's answer lost).
    const lostAnswer = {
      send: async (body: DraftQueueMessage) => {
        h.queued.push(structuredClone(body));
        throw new Error("the queue did not answer");
      },
    } as unknown as Queue<DraftQueueMessage>;
    expect(await deliver(h, second, { attempts: 2, env: { ...h.env, DRAFT_QUEUE: lostAnswer } })).toMatchObject({ acked: false, retried: true });
    expect((await getExportJob(db(), jobId))!.seq).toBe(before.seq);
    // That message is early (its checkpoint was never taken): asked to come back, nothing done.
    expect(h.queued).toEqual([{ kind: "export", jobId, seq: 2 }]);
    expect(await deliver(h, h.queued[0])).toMatchObject({ acked: false, retried: true });
    expect((await getExportJob(db(), jobId))!.seq).toBe(before.seq);

    // The next retry resumes from the same checkpoint and takes the next one.
    expect((await deliver(h, second, { attempts: 2 })).acked).toBe(true);
    const resumed = (await getExportJob(db(), jobId))!;
    expect(resumed.seq).toBe(2);
    expect(resumed.rows).toBeGreaterThan(before.rows);
    expect(resumed.error).toBeNull();
    expect(h.queued).toEqual([{ kind: "export", jobId, seq: 2 }, { kind: "export", jobId, seq: 2 }]);

    // Delivered again after it succeeded: dropped, nothing written or queued.
    expect((await deliver(h, second)).acked).toBe(true);
    expect(await getExportJob(db(), jobId)).toEqual(resumed);
    expect(h.queued).toHaveLength(2);

    // The two messages for checkpoint 2 at once: one advances it, the other's work is dropped.
    const [a, b] = h.queued.splice(0, 2);
    const both = await Promise.all([deliver(h, a), deliver(h, b)]);
    expect(both.every((r) => r.acked)).toBe(true);
    const third = (await getExportJob(db(), jobId))!;
    expect(third.seq).toBe(3);
    // Only the winner's carried bytes are left, the ones its checkpoint names.
    const carried = await env.BLOBS.list({ prefix: `${third.objectKey}.carry/` });
    expect(carried.objects.map((o) => o.key)).toEqual([third.carryKey]);
    // A checkpoint moves only from the one it was read at.
    expect(await advanceExportJob(db(), jobId, 2, { rows: 0 })).toBe(false);
    expect(await getExportJob(db(), jobId)).toEqual(third);
    expect(h.queued.length).toBeGreaterThanOrEqual(1);
    expect(h.queued.every((m) => m.kind === "export" && m.seq === 3)).toBe(true);

    await drain(h);
    const { lines } = await expectFileIsTheStream("ej-fail", jobId, "refer", 80);
    // Every image's two phrases once, in order: nothing repeated, nothing lost.
    expect(lines).toHaveLength(160);
    expect(new Set(lines).size).toBe(160);
  });

  it("spans R2 multipart parts across messages, carrying the bytes of an unfinished part between them", { timeout: 120_000 }, async () => {
    // ~36 KB per line (the caption twice: text and inline), ~11.5 MB in all: two whole parts and a last one.
    await seedFinalCaptions("ej-parts", 320, { prefix: "ejm", padding: 18_000 });
    const h = harness({ EXPORT_PAGE_IMAGES: "10" } as Partial<Env>);
    const jobId = await startJob(h, "ej-parts", "pancap");
    let uploads = 0;
    let refusals = 1;
    // The first part upload fails once: the message that filled the part is retried from its checkpoint.
    const flaky = new Proxy(env.BLOBS, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop === "resumeMultipartUpload") {
          return (key: string, uploadId: string) => {
            const upload = target.resumeMultipartUpload(key, uploadId);
            return new Proxy(upload, {
              get(u, p) {
                if (p === "uploadPart") {
                  return (n: number, part: Uint8Array) => {
                    uploads++;
                    return refusals-- > 0 ? Promise.reject(new Error("part upload failed")) : u.uploadPart(n, part);
                  };
                }
                const v = Reflect.get(u, p, u);
                return typeof v === "function" ? v.bind(u) : v;
              },
            });
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const run = { ...h.env, BLOBS: flaky };
    const counts: number[] = [];
    let retries = 0;
    let sawCarry = false;
    for (let guard = 0; h.queued.length > 0 && guard < 200; guard++) {
      const body = h.queued.shift()!;
      const r = await deliver(h, body, { env: run });
      counts.push(r.statements);
      if (r.retried) {
        retries++;
        expect(h.queued).toEqual([]);
        expect((await deliver(h, body, { env: run, attempts: 2 })).acked).toBe(true);
      }
      const row = (await getExportJob(db(), jobId))!;
      if (row.status === "running" && row.parts.length > 0 && row.carryKey) sawCarry = true;
    }
    expect(retries).toBe(1);
    expect(uploads).toBeGreaterThanOrEqual(3);
    expect(sawCarry).toBe(true);
    for (const n of counts) expect(n).toBeLessThanOrEqual(50);
    const row = (await getExportJob(db(), jobId))!;
    expect(row.parts.length).toBeGreaterThanOrEqual(2);
    expect(row.bytes).toBeGreaterThan(2 * PART_BYTES);
    await expectFileIsTheStream("ej-parts", jobId, "pancap", 320);
    // The carried bytes go once the file is whole.
    const leftovers = await env.BLOBS.list({ prefix: `${row.objectKey}.carry/` });
    expect(leftovers.objects).toEqual([]);
  });
});
