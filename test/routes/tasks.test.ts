import { createExecutionContext, createScheduledController, env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index.ts";
import { call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";
import { claimNext, review, submissionBody, submit } from "../support/work.ts";

let lead: string;
const annotators: string[] = [];
let reviewer: string;

beforeAll(async () => {
  lead = await tokenFor("lead", [], "tasks-lead");
  for (let i = 0; i < 8; i++) annotators.push(await tokenFor("annotator", ["*"], `ann-${i}`));
  reviewer = await tokenFor("reviewer", ["*"], "rev-1");
});

afterEach(() => {
  vi.useRealTimers();
});

const rows = async <T>(sql: string, ...params: unknown[]) => (await env.DB.prepare(sql).bind(...params).all<T>()).results;

describe("claims under concurrency", () => {
  it("no task leased twice, no image above redundancy, nobody twice on one image", { timeout: 60_000 }, async () => {
    await createProject(lead, { id: "t-conc", settings: { redundancy: { round1: 2 } } });
    const images = [];
    for (const seed of [41, 42, 43]) images.push(await ingestScene(lead, "t-conc", seed));
    const attempts = annotators.flatMap((token, i) => [0, 1, 2].map(() => ({ token, who: `ann-${i}` })));
    const results = await Promise.all(attempts.map(async (a) => ({ ...a, r: await claimNext(a.token, "t-conc") })));
    const leased = results.filter((x) => x.r.status === 200);
    expect(results.every((x) => x.r.status === 200 || x.r.status === 204)).toBe(true);
    expect(leased).toHaveLength(6); // 3 images × redundancy 2
    // This pool does not let one request wake another, so each claim goes alone (and says so).
    expect(new Set(results.map((x) => /claim;desc="[^"]*"/.exec(x.r.res.headers.get("server-timing") ?? "")?.[0]))).toEqual(new Set(['claim;desc="batch of 1"']));

    const taskIds = leased.map((x) => x.r.data.task_id);
    expect(new Set(taskIds).size).toBe(taskIds.length);
    const perImage = new Map<string, string[]>();
    for (const x of leased) perImage.set(x.r.data.image.id, [...(perImage.get(x.r.data.image.id) ?? []), x.who]);
    for (const [, who] of perImage) {
      expect(who.length).toBeLessThanOrEqual(2);
      expect(new Set(who).size).toBe(who.length);
    }
    // and the database agrees
    const held = await rows<{ image_id: string; n: number }>("SELECT image_id, count(*) AS n FROM image_workers WHERE round = 1 GROUP BY image_id");
    expect(held.every((h) => h.n === 2)).toBe(true);
    const lease = leased[0].r.data;
    expect(lease.regions.length).toBeGreaterThan(1);
    expect(lease.start.texts).toHaveLength(lease.regions.length);
    expect(lease.start.source).toBe("template");
    expect(new Set(lease.regions.map((r: any) => r.mark))).toEqual(new Set(lease.regions.map((_: unknown, i: number) => i + 1)));
  });
});

describe("the lease payload", () => {
  // The claim reads the image and its segments inside its own UPDATE … RETURNING (as JSON); the
  // image detail reads them with the ordinary segments query. Both must tell the same story.
  it("carries the image and every region exactly as the image detail has them, also on a keyed retry", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "t-payload" });
    const image = await ingestScene(lead, "t-payload", 77);
    const detail = (await call("GET", `/v1/images/${image.id}`, { token: lead })).data;
    const claimWith = () => call("POST", "/v1/projects/t-payload/tasks/next", { token: annotators[5], json: { round: 1, kind: "edit" }, headers: { "idempotency-key": "payload-1" } });
    const first = await claimWith();
    const retry = await claimWith();
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    for (const lease of [first.data, retry.data]) {
      expect(lease.image).toMatchObject({ id: detail.id, width: detail.width, height: detail.height });
      expect(lease.regions.map((r: any) => r.segment_id)).toEqual(detail.segments.map((s: any) => s.id));
      for (const r of lease.regions) {
        const s = detail.segments.find((x: any) => x.id === r.segment_id);
        expect({ category: r.category, isthing: r.isthing, area: r.area, bbox: r.bbox }).toEqual({ category: s.category, isthing: s.isthing, area: s.area, bbox: s.bbox });
      }
      expect(lease.regions.some((r: any) => r.isthing)).toBe(true);
      expect(lease.regions.some((r: any) => !r.isthing)).toBe(true);
    }
    expect(retry.data.task_id).toBe(first.data.task_id);
    expect(retry.data.regions).toEqual(first.data.regions);
    expect(retry.data.start.texts).toEqual(first.data.start.texts);
  });
});

describe("review tasks", () => {
  it("a direct review closes the submission's review task, so no reviewer is handed it afterwards", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "t-revtask" });
    await ingestScene(lead, "t-revtask", 78);
    await ingestScene(lead, "t-revtask", 79); // a second image, whose tasks must stay untouched
    const lease = (await claimNext(annotators[4], "t-revtask")).data;
    const sub = (await submit(annotators[4], lease, submissionBody(lease))).data;
    const reviewTasks = () =>
      rows<{ image_id: string; status: string; submission_id: string | null }>("SELECT image_id, status, submission_id FROM tasks WHERE project_id = 't-revtask' AND kind = 'review'");
    expect(await reviewTasks()).toEqual([{ image_id: lease.image.id, status: "open", submission_id: sub.id }]);

    expect((await review(reviewer, sub.id, "accept")).status).toBe(201);
    expect(await reviewTasks()).toEqual([{ image_id: lease.image.id, status: "accepted", submission_id: sub.id }]);
    expect((await claimNext(reviewer, "t-revtask", "review")).status).toBe(204);
    const edits = await rows<{ status: string; n: number }>("SELECT status, count(*) AS n FROM tasks WHERE project_id = 't-revtask' AND kind = 'edit' AND round = 1 GROUP BY status ORDER BY status");
    expect(edits).toEqual([{ status: "accepted", n: 1 }, { status: "open", n: 1 }]);
  });
});

