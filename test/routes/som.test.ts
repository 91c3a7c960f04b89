import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { decodePanoptic } from "../../worker/imaging/panoptic.ts";
import { call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";

let lead: string;
const renderRows = async (imageId: string) =>
  (await env.DB.prepare("SELECT key, marks, options FROM renders WHERE image_id = ?").bind(imageId).all<{ key: string; marks: string; options: string }>()).results;

beforeAll(async () => {
  lead = await tokenFor("lead", [], "som-lead");
  await createProject(lead, { id: "som-p" });
});

describe("set-of-marks files", () => {
  it("renders once, serves the cached bytes after that, with an ETag", { timeout: 20_000 }, async () => {
    const image = await ingestScene(lead, "som-p", 31);
    const first = await call("GET", `/v1/images/${image.id}/files/som`, { token: lead });
    expect(first.status).toBe(200);
    expect(first.res.headers.get("content-type")).toBe("image/png");
    const bytes = new Uint8Array(await first.res.arrayBuffer());
    const map = decodePanoptic(bytes, "som"); // decodes as a PNG of the image's size
    expect([map.width, map.height]).toEqual([image.width, image.height]);

    const second = await call("GET", `/v1/images/${image.id}/files/som`, { token: lead });
    expect(new Uint8Array(await second.res.arrayBuffer())).toEqual(bytes);
    const rows = await renderRows(image.id);
    expect(rows).toHaveLength(1);
    expect((await env.BLOBS.list({ prefix: "renders/" })).objects.map((o) => o.key)).toContain(`renders/${rows[0].key}.png`);

    const marks = JSON.parse(rows[0].marks) as { number: number; segmentId: number }[];
    expect(marks.map((m) => m.number)).toEqual(marks.map((_, i) => i + 1));
    expect(marks.map((m) => m.segmentId).sort()).toEqual(image.segments.map((s: any) => s.id).sort());

    const etag = first.res.headers.get("etag")!;
    expect((await call("GET", `/v1/images/${image.id}/files/som`, { token: lead, headers: { "if-none-match": etag } })).status).toBe(304);

    // the signed URL in the image's files works for <img> tags
    const detail = await call("GET", `/v1/images/${image.id}`, { token: lead });
    const viaUrl = await call("GET", detail.data.files.som.url);
    expect(viaUrl.status).toBe(200);
  });

  it("a changed render option is a new render under a new key", { timeout: 20_000 }, async () => {
    const image = await ingestScene(lead, "som-p", 32);
    const before = await call("GET", `/v1/images/${image.id}/files/som`, { token: lead });
    await call("PATCH", "/v1/projects/som-p", { token: lead, json: { settings: { render: { layout: "side-by-side", format: "jpeg" } } } });
    const after = await call("GET", `/v1/images/${image.id}/files/som`, { token: lead });
    expect(after.res.headers.get("content-type")).toBe("image/jpeg");
    expect(after.res.headers.get("etag")).not.toBe(before.res.headers.get("etag"));
    expect(after.res.headers.get("x-render-key")).not.toBe(before.res.headers.get("x-render-key"));
    expect(await renderRows(image.id)).toHaveLength(2);
    await call("PATCH", "/v1/projects/som-p", { token: lead, json: { settings: { render: { layout: "som", format: "png" } } } });
  });
});
