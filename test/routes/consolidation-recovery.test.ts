/**
 * Consolidation follows the accept that completes an image's round 1. A failure between the two
 * must not lose it: the accept's batch marks the image due, and the cron sweep consolidates it, once.
 */
import { createExecutionContext, createScheduledController, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import { recentInvocations } from "../../worker/store/statement-budget.ts";
import { call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";
import { claimNext, review, submissionBody, submit } from "../support/work.ts";

let lead: string, reviewer: string;
const ann: string[] = [];

beforeAll(async () => {
  lead = await tokenFor("lead", [], "cr-lead");
  reviewer = await tokenFor("reviewer", ["*"], "cr-rev");
  for (const who of ["cr-ann-1", "cr-ann-2"]) ann.push(await tokenFor("annotator", ["*"], who));
});

const count = async (sql: string, ...params: unknown[]) => (await env.DB.prepare(sql).bind(...params).first<{ n: number }>())!.n;
const state = async (imageId: string) => ({
  consolidations: await count("SELECT count(*) AS n FROM consolidations WHERE image_id = ?", imageId),
  regionTexts: await count("SELECT count(*) AS n FROM region_texts WHERE image_id = ?", imageId),
  round2Tasks: await count("SELECT count(*) AS n FROM tasks WHERE image_id = ? AND round = 2", imageId),
  due: await count("SELECT count(*) AS n FROM consolidations_due WHERE image_id = ?", imageId),
});

async function tick(at = Date.now() + 10_000) {
  await worker.scheduled(createScheduledController({ scheduledTime: at, cron: "* * * * *" }), env, createExecutionContext());
  return recentInvocations.filter((i) => i.label === "scheduled").at(-1)!;
}

describe("a failure after the accept", () => {
  it("leaves the image due, and the sweep consolidates it exactly once", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "cr-proj", settings: { redundancy: { round1: 2, round2: 1 } } });
    const image = await ingestScene(lead, "cr-proj", 91);
    const segments = image.segments.length;
    const subs: string[] = [];
    for (const who of ann) {
      const lease = (await claimNext(who, "cr-proj")).data;
      const s = await submit(who, lease, submissionBody(lease));
      expect(s.status).toBe(201);
      subs.push(s.data.id);
    }
    expect((await review(reviewer, subs[0], "accept")).status).toBe(201);
    expect(await state(image.id)).toEqual({ consolidations: 0, regionTexts: 0, round2Tasks: 0, due: 0 });

    // The consolidation's batch fails (as a lost connection or a D1 error would make it).
    await env.DB.exec("CREATE TRIGGER inject_consolidation_failure BEFORE INSERT ON consolidations BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    const key = crypto.randomUUID();
    const accept = await review(reviewer, subs[1], "accept", undefined, key);
    expect(accept.status).toBe(201);
    expect(await state(image.id)).toEqual({ consolidations: 0, regionTexts: 0, round2Tasks: 0, due: 1 });
    // A retry of the accept replays its answer and does not consolidate either: only the marker can.
    expect((await review(reviewer, subs[1], "accept", undefined, key)).status).toBe(201);
    expect((await state(image.id)).due).toBe(1);
    // While the failure lasts, the sweep leaves the marker for the next tick.
    await tick();
    expect(await state(image.id)).toEqual({ consolidations: 0, regionTexts: 0, round2Tasks: 0, due: 1 });

    await env.DB.exec("DROP TRIGGER inject_consolidation_failure");
    const run = await tick();
    expect(run.statements).toBeLessThanOrEqual(run.limit);
    expect(await state(image.id)).toEqual({ consolidations: 1, regionTexts: segments, round2Tasks: 1, due: 0 });
    // Once: more ticks change nothing.
    await tick();
    expect(await state(image.id)).toEqual({ consolidations: 1, regionTexts: segments, round2Tasks: 1, due: 0 });
    // and round 2 is open for work
    const round2 = await call("POST", "/v1/projects/cr-proj/tasks/next", { token: ann[0], json: { round: 2 } });
    expect(round2.status).toBe(200);
    expect(round2.data.image.id).toBe(image.id);
  });

  it("without a failure the accepting request consolidates and clears the marker itself", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "cr-direct", settings: { redundancy: { round1: 1, round2: 2 }, review: { required: false } } });
    const image = await ingestScene(lead, "cr-direct", 92);
    const lease = (await claimNext(ann[0], "cr-direct")).data;
    expect((await submit(ann[0], lease, submissionBody(lease))).status).toBe(201);
    expect(await state(image.id)).toEqual({ consolidations: 1, regionTexts: image.segments.length, round2Tasks: 2, due: 0 });
  });

  it("an accept that does not complete the image leaves nothing due", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "cr-partial", settings: { redundancy: { round1: 2 } } });
    const image = await ingestScene(lead, "cr-partial", 93);
    const lease = (await claimNext(ann[0], "cr-partial")).data;
    const s = await submit(ann[0], lease, submissionBody(lease));
    expect((await review(reviewer, s.data.id, "accept")).status).toBe(201);
    expect(await state(image.id)).toEqual({ consolidations: 0, regionTexts: 0, round2Tasks: 0, due: 0 });
  });
});