describe("leases in controlled time", () => {
  async function oneTaskProject(id: string, seed: number) {
    await createProject(lead, { id, settings: { leaseSeconds: 60 } });
    return ingestScene(lead, id, seed);
  }

  it("an expired lease comes back; the late submit is refused and the new holder's work stands", { timeout: 30_000 }, async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    await oneTaskProject("t-expire", 51);
    const a = (await claimNext(annotators[0], "t-expire")).data;
    expect((await claimNext(annotators[1], "t-expire")).status).toBe(204);
    vi.setSystemTime(Date.now() + 61_000);
    const b = await claimNext(annotators[1], "t-expire");
    expect(b.status).toBe(200);
    expect(b.data.task_id).toBe(a.task_id);

    const beat = await call("POST", `/v1/tasks/${a.task_id}/heartbeat`, { token: annotators[0], json: { lease_token: a.lease_token } });
    expect(beat.status).toBe(409);
    const late = await submit(annotators[0], a, submissionBody(a));
    expect(late.status).toBe(409);
    expect(late.data.type).toMatch(/lease-not-held$/);
    const fresh = await submit(annotators[1], b.data, submissionBody(b.data));
    expect(fresh.status).toBe(201);
    expect(fresh.data.subject).toBe("ann-1");
    expect(await rows("SELECT id FROM submissions WHERE task_id = ?", a.task_id)).toHaveLength(1);
  });

  it("a heartbeat keeps the lease alive past its first expiry", { timeout: 30_000 }, async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    await oneTaskProject("t-beat", 52);
    const a = (await claimNext(annotators[0], "t-beat")).data;
    vi.setSystemTime(Date.now() + 50_000);
    const beat = await call("POST", `/v1/tasks/${a.task_id}/heartbeat`, { token: annotators[0], json: { lease_token: a.lease_token } });
    expect(beat.status).toBe(200);
    expect(Date.parse(beat.data.lease_expires_at)).toBe(Date.now() + 60_000);
    vi.setSystemTime(Date.now() + 50_000); // 100 s after the claim, 50 s after the heartbeat
    expect((await claimNext(annotators[1], "t-beat")).status).toBe(204);
    expect((await submit(annotators[0], a, submissionBody(a))).status).toBe(201);
  });

  it("a release hands the task to someone else; the sweep reopens expired leases", { timeout: 30_000 }, async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    await oneTaskProject("t-release", 53);
    const a = (await claimNext(annotators[0], "t-release")).data;
    expect((await call("POST", `/v1/tasks/${a.task_id}/release`, { token: annotators[0], json: { lease_token: "wrong" } })).status).toBe(409);
    expect((await call("POST", `/v1/tasks/${a.task_id}/release`, { token: annotators[0], json: { lease_token: a.lease_token } })).status).toBe(200);
    expect((await claimNext(annotators[0], "t-release")).status).toBe(204); // they handed it back: not theirs again
    const b = (await claimNext(annotators[1], "t-release")).data;
    expect(b.task_id).toBe(a.task_id);

    vi.setSystemTime(Date.now() + 61_000);
    await worker.scheduled(createScheduledController(), env, createExecutionContext());
    expect((await rows<{ status: string }>("SELECT status FROM tasks WHERE id = ?", b.task_id))[0].status).toBe("open");
    const events = await rows<{ from_status: string; to_status: string; subject: string }>("SELECT from_status, to_status, subject FROM task_events WHERE task_id = ? ORDER BY id", a.task_id);
    expect(events).toEqual([
      { from_status: "open", to_status: "leased", subject: "ann-0" },
      { from_status: "leased", to_status: "open", subject: "ann-0" },
      { from_status: "open", to_status: "leased", subject: "ann-1" },
      { from_status: "leased", to_status: "open", subject: "ann-1" },
    ]);
  });
});

