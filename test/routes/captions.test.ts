import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";
import { review, submissionBody, submit } from "../support/work.ts";

let lead: string;
let ann1: string;
let ann2: string;
let reviewer: string;

const claim = (token: string, project: string, round: 1 | 2) => call("POST", `/v1/projects/${project}/tasks/next`, { token, json: { round, kind: "edit" } });

/** An image through round 1 (one annotator, accepted): its round-2 task is then open. */
async function throughRound1(project: string, seed: number) {
  const image = await ingestScene(lead, project, seed);
  const lease = (await claim(ann1, project, 1)).data;
  const sub = (await submit(ann1, lease, submissionBody(lease))).data;
  expect((await review(reviewer, sub.id, "accept")).status).toBe(201);
  return image;
}

beforeAll(async () => {
  lead = await tokenFor("lead", [], "cap-lead");
  ann1 = await tokenFor("annotator", ["*"], "cap-ann-1");
  ann2 = await tokenFor("annotator", ["*"], "cap-ann-2");
  reviewer = await tokenFor("reviewer", ["*"], "cap-rev");
});

describe("round 2: grounded captions", () => {
  it("claims start from the merge draft; bad captions get precise 422s; the accepted caption becomes final with its lineage", { timeout: 60_000 }, async () => {
    await createProject(lead, { id: "c-main" });
    const image = await throughRound1("c-main", 91);
    const r2 = await claim(ann2, "c-main", 2);
    expect(r2.status).toBe(200);
    const lease = r2.data;
    expect(lease.round).toBe(2);
    expect(lease.start.source).toBe("template");
    const draft = lease.start.caption;
    expect(draft.spans.length).toBe(image.segments.length);
    expect(draft.inline).toContain("<");

    const things = image.segments.filter((s: any) => s.isthing);
    const stuff = image.segments.filter((s: any) => !s.isthing);
    const [a, b] = [stuff[0].id, things[0].id];
    const send = (body: Record<string, unknown>) => submit(ann2, lease, { lease_token: lease.lease_token, ...body });

    const unclosed = await send({ inline: `A view with <${a}:open sky and a <${b}:dog>.` });
    expect(unclosed.status).toBe(422);
    expect(unclosed.data.position).toBeGreaterThan(0);
    expect(unclosed.data.errors[0].path).toBe("body.inline");
    const unknown = await send({ caption: { text: "a dog", spans: [{ start: 2, end: 5, segment_ids: [987654] }] } });
    expect(unknown.status).toBe(422);
    expect(unknown.data.errors[0].path).toMatch(/^body\.caption\.spans/);
    expect(unknown.data.detail).toContain("987654");
    const overlap = await send({ caption: { text: "a brown dog", spans: [{ start: 0, end: 7, segment_ids: [a] }, { start: 2, end: 11, segment_ids: [b] }] } });
    expect(overlap.status).toBe(422);
    const past = await send({ caption: { text: "a dog", spans: [{ start: 2, end: 9, segment_ids: [b] }] } });
    expect(past.status).toBe(422);
    const both = await send({ inline: "x", caption: { text: "x", spans: [] } });
    expect(both.status).toBe(400);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM submissions WHERE round = 2").first("n")).toBe(0);

    // emoji before a span: offsets count code points, so the span still lands on "dog 🐕"
    const markup = `🌤️ Under <${a}:an open sky>, a <${b}:dog 🐕> waits.`;
    const ok = await send({ inline: markup });
    expect(ok.status).toBe(201);
    const dogSpan = ok.data.caption.spans.find((s: any) => s.segment_ids.includes(b));
    expect([...ok.data.caption.text].slice(dogSpan.start, dogSpan.end).join("")).toBe("dog 🐕");
    expect(ok.data.coverage.groundedIds).toEqual([a, b].sort((x, y) => x - y));
    expect(ok.data.coverage.segments).toBeCloseTo(2 / image.segments.length, 10);
    expect(ok.data.effort.totalDistance).toBeGreaterThan(0);

    expect((await review(reviewer, ok.data.id, "accept")).status).toBe(201);
    const final = await call("GET", `/v1/images/${image.id}/caption`, { token: lead });
    expect(final.status).toBe(200);
    expect(final.data).toMatchObject({ version: 1, stale: false, inline: markup, lineage: { submission_id: ok.data.id } });
    expect(Object.keys(final.data.lineage.region_versions)).toHaveLength(image.segments.length);
    expect(final.data.stats).toMatchObject({ spans: 2, groundedMasks: 2, masks: image.segments.length, nouns: ["sky", "🐕"] });

    // lineage: adjudicating a region makes the caption stale and lists it for rework
    const adj = await call("POST", `/v1/images/${image.id}/regions/${b}/adjudication`, { token: lead, json: { text: "a small brown dog sitting" } });
    expect(adj.status).toBe(200);
    const stale = await call("GET", "/v1/projects/c-main/captions?stale=true", { token: lead });
    expect(stale.data.items.map((i: any) => i.image_id)).toEqual([image.id]);
    expect(stale.data.items[0].stale_reason).toContain(`region ${b}`);
    expect((await call("GET", "/v1/projects/c-main/captions?stale=false", { token: lead })).data.items).toHaveLength(0);
  });

  it("inline tags take segment ids as <3,5:…> and the lease's mark numbers as <#3,#5:…>; an unknown mark is a 422 naming it", { timeout: 60_000 }, async () => {
    await createProject(lead, { id: "c-marks" });
    await throughRound1("c-marks", 93);
    const lease = (await claim(ann2, "c-marks", 2)).data;
    const regions: { segment_id: number; mark: number }[] = lease.regions;
    // Marks number segments by area (1 = largest): use two whose mark is not their segment id.
    const [first, second] = regions.filter((r) => r.mark !== r.segment_id);
    expect(second).toBeDefined();
    const byMark = [...regions].sort((a, b) => a.mark - b.mark);
    const send = (inline: string) => submit(ann2, lease, { lease_token: lease.lease_token, inline });

    const missing = byMark.length + 5;
    const unknown = await send(`<#${first.mark}:the ground> under <#${missing},#${missing + 2}:a thing>.`);
    expect(unknown.status).toBe(422);
    expect(unknown.res.headers.get("content-type")).toContain("application/problem+json");
    expect(unknown.data.unknown_marks).toEqual([missing, missing + 2]);
    expect(unknown.data.detail).toContain(`#${missing}`);
    expect(unknown.data.errors[0]).toMatchObject({ path: "body.inline", message: expect.stringContaining(`marks #${missing}, #${missing + 2} are not on this image`) });
    const mixed = await send(`<#${first.mark},${second.segment_id}:two things>`);
    expect(mixed.status).toBe(422);
    expect(mixed.data.detail).toContain("mixes mark numbers");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM submissions WHERE task_id = ?").bind(lease.task_id).first("n")).toBe(0);

    const ok = await send(`<#${first.mark}:The largest region> lies beside <#${second.mark},#${first.mark}:both regions>.`);
    expect(ok.status).toBe(201);
    expect(ok.data.caption.spans.map((s: any) => s.segment_ids)).toEqual([[first.segment_id], [first.segment_id, second.segment_id].sort((a, b) => a - b)]);
    expect(ok.data.caption.text).toBe("The largest region lies beside both regions.");
  });

  it("a project rule requires every large thing to be grounded, unless a reason is given", { timeout: 60_000 }, async () => {
    await createProject(lead, { id: "c-rule", settings: { caption: { requireThingsAbove: 0 } } });
    const image = await throughRound1("c-rule", 92);
    const lease = (await claim(ann2, "c-rule", 2)).data;
    const things = image.segments.filter((s: any) => s.isthing);
    expect(things.length).toBeGreaterThan(1);
    const only = things[0].id;
    const body = { lease_token: lease.lease_token, inline: `A picture of <${only}:something>.` };
    const refused = await submit(ann2, lease, body);
    expect(refused.status).toBe(422);
    expect(refused.data.missing_segments.sort()).toEqual(things.slice(1).map((t: any) => t.id).sort());
    const explained = await submit(ann2, lease, { ...body, missing_reasons: things.slice(1).map((t: any) => ({ segment_id: t.id, reason: "hidden" })) });
    expect(explained.status).toBe(201);
    expect(explained.data.coverage.ungroundedThings.sort()).toEqual(things.slice(1).map((t: any) => t.id).sort());
  });
});
