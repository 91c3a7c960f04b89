import { describe, expect, it } from "vitest";
import { call, createProject, tokenFor } from "../support/api.ts";

describe("projects", () => {
  it("a lead creates a project with the 133 COCO-panoptic categories by default", async () => {
    const lead = await tokenFor("lead", [], "lead-a");
    const r = await call("POST", "/v1/projects", { token: lead, json: { id: "p-default", name: "Default" } });
    expect(r.status).toBe(201);
    expect(r.res.headers.get("location")).toBe("/v1/projects/p-default");
    expect(r.data.categories).toHaveLength(133);
    expect(r.data.categories.filter((c: any) => c.isthing)).toHaveLength(80);
    expect(r.data.settings.redundancy.round1).toBe(1);
    expect(r.data.settings.leaseSeconds).toBe(1800);
    expect(r.data.version).toBe(1);

    const got = await call("GET", "/v1/projects/p-default", { token: lead });
    expect(got.status).toBe(200);
    expect(got.data.category_count).toBe(133);
    expect(got.res.headers.get("etag")).toBe('"1"');
  });

  it("rejects invalid settings naming each path, and stores nothing", async () => {
    const lead = await tokenFor("lead", [], "lead-b");
    const r = await call("POST", "/v1/projects", {
      token: lead,
      json: { id: "p-bad", name: "Bad", settings: { redundancy: { round1: 0 }, vlm: { provider: "openai" }, leaseSecs: 5 } },
    });
    expect(r.status).toBe(400);
    expect(r.res.headers.get("content-type")).toContain("application/problem+json");
    const paths = r.data.errors.map((e: any) => e.path);
    expect(paths).toContain("body.settings.redundancy.round1");
    expect(paths).toContain("body.settings.vlm.baseUrl");
    expect(paths).toContain("body.settings");
    expect((await call("GET", "/v1/projects/p-bad", { token: await tokenFor("admin") })).status).toBe(404);
  });

  it("refuses duplicate category ids and duplicate project ids", async () => {
    const lead = await tokenFor("lead", [], "lead-c");
    const dup = await call("POST", "/v1/projects", {
      token: lead,
      json: { name: "x", categories: [{ id: 1, name: "a", isthing: 1 }, { id: 1, name: "b", isthing: 0 }] },
    });
    // Each category keeps to the schema; together they contradict: 422, not 400.
    expect(dup.status).toBe(422);
    expect(dup.data.type).toMatch(/inconsistent$/);
    expect(dup.data.errors[0].path).toBe("body.categories[1].id");
    await createProject(lead, { id: "p-twice" });
    const again = await call("POST", "/v1/projects", { token: lead, json: { id: "p-twice", name: "again" } });
    expect(again.status).toBe(409);
  });

  it("malformed JSON and a wrong content type are clear 4xx problems", async () => {
    const lead = await tokenFor("lead");
    const bad = await call("POST", "/v1/projects", { token: lead, body: '{"name": ', headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    expect(bad.data.errors[0].path).toBe("body");
    const text = await call("POST", "/v1/projects", { token: lead, body: "name=x", headers: { "content-type": "text/plain" } });
    expect(text.status).toBe(415);
  });

  it("PATCH merges settings, bumps the version and honours If-Match", async () => {
    const lead = await tokenFor("lead", [], "lead-d");
    await createProject(lead, { id: "p-patch" });
    const ok = await call("PATCH", "/v1/projects/p-patch", {
      token: lead,
      json: { settings: { redundancy: { round1: 3 }, vlm: { provider: "openai", baseUrl: "http://127.0.0.1:9/v1", model: "m" } } },
      headers: { "if-match": '"1"' },
    });
    expect(ok.status).toBe(200);
    expect(ok.data.version).toBe(2);
    expect(ok.data.settings.redundancy).toMatchObject({ round1: 3, round2: 1 });
    expect(ok.data.settings.vlm.model).toBe("m");

    const stale = await call("PATCH", "/v1/projects/p-patch", { token: lead, json: { name: "late" }, headers: { "if-match": '"1"' } });
    expect(stale.status).toBe(412);
    expect(stale.data.current_version).toBe(2);

    const invalid = await call("PATCH", "/v1/projects/p-patch", { token: lead, json: { settings: { leaseSeconds: 5 } } });
    expect(invalid.status).toBe(400);
    expect(invalid.data.errors[0].path).toBe("body.settings.leaseSeconds");
    expect((await call("GET", "/v1/projects/p-patch", { token: lead })).data.version).toBe(2);
  });

  it("PATCH replaces categories atomically with the version", async () => {
    const lead = await tokenFor("lead", [], "lead-e");
    await createProject(lead, { id: "p-cats" });
    const r = await call("PATCH", "/v1/projects/p-cats", {
      token: lead,
      json: { categories: [{ id: 1, name: "person", isthing: true }, { id: 500, name: "road", isthing: false }] },
    });
    expect(r.status).toBe(200);
    expect(r.data.categories.map((c: any) => c.id)).toEqual([1, 500]);
    expect(r.data.category_count).toBe(2);
  });

  it("lists only the projects a token may act on, with cursor pagination", async () => {
    const lead = await tokenFor("lead", [], "lead-list");
    for (const id of ["l-1", "l-2", "l-3"]) await createProject(lead, { id });
    const page1 = await call("GET", "/v1/projects?limit=2", { token: lead });
    expect(page1.status).toBe(200);
    expect(page1.data.items.map((p: any) => p.id)).toEqual(["l-1", "l-2"]);
    const page2 = await call("GET", `/v1/projects?limit=2&cursor=${page1.data.next_cursor}`, { token: lead });
    expect(page2.data.items.map((p: any) => p.id)).toEqual(["l-3"]);
    expect(page2.data.next_cursor).toBeNull();

    const annotator = await tokenFor("annotator", ["l-2"]);
    const mine = await call("GET", "/v1/projects", { token: annotator });
    expect(mine.data.items.map((p: any) => p.id)).toEqual(["l-2"]);
    expect((await call("GET", "/v1/projects?cursor=!!", { token: lead })).status).toBe(400);
    expect((await call("GET", "/v1/projects?limit=1000", { token: lead })).data.errors[0].path).toBe("query.limit");
  });
});