describe("keyed claims", () => {
  it("a retried claim with the same Idempotency-Key returns the same lease, not a second task", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "t-keyed", settings: { redundancy: { round1: 1 } } });
    for (const seed of [45, 46]) await ingestScene(lead, "t-keyed", seed);
    const claimWith = (key: string) => call("POST", "/v1/projects/t-keyed/tasks/next", { token: annotators[6], json: { round: 1 }, headers: { "idempotency-key": key } });
    const first = await claimWith("claim-1");
    const retry = await claimWith("claim-1");
    expect(retry.status).toBe(200);
    expect(retry.data.task_id).toBe(first.data.task_id);
    expect(retry.data.lease_token).toBe(first.data.lease_token);
    expect(await rows("SELECT id FROM tasks WHERE project_id = 't-keyed' AND status = 'leased'")).toHaveLength(1);
    // the same key from someone else is a different claim
    const other = await call("POST", "/v1/projects/t-keyed/tasks/next", { token: annotators[7], json: { round: 1 }, headers: { "idempotency-key": "claim-1" } });
    expect(other.data.task_id).not.toBe(first.data.task_id);
    // once the lease is submitted, the key no longer names a live lease: nothing left for this person
    expect((await submit(annotators[6], first.data, submissionBody(first.data))).status).toBe(201);
    expect((await claimWith("claim-1")).status).toBe(204);
  });
});

