/**
 * Two writers with the same If-Match at the same time: exactly one wins, and the one that lost
 * leaves no trace (no categories of its own, no adjudication record, no stale mark).
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { dbOf } from "../../worker/store/db.ts";
import { updateProject } from "../../worker/store/projects.ts";
import { adjudicate as adjudicateAtStore } from "../../worker/store/region-texts.ts";
import { call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";
import { claimNext, submissionBody, submit } from "../support/work.ts";

let lead: string;
let ann: string;

beforeAll(async () => {
  lead = await tokenFor("lead", [], "cw-lead");
  ann = await tokenFor("annotator", ["*"], "cw-ann");
});

const rows = async <T>(sql: string, ...params: unknown[]) => (await env.DB.prepare(sql).bind(...params).all<T>()).results;

describe("two concurrent writers", () => {
  it("project PATCH: one wins, the loser's categories are nowhere", async () => {
    await createProject(lead, { id: "cw-proj" });
    const patch = (name: string, cats: { id: number; name: string; isthing: boolean }[]) =>
      call("PATCH", "/v1/projects/cw-proj", { token: lead, json: { name, categories: cats }, headers: { "if-match": '"1"' } });
    const [a, b] = await Promise.all([
      patch("writer A", [{ id: 1, name: "a-thing", isthing: true }, { id: 2, name: "a-stuff", isthing: false }]),
      patch("writer B", [{ id: 7, name: "b-thing", isthing: true }]),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const winner = a.status === 200 ? "A" : "B";
    const project = await call("GET", "/v1/projects/cw-proj", { token: lead });
    expect(project.data.name).toBe(`writer ${winner}`);
    expect(project.data.version).toBe(2);
    const cats = await rows<{ category_id: number; name: string }>("SELECT category_id, name FROM categories WHERE project_id = 'cw-proj' ORDER BY category_id");
    expect(cats.map((c) => c.name)).toEqual(winner === "A" ? ["a-thing", "a-stuff"] : ["b-thing"]);
  });

  it("adjudication: one wins, the loser leaves no record and marks nothing", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "cw-adj", settings: { redundancy: { round1: 1, round2: 1 }, review: { required: false } } });
    const image = await ingestScene(lead, "cw-adj", 81);
    const lease = (await claimNext(ann, "cw-adj")).data;
    expect((await submit(ann, lease, submissionBody(lease))).status).toBe(201);
    const [region] = await rows<{ segment_id: number; version: number }>("SELECT segment_id, version FROM region_texts WHERE image_id = ? ORDER BY segment_id LIMIT 1", image.id);
    expect(region.version).toBe(1);

    const adjudicate = (text: string) =>
      call("POST", `/v1/images/${image.id}/regions/${region.segment_id}/adjudication`, { token: lead, json: { text, reason: "race" }, headers: { "if-match": '"1"' } });
    const [a, b] = await Promise.all([adjudicate("text of writer A"), adjudicate("text of writer B")]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const winner = a.status === 200 ? "A" : "B";
    const records = await rows<{ text: string }>("SELECT text FROM adjudications WHERE image_id = ?", image.id);
    expect(records.map((r) => r.text)).toEqual([`text of writer ${winner}`]);
    const [now] = await rows<{ text: string; version: number }>("SELECT text, version FROM region_texts WHERE image_id = ? AND segment_id = ?", image.id, region.segment_id);
    expect(now).toEqual({ text: `text of writer ${winner}`, version: 2 });

    // The race itself, at the store: a writer that read version 2 before the other's write lands
    // sends its batch after it. Its update matches nothing, and nothing else of it may land.
    const db = dbOf(env.DB);
    const write = (text: string, now: number) =>
      adjudicateAtStore(db, { imageId: image.id, segmentId: region.segment_id, text, previousText: null, reason: "late", subject: "cw-lead", expectedVersion: 2, now });
    const at = Date.now();
    const results = await Promise.all([write("store writer 1", at), write("store writer 2", at)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const late = await write("store writer 3", at);
    expect(late).toBe(false);
    const after = await rows<{ text: string }>("SELECT text FROM adjudications WHERE image_id = ? ORDER BY id", image.id);
    const won = results[0] ? "store writer 1" : "store writer 2";
    expect(after.map((r) => r.text)).toEqual([`text of writer ${winner}`, won]);
    const [final] = await rows<{ text: string; version: number }>("SELECT text, version FROM region_texts WHERE image_id = ? AND segment_id = ?", image.id, region.segment_id);
    expect(final).toEqual({ text: won, version: 3 });
  });

  it("project update at the store: a writer that lost the race replaces no categories", async () => {
    await createProject(lead, { id: "cw-store" });
    const db = dbOf(env.DB);
    const cats = (name: string) => [{ categoryId: 1, name, supercategory: "", isthing: true, color: null }];
    const at = Date.now();
    const results = await Promise.all([
      updateProject(db, env.DB, "cw-store", 1, { name: "one" }, cats("from one"), at),
      updateProject(db, env.DB, "cw-store", 1, { name: "two" }, cats("from two"), at),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await updateProject(db, env.DB, "cw-store", 1, { name: "three" }, cats("from three"), at)).toBe(false);
    const won = results[0] ? "one" : "two";
    const [project] = await rows<{ name: string; version: number }>("SELECT name, version FROM projects WHERE id = 'cw-store'");
    expect(project).toEqual({ name: won, version: 2 });
    expect((await rows<{ name: string }>("SELECT name FROM categories WHERE project_id = 'cw-store'")).map((c) => c.name)).toEqual([`from ${won}`]);
  });
});
