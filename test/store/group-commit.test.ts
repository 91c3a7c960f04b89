/**
 * Group commit on the real D1 binding. Claims from different requests share batches only where the
 * runtime wakes a request in its own context (production, `wrangler dev`; the end-to-end test checks
 * that); the vitest pool turns that off, so here the calls come from one context, which may always
 * share a batch, and exercise the same code.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { dbOf } from "../../worker/store/db.ts";
import { BatchLostError, GroupCommit, groupCommit, MAX_BATCH } from "../../worker/store/group-commit.ts";
import { claimWithImage, commitBatch, submitContext, type ClaimRequest } from "../../worker/store/tasks.ts";
import { buildSubmission, submitStatements } from "../../worker/flows/submit.ts";
import { startTexts } from "../../worker/flows/start-text.ts";
import { rememberAnswer } from "../../worker/store/idempotency.ts";
import { getProject } from "../../worker/store/projects.ts";
import { getSubmission } from "../../worker/store/submissions.ts";
import { createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";

const rows = async <T>(sql: string, ...params: unknown[]) => (await env.DB.prepare(sql).bind(...params).all<T>()).results;

let lead: string;
beforeAll(async () => {
  lead = await tokenFor("lead", [], "gc-lead");
});

describe("group commit", () => {
  it("is off where one request cannot wake another (as in this pool), and on when asked", () => {
    expect(groupCommit(env.DB)).toBeNull();
    expect(groupCommit(env.DB, true)).not.toBeNull();
  });

  it("sends a statement at once and alone when nothing is in flight", async () => {
    const commit = groupCommit(env.DB, true)!;
    const first = await commit.run(env.DB.prepare("SELECT 1 AS one"));
    const second = await commit.run(env.DB.prepare("SELECT 2 AS two"));
    expect(first).toMatchObject({ batch: 1, result: { results: [{ one: 1 }] } });
    expect(second).toMatchObject({ batch: 1, result: { results: [{ two: 2 }] } });
  });

  it("claims that arrive together share batches; no task twice, no image above redundancy, nobody twice on an image", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "gc-claims", settings: { redundancy: { round1: 3 } } });
    for (const seed of [61, 62, 63, 64]) await ingestScene(lead, "gc-claims", seed);
    const db = dbOf(env.DB);
    const commit = groupCommit(env.DB, true)!;
    const request = (subject: string, i: number): ClaimRequest => ({
      projectId: "gc-claims",
      round: 1,
      kind: "edit",
      subject,
      token: `gc-token-${i}`,
      now: Date.now(),
      leaseMs: 60_000,
      templateStart: true,
    });
    // 10 people, three claims each, all at once: 30 claims for 12 tasks (4 images × 3 slots).
    const subjects = Array.from({ length: 30 }, (_, i) => `gc-ann-${i % 10}`);
    const outcomes = await Promise.all(subjects.map((s, i) => claimWithImage(db, request(s, i), commit)));

    const batches = outcomes.map((o) => o.batch);
    expect(Math.max(...batches)).toBeGreaterThan(1);
    expect(Math.max(...batches)).toBeLessThanOrEqual(MAX_BATCH);
    const leased = outcomes.flatMap((o, i) => (o.claimed ? [{ subject: subjects[i], task: o.claimed.task, image: o.claimed.image }] : []));
    expect(leased).toHaveLength(12);
    expect(new Set(leased.map((l) => l.task.id)).size).toBe(12);
    const perImage = new Map<string, string[]>();
    for (const l of leased) perImage.set(l.image.id, [...(perImage.get(l.image.id) ?? []), l.subject]);
    expect([...perImage.values()].map((who) => who.length)).toEqual([3, 3, 3, 3]);
    for (const who of perImage.values()) expect(new Set(who).size).toBe(who.length);
    // Each claim's lease is its own: owner and token as that claim bound them.
    for (const [i, o] of outcomes.entries()) {
      if (o.claimed) expect([o.claimed.task.leaseOwner, o.claimed.task.leaseToken]).toEqual([subjects[i], `gc-token-${i}`]);
    }
    // and the database agrees
    const db1 = await rows<{ n: number; owners: number }>(
      "SELECT count(*) AS n, count(DISTINCT lease_token) AS owners FROM tasks WHERE project_id = 'gc-claims' AND status = 'leased'",
    );
    expect(db1[0]).toEqual({ n: 12, owners: 12 });
    const twice = await rows("SELECT image_id, subject FROM image_workers WHERE round = 1 GROUP BY image_id, subject HAVING count(*) > 1");
    expect(twice).toEqual([]);
  });

  it("a statement that fails reaches only its caller; the others still commit, each exactly once", async () => {
    await env.DB.exec("CREATE TABLE gc_probe (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
    await env.DB.prepare("INSERT INTO gc_probe (id, v) VALUES (5, 'before')").run();
    const commit = groupCommit(env.DB, true)!;
    const insert = (id: number) => commit.run(env.DB.prepare("INSERT INTO gc_probe (id, v) VALUES (?, 'batched')").bind(id));
    const settled = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => insert(i + 1)));

    const failed = settled.flatMap((s, i) => (s.status === "rejected" ? [{ id: i + 1, reason: String(s.reason) }] : []));
    expect(failed).toHaveLength(1);
    expect(failed[0].id).toBe(5);
    expect(failed[0].reason).toMatch(/UNIQUE constraint failed|PRIMARY KEY/i);
    const stored = await rows<{ id: number; v: string }>("SELECT id, v FROM gc_probe ORDER BY id");
    expect(stored).toEqual(Array.from({ length: 10 }, (_, i) => ({ id: i + 1, v: i + 1 === 5 ? "before" : "batched" })));
  });

  it("a batch that does not answer in time: the queue moves on without it, waiting statements not in it go on, one already in it is reported lost", async () => {
    await env.DB.exec("CREATE TABLE gc_slow (id INTEGER PRIMARY KEY)");
    // The real binding, with each batch held until the test lets it go (a D1 that is slow to answer).
    const gates: (() => void)[] = [];
    const slow = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") {
          return async (statements: D1PreparedStatement[]) => {
            await new Promise<void>((go) => gates.push(go));
            return target.batch(statements);
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const commit = new GroupCommit(slow, 500);
    const insert = (id: number) => commit.run(env.DB.prepare("INSERT INTO gc_slow (id) VALUES (?)").bind(id));
    const until = async (n: number) => {
      while (gates.length < n) await new Promise((r) => setTimeout(r, 5));
    };

    // 1 leads a batch that hangs; 2 and 3 wait and are not in it. At 500 ms the hung lead is given
    // up on (its request may be gone for good): 2 goes alone, 3 leads the next batch.
    const first = insert(1);
    await until(1);
    const second = insert(2);
    const third = insert(3);
    expect((await second).batch).toBe(1);
    await until(2);
    gates[1]();
    expect((await third).batch).toBe(1);
    // Nothing holds the queue now: a statement arriving leads at once, it does not wait out a timer.
    const started = Date.now();
    const sixth = insert(6);
    await until(3);
    expect(Date.now() - started).toBeLessThan(250);
    gates[2]();
    expect((await sixth).batch).toBe(1);
    // 1's batch answers late: it was applied, and it hands nothing over (no second lead starts).
    gates[0]();
    expect((await first).batch).toBe(1);

    // 7 leads a batch that hangs; 4 and 5 wait; 7's batch answers, 4 leads the next with 5 in it,
    // and that batch hangs past 5's wait: 5 is told it was lost (its statement may have run), 4 still gets its answer.
    const seventh = insert(7);
    await until(4);
    const fourth = insert(4);
    const fifth = insert(5).catch((e: unknown) => e);
    gates[3]();
    expect((await seventh).batch).toBe(1);
    await until(5);
    const lost = await fifth;
    expect(lost).toBeInstanceOf(BatchLostError);
    expect(String((lost as Error).message)).toMatch(/may or may not have been applied/);
    gates[4]();
    expect((await fourth).batch).toBe(2);
    // The lost statement had in fact been applied, once: what a keyed retry would find.
    expect(await rows<{ id: number }>("SELECT id FROM gc_slow ORDER BY id")).toEqual([1, 2, 3, 4, 5, 6, 7].map((id) => ({ id })));
  });
});

describe("group commit of submits", () => {
  it("a submit's read through group commit is the read without it", async () => {
    await createProject(lead, { id: "gc-read" });
    await ingestScene(lead, "gc-read", 70);
    const db = dbOf(env.DB);
    const { claimed } = await claimWithImage(db, { ...claimFor("gc-read", "gc-reader", "gc-read-token") }, null);
    expect(claimed).not.toBeNull();
    const commit = groupCommit(env.DB, true)!;
    const [batched, direct] = await Promise.all([submitContext(db, claimed!.task.id, "gc-reader", "k-1", commit), submitContext(db, claimed!.task.id, "gc-reader", "k-1", null)]);
    expect(batched).toEqual(direct);
    expect(batched!.task.leaseToken).toBe("gc-read-token");
    expect(await submitContext(db, "tsk_00000000000000000000000000", "gc-reader", "k-1", commit)).toBeNull();
  });

  it("each request's write batch commits whole or not at all, shares D1 batches with others, and its failure reaches only it", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "gc-submits", settings: { redundancy: { round1: 2 } } });
    for (const seed of [71, 72, 73, 74]) await ingestScene(lead, "gc-submits", seed);
    const db = dbOf(env.DB);
    const project = (await getProject(db, "gc-submits"))!;
    const commit = groupCommit(env.DB, true)!;
    // Eight people, one lease each, then each builds its submit as the route does.
    const prepared = [];
    for (let i = 0; i < 8; i++) {
      const subject = `gc-sub-${i}`;
      const { claimed } = await claimWithImage(db, claimFor("gc-submits", subject, `gc-sub-token-${i}`), null);
      const context = (await submitContext(db, claimed!.task.id, subject, `gc-key-${i}`, null))!;
      const start = await startTexts(db, context.image, context.segments, "template", null, null);
      const body = { lease_token: i === 6 ? "forged" : claimed!.task.leaseToken!, regions: [...start.texts].map(([segment_id, text]) => ({ segment_id, action: "accepted" as const, text })) };
      const now = Date.now();
      const row = await buildSubmission(db, context, project, context.task, subject, body, now);
      const queries = [...submitStatements(db, project, context.task, row, now), rememberAnswer(db, subject, `gc-key-${i}`, `submit:${context.task.id}`, "hash", 201, { id: row.id }, now)];
      prepared.push({ subject, task: context.task, row, queries });
    }
    // First four together: they share batches (the first leaves alone, the others wait and go together).
    const first = await Promise.all(prepared.slice(0, 4).map((p) => commitBatch(db, p.queries, commit)));
    expect(Math.max(...first)).toBeGreaterThan(1);
    // Then four more, one of them with a forged lease token: its trigger aborts the shared batch, each is sent again alone.
    const settled = await Promise.allSettled(prepared.slice(4).map((p) => commitBatch(db, p.queries, commit)));
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(/lease_not_held/);

    for (const [i, p] of prepared.entries()) {
      const stored = await getSubmission(db, p.row.id);
      const reviews = await rows<{ n: number }>("SELECT count(*) AS n FROM tasks WHERE kind = 'review' AND submission_id = ?", p.row.id);
      const answers = await rows<{ n: number }>("SELECT count(*) AS n FROM idempotency WHERE subject = ? AND key = ?", p.subject, `gc-key-${i}`);
      const [task] = await rows<{ status: string }>("SELECT status FROM tasks WHERE id = ?", p.task.id);
      if (i === 6) {
        // Nothing of the failing request's batch happened.
        expect([stored, reviews[0].n, answers[0].n, task.status]).toEqual([undefined, 0, 0, "leased"]);
      } else {
        // Everything of the others', once, stored as db.batch stores it (JSON columns included).
        expect(stored).toEqual(p.row);
        expect([reviews[0].n, answers[0].n, task.status]).toEqual([1, 1, "submitted"]);
      }
    }
  });
});

function claimFor(projectId: string, subject: string, token: string): ClaimRequest {
  return { projectId, round: 1, kind: "edit", subject, token, now: Date.now(), leaseMs: 60_000, templateStart: true };
}
