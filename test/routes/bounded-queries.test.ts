/**
 * Request paths whose statements do not grow with the data: one count query per page of projects,
 * every review of a page of submissions (not the first 90), categories in use from counters.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { dbOf } from "../../worker/store/db.ts";
import { reviewsFor } from "../../worker/store/submissions.ts";
import { call, createProject, d1Cost, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";

let lead: string;
beforeAll(async () => {
  lead = await tokenFor("lead", [], "bq-lead");
});

const statementsOf = (res: Response) => d1Cost(res).statements;

describe("bounded request paths", () => {
  it("GET /v1/projects costs the same few statements for a page of 2 and of 25 projects", async () => {
    for (let i = 0; i < 25; i++) await createProject(lead, { id: `bq-${String(i).padStart(2, "0")}` });
    const small = await call("GET", "/v1/projects?limit=2", { token: lead });
    const large = await call("GET", "/v1/projects?limit=25", { token: lead });
    expect(small.data.items).toHaveLength(2);
    expect(large.data.items).toHaveLength(25);
    expect(large.data.items.every((p: any) => p.category_count === 133)).toBe(true);
    expect(statementsOf(large.res)).toBe(statementsOf(small.res));
    expect(statementsOf(large.res)).toBeLessThanOrEqual(3);
  });

  it("reviewsFor returns the review of every submission asked about, however many", async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `sub_bq_${String(i).padStart(3, "0")}`);
    await env.DB.batch(
      ids.map((id, i) =>
        env.DB.prepare("INSERT INTO reviews (id, submission_id, task_id, image_id, subject, decision, reason, at) VALUES (?, ?, NULL, 'img_bq', 'r', ?, NULL, ?)").bind(`rev_bq_${i}`, id, i % 2 ? "accept" : "reject", i),
      ),
    );
    const found = await reviewsFor(dbOf(env.DB), ids);
    expect(found.map((r) => r.submissionId).sort()).toEqual(ids);
  });

  it("a category used by an ingested segment cannot be dropped; an unused one can", async () => {
    await createProject(lead, { id: "bq-cats" });
    const image = await ingestScene(lead, "bq-cats", 5);
    const used = [...new Set<number>(image.segments.map((s: any) => s.category_id))];
    const counts = await env.DB.prepare("SELECT category_id, segments FROM category_usage WHERE project_id = 'bq-cats' ORDER BY category_id").all<{ category_id: number; segments: number }>();
    expect(counts.results.map((r) => r.category_id)).toEqual([...used].sort((a, b) => a - b));
    expect(counts.results.reduce((n, r) => n + r.segments, 0)).toBe(image.segments.length);

    const cats = (await call("GET", "/v1/projects/bq-cats", { token: lead })).data.categories as { id: number; name: string; isthing: boolean }[];
    const keepAll = cats.map((k) => ({ id: k.id, name: k.name, isthing: k.isthing }));
    const withoutUsed = keepAll.filter((k) => k.id !== used[0]);
    const refused = await call("PATCH", "/v1/projects/bq-cats", { token: lead, json: { categories: withoutUsed } });
    expect(refused.status).toBe(409);
    expect(refused.data.categories).toEqual([used[0]]);
    const unused = keepAll.find((k) => !used.includes(k.id))!;
    const ok = await call("PATCH", "/v1/projects/bq-cats", { token: lead, json: { categories: keepAll.filter((k) => k.id !== unused.id) } });
    expect(ok.status).toBe(200);
    expect(ok.data.category_count).toBe(keepAll.length - 1);
  });

  it("an image's history is capped per kind and says what it cut", async () => {
    await createProject(lead, { id: "bq-hist" });
    const image = await ingestScene(lead, "bq-hist", 6);
    const task = await env.DB.prepare("SELECT id FROM tasks WHERE image_id = ? LIMIT 1").bind(image.id).first<{ id: string }>();
    const events = Array.from({ length: 520 }, (_, i) =>
      env.DB.prepare("INSERT INTO task_events (task_id, image_id, round, kind, from_status, to_status, subject, lease_expires, at) VALUES (?, ?, 1, 'edit', 'open', 'leased', 'x', NULL, ?)").bind(task!.id, image.id, 1000 + i),
    );
    for (let i = 0; i < events.length; i += 100) await env.DB.batch(events.slice(i, i + 100));
    const h = await call("GET", `/v1/images/${image.id}/history`, { token: lead });
    expect(h.status).toBe(200);
    expect(h.data.events.filter((e: any) => e.type === "task")).toHaveLength(500);
    expect(h.data.truncated).toEqual(["task"]);
    const fresh = await ingestScene(lead, "bq-hist", 7);
    expect((await call("GET", `/v1/images/${fresh.id}/history`, { token: lead })).data.truncated).toEqual([]);
  });
});