describe("submissions", () => {
  it("validates every region, computes effort, and a retry with the same key records nothing twice", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "t-sub" });
    const image = await ingestScene(lead, "t-sub", 61);
    const lease = (await claimNext(annotators[2], "t-sub")).data;
    const good = submissionBody(lease);
    const [first, second] = lease.start.texts;

    expect((await submit(annotators[2], lease, good, null)).data.errors[0].path).toBe("header.idempotency-key");
    const unknown = await submit(annotators[2], lease, { ...good, regions: [...good.regions, { segment_id: 999999, action: "accepted", text: "x" }] });
    expect(unknown.status).toBe(422);
    expect(unknown.data.errors[0].message).toContain("999999");
    const missing = await submit(annotators[2], lease, { ...good, regions: good.regions.slice(1) });
    expect(missing.status).toBe(422);
    expect(missing.data.errors[0].message).toContain(String(first.segment_id));
    const empty = await submit(annotators[2], lease, { ...good, regions: [{ segment_id: first.segment_id, action: "edited", text: "  " }, ...good.regions.slice(1)] });
    expect(empty.status).toBe(400);
    expect(empty.data.errors[0].path).toBe("body.regions[0].text");
    const long = await submit(annotators[2], lease, { ...good, regions: [{ segment_id: first.segment_id, action: "edited", text: "w ".repeat(1500) }, ...good.regions.slice(1)] });
    expect(long.status).toBe(400);
    const liar = await submit(annotators[2], lease, { ...good, regions: [{ segment_id: first.segment_id, action: "accepted", text: "a different text" }, ...good.regions.slice(1)] });
    expect(liar.status).toBe(422);
    expect(liar.data.errors[0].path).toBe("body.regions[0].action");
    const noReason = await submit(annotators[2], lease, { ...good, regions: [{ segment_id: first.segment_id, action: "skipped" }, ...good.regions.slice(1)] });
    expect(noReason.status).toBe(400);
    expect(await rows("SELECT id FROM submissions WHERE task_id = ?", lease.task_id)).toHaveLength(0);

    const body = submissionBody(lease, { [second.segment_id]: `${second.text} It is partly hidden behind the fence` });
    body.regions[0] = { segment_id: first.segment_id, action: "skipped", reason: "too_small" } as never;
    const key = crypto.randomUUID();
    const ok = await submit(annotators[2], lease, body, key);
    expect(ok.status).toBe(201);
    expect(ok.data.effort).toMatchObject({ skipped: 1, edited: 1, accepted: image.segments.length - 2, totalDistance: 7 });
    const edited = ok.data.regions.find((r: any) => r.segment_id === second.segment_id);
    expect(edited).toMatchObject({ action: "edited", distance: 7, draft_text: second.text });

    const retry = await submit(annotators[2], lease, body, key);
    expect(retry.status).toBe(201);
    expect(retry.data).toEqual(ok.data);
    expect(await rows("SELECT id FROM submissions WHERE task_id = ?", lease.task_id)).toHaveLength(1);
    const reused = await submit(annotators[2], lease, submissionBody(lease), key);
    expect(reused.status).toBe(409);
    expect(reused.data.detail).toContain("different request");
    const again = await submit(annotators[2], lease, body);
    expect(again.status).toBe(409);
    expect(again.data.submission_id).toBe(ok.data.id);

    // only the author (and reviewers, leads) may read it
    expect((await call("GET", `/v1/submissions/${ok.data.id}`, { token: annotators[2] })).status).toBe(200);
    expect((await call("GET", `/v1/submissions/${ok.data.id}`, { token: annotators[3] })).status).toBe(403);
    expect((await call("GET", `/v1/submissions/${ok.data.id}`, { token: reviewer })).status).toBe(200);
    const mine = await call("GET", "/v1/me/tasks", { token: annotators[2] });
    expect(mine.data.submissions.map((s: any) => s.id)).toContain(ok.data.id);
    expect((await call("GET", "/v1/me/tasks", { token: annotators[3] })).data.submissions.map((s: any) => s.id)).not.toContain(ok.data.id);
  });
});

