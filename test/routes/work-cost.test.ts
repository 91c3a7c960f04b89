/**
 * What an annotator's loop costs in D1: a claim is one statement (one call), and a submission one
 * read and one batch, whatever the provider; a retried submit answers from the same read.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, d1Cost, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";
import { claimNext, submissionBody, submit } from "../support/work.ts";

let lead: string, ann: string;
beforeAll(async () => {
  lead = await tokenFor("lead", [], "cost-lead");
  ann = await tokenFor("annotator", ["*"], "cost-ann");
  await createProject(lead, { id: "cost" });
  for (const seed of [131, 132]) await ingestScene(lead, "cost", seed);
});

describe("the cost of claim → submit", () => {
  it("claim: one call; submit: a read and a batch (the project read cached per isolate)", async () => {
    const first = await claimNext(ann, "cost");
    expect(first.status).toBe(200);
    // The first claim of the isolate reads the project; the claim itself is one statement.
    expect(d1Cost(first.res).calls).toBeLessThanOrEqual(2);
    const key = crypto.randomUUID();
    const sent = await submit(ann, first.data, submissionBody(first.data, { [first.data.start.texts[0].segment_id]: "an edited text" }), key);
    expect(sent.status).toBe(201);
    const cost = d1Cost(sent.res);
    // task+image+segments+draft+earlier answer in one read; submission, task, review task and answer in one batch
    expect(cost.calls).toBeLessThanOrEqual(2);
    expect(cost.statements).toBeLessThanOrEqual(5);

    const retry = await submit(ann, first.data, submissionBody(first.data, { [first.data.start.texts[0].segment_id]: "an edited text" }), key);
    expect(retry.status).toBe(201);
    expect(retry.data.id).toBe(sent.data.id);
    expect(d1Cost(retry.res)).toEqual({ statements: 1, calls: 1 });

    const second = await claimNext(ann, "cost");
    expect(d1Cost(second.res)).toEqual({ statements: 1, calls: 1 });
  });

  it("a round-2 claim with the template provider is one statement too: its merge draft was made at consolidation", async () => {
    await createProject(lead, { id: "cost-r2", settings: { redundancy: { round1: 1, round2: 1 }, review: { required: false } } });
    const image = await ingestScene(lead, "cost-r2", 133);
    const r1 = (await claimNext(ann, "cost-r2")).data;
    expect((await submit(ann, r1, submissionBody(r1))).status).toBe(201);
    const ann2 = await tokenFor("annotator", ["*"], "cost-ann-2");
    const r2 = await call("POST", "/v1/projects/cost-r2/tasks/next", { token: ann2, json: { round: 2 } });
    expect(r2.status).toBe(200);
    expect(r2.data.image.id).toBe(image.id);
    expect(r2.data.start.source).toBe("template");
    expect(r2.data.start.caption.spans.length).toBeGreaterThan(0);
    expect(r2.data.start.texts).toHaveLength(image.segments.length);
    expect(d1Cost(r2.res)).toEqual({ statements: 1, calls: 1 });
    // The merge draft is the one the draft endpoint serves, and the submission measures against it.
    const merge = (await call("GET", `/v1/images/${image.id}/drafts/2`, { token: lead })).data;
    expect(r2.data.start.key).toBe(merge.key);
    expect(r2.data.start.caption.text).toBe(merge.caption.text);
    const sent = await submit(ann2, r2.data, { lease_token: r2.data.lease_token, caption: { text: r2.data.start.caption.text, spans: r2.data.start.caption.spans } });
    expect(sent.status).toBe(201);
    expect(sent.data.effort.acceptedShare).toBe(1);
  });
});
