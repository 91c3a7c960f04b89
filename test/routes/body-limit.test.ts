import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { JSON_BODY_LIMIT } from "../../worker/http/middleware.ts";
import { BASE, call, tokenFor } from "../support/api.ts";

let admin: string;
let lead: string;

beforeAll(async () => {
  admin = await tokenFor("admin", ["*"], "limit-admin");
  lead = await tokenFor("lead", [], "limit-lead");
});

/** A valid project body padded with JSON whitespace to exactly `bytes`: parsed, it would be stored. */
function paddedProject(id: string, bytes: number): string {
  const json = JSON.stringify({ id, name: "Padded" });
  return json.slice(0, -1) + " ".repeat(bytes - json.length) + "}";
}

/** `body` as a stream of 64 KiB chunks: no Content-Length, as a chunked upload arrives. */
function chunked(body: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(body);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + 65_536));
      at += 65_536;
    },
  });
}

const createProject = (body: BodyInit, headers: Record<string, string> = {}) =>
  SELF.fetch(`${BASE}/v1/projects`, { method: "POST", headers: { authorization: `Bearer ${lead}`, "content-type": "application/json", ...headers }, body });

const projectExists = async (id: string) => (await call("GET", `/v1/projects/${id}`, { token: lead })).status === 200;

async function expectTooLarge(res: Response) {
  expect(res.status).toBe(413);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const problem = await res.json<any>();
  expect(problem).toMatchObject({ type: "https://groundwork.dev/problems/payload-too-large", status: 413, limit: JSON_BODY_LIMIT });
  expect(problem.detail).toContain(String(JSON_BODY_LIMIT));
}

describe("the 1 MiB limit of JSON bodies", () => {
  it("refuses a 2 MiB body by its Content-Length, before parsing: 413 problem+json and nothing stored", async () => {
    const body = paddedProject("limit-big", 2 * 1024 * 1024);
    expect(new TextEncoder().encode(body).length).toBe(2 * 1024 * 1024);
    await expectTooLarge(await createProject(body));
    expect(await projectExists("limit-big")).toBe(false);
  });

  it("refuses a chunked body without Content-Length at the first byte past the limit", async () => {
    await expectTooLarge(await createProject(chunked(paddedProject("limit-chunked", JSON_BODY_LIMIT + 200_000))));
    expect(await projectExists("limit-chunked")).toBe(false);
  });

  it("lets a body at the limit through to validation and on, with or without Content-Length", async () => {
    const atLimit = await createProject(paddedProject("limit-exact", JSON_BODY_LIMIT));
    expect(atLimit.status).toBe(201);
    expect(await projectExists("limit-exact")).toBe(true);
    await expectTooLarge(await createProject(paddedProject("limit-over-by-one", JSON_BODY_LIMIT + 1)));

    const streamed = await createProject(chunked(paddedProject("limit-streamed", JSON_BODY_LIMIT - 10)));
    expect(streamed.status).toBe(201);
    expect(await projectExists("limit-streamed")).toBe(true);

    // Just under the limit and invalid: the schema answers, naming the field.
    const invalid = await createProject(JSON.stringify({ id: "limit-invalid", name: "n".repeat(JSON_BODY_LIMIT - 100) }));
    expect(invalid.status).toBe(400);
    expect((await invalid.json<any>()).errors.map((e: any) => e.path)).toContain("body.name");
  });

  it("every operation that takes JSON documents 413 and refuses a 2 MiB body", async () => {
    const doc = (await call("GET", "/openapi.json")).data;
    const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([, op]) => op.requestBody?.content?.["application/json"])
        .map(([method, op]) => ({ method, path, op })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(10);
    const big = JSON.stringify({ padding: "x".repeat(2 * 1024 * 1024) });
    for (const { method, path, op } of operations) {
      expect(Object.keys(op.responses), `${method} ${path} documents 413`).toContain("413");
      // The limit comes before parameters are read, so any path segment will do.
      const res = await SELF.fetch(`${BASE}${path.replace(/\{[^}]+\}/g, "x")}`, {
        method: method.toUpperCase(),
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: big,
      });
      expect(res.status, `${method} ${path}`).toBe(413);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      await res.arrayBuffer();
    }
  });
});

describe("uploads", () => {
  it("keep their own limit (MAX_UPLOAD_BYTES), above the JSON one", async () => {
    const project = await call("POST", "/v1/projects", { token: lead, json: { id: "limit-upload", name: "Uploads" } });
    expect(project.status).toBe(201);
    const upload = (size: number) => {
      const fd = new FormData();
      fd.set("image", new Blob([new Uint8Array(size)], { type: "image/png" }), "a.png");
      fd.set("panoptic", new Blob([new Uint8Array(8)], { type: "image/png" }), "a-panoptic.png");
      fd.set("segments_info", "[]");
      return call("POST", "/v1/projects/limit-upload/images", { token: lead, body: fd });
    };
    // 1.5 MiB of bytes that are no image: past the JSON limit, so a refusal for what they are shows the upload limit applies.
    const underUploadLimit = await upload(1.5 * 1024 * 1024);
    expect(underUploadLimit.status).not.toBe(413);
    expect(underUploadLimit.status).toBeGreaterThanOrEqual(400);
    const over = await upload(2 * 1024 * 1024 + 1);
    expect(over.status).toBe(413);
    expect(over.data.limit).toBe(2 * 1024 * 1024);
  });
});
