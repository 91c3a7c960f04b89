import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { parseCsv } from "../../worker/domain/csv.ts";
import { seededRandom } from "../../worker/domain/random.ts";
import { sweep } from "../../worker/jobs/sweep.ts";
import { call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";
import { claimNext, review, submissionBody, submit } from "../support/work.ts";

/**
 * The progress report against a random workload whose figures this test counts itself, as it goes:
 * claims, releases, expiries, submissions, accepts and rejects (with rework). Afterwards the
 * counters, kept by triggers at write time, must equal a recount from the source tables.
 */
const PROJECT = "report-proj";
const lead = () => tokenFor("lead", [PROJECT], "report-lead");
const counted = { claims: 0, releases: 0, expiries: 0, submits: 0, accepts: 0, rejects: 0, submitMs: [] as number[] };

beforeAll(async () => {
  await createProject(await lead(), { id: PROJECT, settings: { redundancy: { round1: 2 } } });
  for (const seed of [31, 32, 33, 34, 35]) await ingestScene(await lead(), PROJECT, seed);
});

describe("the progress report", () => {
  it("counts at write time what a random workload did, and a recount finds no drift", { timeout: 60_000 }, async () => {
    const random = seededRandom(20261202);
    const annotators = await Promise.all([0, 1, 2, 3].map((i) => tokenFor("annotator", [PROJECT], `rep-ann-${i}`)));
    const reviewer = await tokenFor("reviewer", [PROJECT], "rep-rev");
    for (let step = 0; step < 60; step++) {
      const who = annotators[Math.floor(random() * annotators.length)];
      const lease = await claimNext(who, PROJECT);
      if (lease.status === 204) continue;
      expect(lease.status).toBe(200);
      counted.claims++;
      const roll = random();
      if (roll < 0.15) {
        const r = await call("POST", `/v1/tasks/${lease.data.task_id}/release`, { token: who, json: { lease_token: lease.data.lease_token } });
        expect(r.status).toBe(200);
        counted.releases++;
        continue;
      }
      if (roll < 0.25) {
        // The annotator walks away: the lease runs out and the sweep reopens it.
        await env.DB.prepare("UPDATE tasks SET lease_expires = ? WHERE id = ?").bind(Date.now() - 1000, lease.data.task_id).run();
        const swept = await sweep(env, Date.now());
        expect(swept.reopened).toBe(1);
        counted.expiries++;
        continue;
      }
      const s = await submit(who, lease.data, submissionBody(lease.data, random() < 0.5 ? { [lease.data.start.texts[0].segment_id]: `A region, edited at step ${step}.` } : {}));
      expect(s.status, JSON.stringify(s.data)).toBe(201);
      counted.submits++;
      const task = await claimNext(reviewer, PROJECT, "review");
      expect(task.status).toBe(200);
      const decision = random() < 0.25 ? "reject" : "accept";
      const r = await review(reviewer, task.data.submission.id, decision, decision === "reject" ? "too vague" : undefined);
      expect(r.status, JSON.stringify(r.data)).toBe(201);
      if (decision === "accept") counted.accepts++;
      else counted.rejects++;
    }
    expect(counted.submits).toBeGreaterThan(10);
    expect(counted.rejects).toBeGreaterThan(0);
    expect(counted.releases + counted.expiries).toBeGreaterThan(0);

    const res = await call("GET", `/v1/projects/${PROJECT}/report`, { token: await lead() });
    expect(res.status).toBe(200);
    const r1 = res.data.rounds[0];
    expect(res.data.images).toBe(5);
    expect(r1.tasks).toMatchObject({
      created: 10 + counted.rejects, // two slots per image, and a rework task per rejection
      claimed: counted.claims,
      submitted: counted.submits,
      accepted: counted.accepts,
      rejected: counted.rejects,
      released: counted.releases,
      expired: counted.expiries,
    });
    expect(r1.rejection_rate).toBeCloseTo(counted.rejects / (counted.accepts + counted.rejects), 12);
    const open = await env.DB.prepare("SELECT status, COUNT(*) AS n FROM tasks WHERE project_id = ? AND round = 1 AND kind = 'edit' GROUP BY status").bind(PROJECT).all<{ status: string; n: number }>();
    const n = (s: string) => open.results.find((x) => x.status === s)?.n ?? 0;
    expect(r1.in_progress).toMatchObject({ open: n("open"), leased: n("leased"), held: n("held"), awaiting_review: n("submitted") });
    expect(res.data.eta.remaining).toBe(n("open") + n("leased") + n("held") + n("submitted") + (res.data.rounds[1].in_progress.open + res.data.rounds[1].in_progress.leased));
    const today = new Date().toISOString().slice(0, 10);
    expect(res.data.per_day.find((d: { day: string }) => d.day === today)).toMatchObject({ images: 5, submitted: counted.submits, accepted: counted.accepts });
    // Time per task: the histogram holds every submission.
    expect(r1.time.submissions).toBe(counted.submits);
    expect(r1.time.histogram.reduce((s: number, b: { count: number }) => s + b.count, 0)).toBe(counted.submits);

    const csv = await call("GET", `/v1/projects/${PROJECT}/report?table=rounds`, { token: await lead(), headers: { accept: "text/csv" } });
    const table = parseCsv(await csv.res.text());
    expect(table[0].slice(0, 6)).toEqual(["round", "created", "claimed", "submitted", "accepted", "rejected"]);
    expect(table[1].slice(0, 6)).toEqual(["1", String(10 + counted.rejects), String(counted.claims), String(counted.submits), String(counted.accepts), String(counted.rejects)]);

    const rebuilt = await call("POST", `/v1/projects/${PROJECT}/report/rebuild`, { token: await lead() });
    expect(rebuilt.status).toBe(200);
    expect(rebuilt.data.drift).toEqual([]);
    expect(rebuilt.data.counters).toBeGreaterThan(20);
    // The people counters: each annotator's submissions and their fate.
    const people = await env.DB.prepare("SELECT SUM(value) AS n FROM annotator_counters WHERE project_id = ? AND metric = 'tasks'").bind(PROJECT).first<{ n: number }>();
    expect(people!.n).toBe(counted.submits);
  });

  it("reports drift when a counter was written by hand, and puts it right", async () => {
    await env.DB.prepare("UPDATE report_counters SET value = value + 7 WHERE project_id = ? AND metric = 'images' AND day = ''").bind(PROJECT).run();
    const first = await call("POST", `/v1/projects/${PROJECT}/report/rebuild`, { token: await lead() });
    expect(first.data.drift).toEqual([{ metric: "images", dim: "", day: "", kept: 12, recounted: 5 }]);
    const again = await call("POST", `/v1/projects/${PROJECT}/report/rebuild`, { token: await lead() });
    expect(again.data.drift).toEqual([]);
    expect((await call("GET", `/v1/projects/${PROJECT}/report`, { token: await lead() })).data.images).toBe(5);
  });

  it("is for leads", async () => {
    const annotator = await tokenFor("annotator", [PROJECT], "rep-ann-0");
    expect((await call("GET", `/v1/projects/${PROJECT}/report`, { token: annotator })).status).toBe(403);
    expect((await call("POST", `/v1/projects/${PROJECT}/report/rebuild`, { token: annotator })).status).toBe(403);
  });
});
