import { env } from "cloudflare:test";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeCursor } from "../../worker/domain/ids.ts";
import { BASE, call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene, until } from "../support/scenes.ts";

/**
 * The document as a contract, where the fuzzer's random draws would seldom land: methods the API
 * does not serve, parameters it does not take, schema-valid values it must not refuse, signed URLs
 * in every wrong spelling, tokens with a `sub` of the wrong type, and a cache shared across
 * projects that must not name the other project's image.
 */
let lead: string;
let image: any;

beforeAll(async () => {
  lead = await tokenFor("lead", ["ct-a"], "ct-lead");
  await createProject(lead, { id: "ct-a" });
  image = await ingestScene(lead, "ct-a", 3);
});

describe("methods and paths", () => {
  it("a method a path is not served under is 405 with Allow, as problem+json; an unknown path stays 404", async () => {
    const trace = await call("TRACE", "/v1/projects", { token: lead });
    expect(trace.status).toBe(405);
    expect(trace.res.headers.get("content-type")).toBe("application/problem+json");
    expect(trace.res.headers.get("allow")).toBe("GET, HEAD, POST");
    expect(trace.data).toMatchObject({ status: 405, type: expect.stringMatching(/method-not-allowed$/) });

    const put = await call("PUT", `/v1/projects/ct-a/images/${image.id}`, { token: lead });
    // No such path at all (images live under /v1/images/{id}): 404, not 405.
    expect(put.status).toBe(404);
    const del = await call("DELETE", `/v1/images/${image.id}`, { token: lead });
    expect(del.status).toBe(405);
    expect(del.res.headers.get("allow")).toBe("GET, HEAD");
  });
});

describe("query parameters", () => {
  it("one the operation does not declare is a 400 naming it, on every kind of operation", async () => {
    for (const [method, path] of [
      ["GET", "/v1/projects?x-unknown=42"],
      ["GET", "/v1/me/tasks?limt=5"],
      ["GET", "/v1/projects/ct-a/images?statu=x"],
      ["GET", "/healthz?verbose=1"],
    ]) {
      const r = await call(method, path, { token: lead });
      expect(r.status, path).toBe(400);
      const name = new URL(path, BASE).searchParams.keys().next().value;
      expect(r.data.errors.map((e: any) => e.path)).toEqual([`query.${name}`]);
    }
    // Nothing was done: a write with an unknown parameter stores nothing.
    const created = await call("POST", "/v1/projects?dry=1", { token: lead, json: { id: "ct-never", name: "never" } });
    expect(created.status).toBe(400);
    expect((await call("GET", "/v1/projects/ct-never", { token: await tokenFor("admin") })).status).toBe(404);
  });

  it("a cursor the schema admits is never refused: any base64url names a position", async () => {
    for (const cursor of ["0".repeat(200), encodeCursor("ß"), "A", "zzzz_-"]) {
      for (const path of ["/v1/projects", "/v1/me/tasks", "/v1/projects/ct-a/images", "/v1/projects/ct-a/captions", "/v1/projects/ct-a/studies"]) {
        const r = await call("GET", `${path}?cursor=${cursor}`, { token: lead });
        expect(r.status, `${path} ${cursor}`).toBe(200);
      }
    }
    // Outside the documented alphabet: a 400 naming the cursor.
    const bad = await call("GET", "/v1/projects?cursor=%C3%9F", { token: lead });
    expect(bad.status).toBe(400);
    expect(bad.data.errors[0].path).toBe("query.cursor");
  });
});

