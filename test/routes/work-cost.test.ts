/**
 * What an annotator's loop costs in D1: a claim is one statement (one call), and a submission one
 * read and one batch, whatever the provider; a retried submit answers from the same read.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createProject, d1Cost, tokenFor } from "../support/api.ts";
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
});
