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
const counted = { claims: 0, releases: 0, expiries: 0, submits: 0, accepts: 0, rejects: 0 };
const byPerson = new Map<string, { tasks: number; accepted: number; rejected: number }>();
const person = (subject: string) => {
  let p = byPerson.get(subject);
  if (!p) byPerson.set(subject, (p = { tasks: 0, accepted: 0, rejected: 0 }));
  return p;
};

beforeAll(async () => {
  await createProject(await lead(), { id: PROJECT, settings: { redundancy: { round1: 2 } } });
  for (const seed of [31, 32, 33, 34, 35]) await ingestScene(await lead(), PROJECT, seed);
});

describe("the progress report", () => {
  it("counts at write time what a random workload did, and a recount finds no drift", { timeout: 60_000 }, async () => {
    const random = seededRandom(20261202);
    const annotators = await Promise.all([0, 1, 2, 3].map((i) => tokenFor("annotator", [PROJECT], `rep-ann-${i}`)));
    const reviewer = await tokenFor("reviewer", [PROJECT], "rep-rev");
    // A rubber stamp: three tasks, every region left as drafted, in no time.
    const stamper = await tokenFor("annotator", [PROJECT], "rep-stamp");
    for (let i = 0; i < 3; i++) {
      const lease = await claimNext(stamper, PROJECT);
      counted.claims++;
      expect((await submit(stamper, lease.data, submissionBody(lease.data))).status).toBe(201);
      counted.submits++;
      person("rep-stamp").tasks++;
    }
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
      person(`rep-ann-${annotators.indexOf(who)}`).tasks++;
      const task = await claimNext(reviewer, PROJECT, "review");
      expect(task.status).toBe(200);
      const decision = random() < 0.25 ? "reject" : "accept";
      const r = await review(reviewer, task.data.submission.id, decision, decision === "reject" ? "too vague" : undefined);
      expect(r.status, JSON.stringify(r.data)).toBe(201);
      if (decision === "accept") counted.accepts++;
      else counted.rejects++;
      person(task.data.submission.subject)[decision === "accept" ? "accepted" : "rejected"]++;
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

  it("gives each person's work and its fate, paged and sorted, and flags the rubber stamp", async () => {
    const all = await call("GET", `/v1/projects/${PROJECT}/report/annotators?round=1&limit=500`, { token: await lead() });
    expect(all.status).toBe(200);
    const mine = Object.fromEntries(all.data.items.filter((r: any) => r.tasks > 0).map((r: any) => [r.subject, { tasks: r.tasks, accepted: r.accepted, rejected: r.rejected }]));
    expect(mine).toEqual(Object.fromEntries([...byPerson].filter(([, v]) => v.tasks > 0)));
    const stamp = all.data.items.find((r: any) => r.subject === "rep-stamp");
    expect(stamp).toMatchObject({ tasks: 3, unchanged_share: 1, rubber_stamp: true });
    expect(all.data.items.filter((r: any) => r.rubber_stamp).map((r: any) => r.subject)).toEqual(
      all.data.items.filter((r: any) => r.tasks >= 3 && r.unchanged_share >= 0.95 && r.mean_seconds <= 20).map((r: any) => r.subject),
    );
    const reviewerRow = all.data.items.find((r: any) => r.subject === "rep-rev");
    expect(reviewerRow.reviews).toBe(counted.accepts + counted.rejects);
    // Sorted by tasks, paged two at a time: the pages join up to the whole table, in order.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call("GET", `/v1/projects/${PROJECT}/report/annotators?round=1&sort=tasks&order=desc&limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token: await lead() });
      seen.push(...page.data.items.map((r: any) => r.subject));
      cursor = page.data.next_cursor;
    } while (cursor);
    const tasks = new Map(all.data.items.map((r: any) => [r.subject, r.tasks]));
    expect(seen.length).toBe(all.data.items.length);
    expect(seen.map((s) => tasks.get(s))).toEqual([...seen.map((s) => tasks.get(s))].sort((a: any, b: any) => b - a));
    const csv = parseCsv(await (await call("GET", `/v1/projects/${PROJECT}/report/annotators?round=1&sort=subject&order=asc`, { token: await lead(), headers: { accept: "text/csv" } })).res.text());
    expect(csv[0].slice(0, 3)).toEqual(["subject", "round", "tasks"]);
    expect(csv.slice(1).map((r) => r[0])).toEqual([...all.data.items.map((r: any) => r.subject)].sort());
  });

  it("describes the final captions as they became final, and follows a caption that changes", async () => {
    const image = await env.DB.prepare("SELECT id FROM images WHERE project_id = ? ORDER BY id").bind(PROJECT).all<{ id: string }>();
    const stats = (words: number, nouns: string[]) => JSON.stringify({ words, masks: 5, groundedMasks: 3, spans: 3, nouns });
    const coverage = (area: number) => JSON.stringify({ segments: 0.6, things: 1, area, groundedIds: [], ungroundedThings: [] });
    const insert = (id: string, words: number, nouns: string[], area: number) =>
      env.DB.prepare(
        `INSERT INTO final_captions (image_id, project_id, version, text, spans, submission_id, draft_key, region_versions, coverage, stats, effort, stale, updated_at)
         VALUES (?, ?, 1, 'x', '[]', 'sub_x', NULL, '{}', ?, ?, '{}', 0, ?)`,
      ).bind(id, PROJECT, coverage(area), stats(words, nouns), Date.now());
    await env.DB.batch([
      insert(image.results[0].id, 30, ["dog", "grass", "dog"], 0.7),
      insert(image.results[1].id, 120, ["dog", "sky"], 0.95),
      insert(image.results[2].id, 410, ["tree"], 0.05),
    ]);
    let r = (await call("GET", `/v1/projects/${PROJECT}/report/dataset`, { token: await lead() })).data;
    expect(r).toMatchObject({ final_captions: 3, images: 5, grounded_masks_per_caption: 3, masks_per_captioned_image: 5, paper: { samples: 118000, words: 203, masks: 13.2 } });
    expect(r.words.mean).toBeCloseTo((30 + 120 + 410) / 3, 12);
    expect(r.top_nouns).toEqual([{ noun: "dog", count: 3 }, { noun: "grass", count: 1 }, { noun: "sky", count: 1 }, { noun: "tree", count: 1 }]);
    expect(r.words.histogram.filter((b: any) => b.count > 0)).toEqual([{ upper: 50, count: 1 }, { upper: 150, count: 1 }, { upper: null, count: 1 }]);
    expect(r.coverage.area_mean).toBeCloseTo((0.7 + 0.95 + 0.05) / 3, 12);
    expect(r.coverage.area_histogram.filter((b: any) => b.count > 0)).toEqual([{ upper_percent: 10, count: 1 }, { upper_percent: 80, count: 1 }, { upper_percent: 100, count: 1 }]);
    // A new version of one caption: its old figures out, its new ones in.
    await env.DB.prepare("UPDATE final_captions SET version = 2, stats = ? WHERE image_id = ?").bind(stats(60, ["cat"]), image.results[0].id).run();
    r = (await call("GET", `/v1/projects/${PROJECT}/report/dataset`, { token: await lead() })).data;
    expect(r.top_nouns).toEqual([{ noun: "cat", count: 1 }, { noun: "dog", count: 1 }, { noun: "sky", count: 1 }, { noun: "tree", count: 1 }]);
    expect(r.words.mean).toBeCloseTo((60 + 120 + 410) / 3, 12);
    const nouns = parseCsv(await (await call("GET", `/v1/projects/${PROJECT}/report/dataset?table=nouns`, { token: await lead(), headers: { accept: "text/csv" } })).res.text());
    expect(nouns).toEqual([["noun", "count"], ["cat", "1"], ["dog", "1"], ["sky", "1"], ["tree", "1"]]);
    const rebuilt = await call("POST", `/v1/projects/${PROJECT}/report/rebuild`, { token: await lead() });
    expect(rebuilt.data.drift).toEqual([]);
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