describe("bodies", () => {
  it("a blank name is refused by pattern, as the document says; cross-field contradictions are 422", async () => {
    const blank = await call("POST", "/v1/projects", { token: lead, json: { name: "   " } });
    expect(blank.status).toBe(400);
    expect(blank.data.errors[0].path).toBe("body.name");

    const doc = await (await call("GET", "/openapi.json")).data;
    const create = doc.paths["/v1/projects"].post;
    expect(Object.keys(create.responses)).toContain("422");
    const study = await call("POST", "/v1/projects/ct-a/studies", {
      token: lead,
      json: { name: "s", question: "q?", design: { sources: ["final", "merge-draft"], gold: { marked: [{ image_id: image.id, better: "final", worse: "final" }] } } },
    });
    expect(study.status).toBe(422);
    expect(study.data.errors).toEqual([{ path: "body.design.gold.marked[0].worse", message: "better and worse must be different sources" }]);
    expect((await call("GET", "/v1/projects/ct-a/studies", { token: lead })).data.items).toEqual([]);
  });

  it("an upload with no body is a 400 naming the body, not a 415", async () => {
    const r = await call("POST", "/v1/projects/ct-a/images", { token: lead });
    expect(r.status).toBe(400);
    expect(r.data.errors[0].path).toBe("body");
  });

  it("If-Match must be a version ETag; a stale one is 412", async () => {
    const bad = await call("PATCH", "/v1/projects/ct-a", { token: lead, json: { name: "x" }, headers: { "if-match": "0" } });
    expect(bad.status).toBe(400);
    expect(bad.data.errors[0].path).toBe("header.if-match");
    const stale = await call("PATCH", "/v1/projects/ct-a", { token: lead, json: { name: "x" }, headers: { "if-match": '"0"' } });
    expect(stale.status).toBe(412);
  });
});

describe("signed URLs", () => {
  it("verify only as issued: without expires, padded, standard alphabet, forged or without anything is 401", async () => {
    const detail = await call("GET", `/v1/images/${image.id}`, { token: lead });
    const url = new URL(detail.data.files.image.url, BASE);
    const path = url.pathname;
    const sig = url.searchParams.get("sig")!;
    const expires = url.searchParams.get("expires")!;
    expect((await call("GET", `${path}?expires=${expires}&sig=${sig}`)).status).toBe(200);

    const bytes = atob(sig.replace(/-/g, "+").replace(/_/g, "/"));
    const standard = btoa(bytes); // + and /, padded with =
    for (const variant of [
      `?sig=${sig}`,
      `?expires=${expires}&sig=${encodeURIComponent(standard)}`,
      `?expires=${expires}&sig=${sig}%3D`,
      `?expires=${expires}&sig=forged`,
      `?expires=${Number(expires) + 1}&sig=${sig}`,
      `?expires=${expires}`,
      "",
    ]) {
      const r = await call("GET", `${path}${variant}`);
      expect(r.status, variant).toBe(401);
      expect(r.data.type).toMatch(/unauthorized$/);
    }
  });
});

describe("tokens", () => {
  it("a sub that is empty, a number or an object is a 401, on reads and writes alike", async () => {
    const key = new TextEncoder().encode(env.JWT_SECRET);
    for (const sub of ["", 42, { id: "x" }]) {
      const token = await new SignJWT({ sub, role: "lead", projects: ["ct-a"] } as any)
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer(env.JWT_ISSUER)
        .setAudience(env.JWT_AUDIENCE)
        .setExpirationTime("10m")
        .sign(key);
      for (const [method, path, json] of [
        ["GET", "/v1/projects", undefined],
        ["POST", "/v1/projects", { name: "by a bad sub" }],
      ] as const) {
        const r = await call(method, path, { token, json });
        expect(r.status, `${JSON.stringify(sub)} ${method}`).toBe(401);
      }
    }
  });
});

describe("the draft cache", () => {
  it("an image's twin in another project gets its own image id back, not the first project's", async () => {
    const leadB = await tokenFor("lead", ["ct-b"], "ct-lead-b");
    await createProject(leadB, { id: "ct-b" });
    const twin = await ingestScene(leadB, "ct-b", 3);
    expect(twin.id).not.toBe(image.id);
    const a = await until("draft of A", async () => {
      const r = await call("GET", `/v1/images/${image.id}/drafts/1`, { token: lead });
      return r.status === 200 ? r.data : null;
    });
    const b = await until("draft of B", async () => {
      const r = await call("GET", `/v1/images/${twin.id}/drafts/1`, { token: leadB });
      return r.status === 200 ? r.data : null;
    });
    // One cached draft (same content key), reported under each asker's own image.
    expect(b.key).toBe(a.key);
    expect(a.image_id).toBe(image.id);
    expect(b.image_id).toBe(twin.id);
  });
});