describe("review, rework and consolidation", () => {
  it("a rejection reopens the work for someone else, starting from the rejected text with the reason", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "t-rework" });
    await ingestScene(lead, "t-rework", 71);
    const lease = (await claimNext(annotators[0], "t-rework")).data;
    const target = lease.start.texts[0];
    const sub = (await submit(annotators[0], lease, submissionBody(lease, { [target.segment_id]: "a blurry thing" }))).data;

    const noReason = await call("POST", `/v1/submissions/${sub.id}/reviews`, { token: reviewer, json: { decision: "reject" }, headers: { "idempotency-key": "k0" } });
    expect(noReason.status).toBe(400);
    expect(noReason.data.errors[0].path).toBe("body.reason");
    const rtask = await claimNext(reviewer, "t-rework", "review");
    expect(rtask.status).toBe(200);
    expect(rtask.data.submission.id).toBe(sub.id);

    const key = crypto.randomUUID();
    const rejected = await review(reviewer, sub.id, "reject", "too vague: say what the object is", key);
    expect(rejected.status).toBe(201);
    expect((await review(reviewer, sub.id, "reject", "too vague: say what the object is", key)).data).toEqual(rejected.data);
    expect((await review(reviewer, sub.id, "accept")).status).toBe(409);
    expect(await rows("SELECT id FROM reviews WHERE submission_id = ?", sub.id)).toHaveLength(1);

    expect((await claimNext(annotators[0], "t-rework")).status).toBe(204); // not the same person again
    const rework = await claimNext(annotators[1], "t-rework");
    expect(rework.status).toBe(200);
    expect(rework.data.start.source).toBe("rework");
    expect(rework.data.start.note).toContain("too vague");
    expect(rework.data.start.texts.find((t: any) => t.segment_id === target.segment_id).text).toBe("a blurry thing");
    const fixed = await submit(annotators[1], rework.data, submissionBody(rework.data, { [target.segment_id]: "a red bicycle leaning on the wall" }));
    expect(fixed.status).toBe(201);
    expect(fixed.data.effort.edited).toBe(1);
    expect((await call("GET", `/v1/submissions/${sub.id}`, { token: annotators[0] })).data.status).toBe("rejected");
  });

  it("three annotators, consolidation by agreement, a lead override, and the round-2 task that follows", { timeout: 60_000 }, async () => {
    await createProject(lead, { id: "t-cons", settings: { redundancy: { round1: 3, round2: 1 } } });
    const image = await ingestScene(lead, "t-cons", 81);
    const leases = [];
    for (const i of [3, 4, 5]) leases.push({ token: annotators[i], lease: (await claimNext(annotators[i], "t-cons")).data });
    const region = leases[0].lease.start.texts[0].segment_id;
    const texts = ["a brown dog running on the grass", "a brown dog running across the grass", "an animal"];
    const subs = [];
    for (const [i, { token, lease }] of leases.entries()) subs.push((await submit(token, lease, submissionBody(lease, { [region]: texts[i] }))).data);
    expect((await review(annotators[3], subs[1].id, "accept")).status).toBe(403); // annotators do not review

    for (const s of subs) expect((await review(reviewer, s.id, "accept")).status).toBe(201);
    const finals = await rows<{ segment_id: number; text: string; source: string; submission_id: string; agreement: number; version: number }>(
      "SELECT segment_id, text, source, submission_id, agreement, version FROM region_texts WHERE image_id = ? ORDER BY segment_id",
      image.id,
    );
    expect(finals).toHaveLength(image.segments.length);
    const chosen = finals.find((f) => f.segment_id === region)!;
    expect([texts[0], texts[1]]).toContain(chosen.text);
    expect(chosen.agreement).toBeGreaterThan(0.2);
    expect(chosen.agreement).toBeLessThan(1);
    const cons = await rows<{ agreement: number; submission_ids: string }>("SELECT agreement, submission_ids FROM consolidations WHERE image_id = ?", image.id);
    expect(JSON.parse(cons[0].submission_ids).sort()).toEqual(subs.map((s) => s.id).sort());
    expect(cons[0].agreement).toBeLessThan(1);
    const round2 = await rows<{ status: string }>("SELECT status FROM tasks WHERE image_id = ? AND round = 2 AND kind = 'edit'", image.id);
    expect(round2).toEqual([{ status: "open" }]);

    const override = await call("POST", `/v1/images/${image.id}/regions/${region}/adjudication`, {
      token: lead,
      json: { text: "a brown dog running on the grass toward a ball", reason: "adds the ball" },
      headers: { "if-match": '"1"' },
    });
    expect(override.status).toBe(200);
    expect(override.data).toMatchObject({ source: "adjudicated", version: 2 });
    const stale = await call("POST", `/v1/images/${image.id}/regions/${region}/adjudication`, { token: lead, json: { text: "x y" }, headers: { "if-match": '"1"' } });
    expect(stale.status).toBe(412);
    expect((await call("POST", `/v1/images/${image.id}/regions/${region}/adjudication`, { token: reviewer, json: { text: "x" } })).status).toBe(403);

    // the merge draft can now be made from the final texts
    const merge = await call("GET", `/v1/images/${image.id}/drafts/2`, { token: lead });
    expect(merge.status).toBe(200);
    expect(merge.data.caption.text).toContain("toward a ball");

    const history = await call("GET", `/v1/images/${image.id}/history`, { token: lead });
    const types = history.data.events.map((e: any) => e.type);
    expect(types.filter((t: string) => t === "submission")).toHaveLength(3);
    expect(types.filter((t: string) => t === "review")).toHaveLength(3);
    expect(types.indexOf("consolidation")).toBeGreaterThan(types.lastIndexOf("submission"));
    expect(types.indexOf("adjudication")).toBeGreaterThan(types.indexOf("consolidation"));
    expect((await call("GET", `/v1/images/${image.id}/history`, { token: annotators[3] })).status).toBe(403);
  });
});
