import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { encodePanoptic } from "../../worker/imaging/panoptic.ts";
import { call, createProject, tokenFor } from "../support/api.ts";
import { sample, sampleMissingReason } from "../support/sample.ts";

interface SegInfo { id: number; category_id: number; iscrowd: number; bbox: number[]; area: number }
interface Example { images: { id: number; file_name: string; width: number; height: number }[]; annotations: { image_id: number; file_name: string; segments_info: SegInfo[] }[] }

const PROJECT = "ingest-p";
let lead: string;

function form(parts: { image?: Uint8Array | string; panoptic?: Uint8Array | string; segments_info?: unknown; file_name?: string; external_id?: string }) {
  const fd = new FormData();
  const blob = (v: Uint8Array | string, type: string) => new Blob([v], { type });
  if (parts.image !== undefined) fd.set("image", blob(parts.image, "image/jpeg"), "image.jpg");
  if (parts.panoptic !== undefined) fd.set("panoptic", blob(parts.panoptic, "image/png"), "panoptic.png");
  if (parts.segments_info !== undefined) fd.set("segments_info", typeof parts.segments_info === "string" ? parts.segments_info : JSON.stringify(parts.segments_info));
  if (parts.file_name) fd.set("file_name", parts.file_name);
  if (parts.external_id) fd.set("external_id", parts.external_id);
  return fd;
}

const upload = (fd: FormData, token = lead, project = PROJECT) => call("POST", `/v1/projects/${project}/images`, { token, body: fd });

async function storedState() {
  const images = await env.DB.prepare("SELECT count(*) AS n FROM images").first<{ n: number }>();
  const segments = await env.DB.prepare("SELECT count(*) AS n FROM segments").first<{ n: number }>();
  const blobs = await env.BLOBS.list();
  return { images: images!.n, segments: segments!.n, blobs: blobs.objects.length };
}

beforeAll(async () => {
  lead = await tokenFor("lead", [], "ingest-lead");
  await createProject(lead, { id: PROJECT });
});

describe.skipIf(!sample)(`ingesting the COCO-panoptic sample${sampleMissingReason ? ` (skipped: ${sampleMissingReason})` : ""}`, () => {
  const examples = () => sample!.json<Example>("panoptic_examples.json");
  const parts = (i: number) => {
    const ann = examples().annotations[i];
    return {
      ann,
      image: sample!.file(`images/${ann.file_name.replace(".png", ".jpg")}`),
      panoptic: sample!.file(`panoptic/${ann.file_name}`),
    };
  };

  describe("bad input is a clear 4xx and stores nothing", () => {
    const cases: [string, () => FormData, number, (data: any) => void][] = [
      ["truncated PNG", () => { const p = parts(0); return form({ ...p, panoptic: p.panoptic.slice(0, p.panoptic.length / 2), segments_info: p.ann.segments_info }); }, 422,
        (d) => expect(d.errors[0].path).toBe("body.panoptic")],
      ["a JPEG that is not a JPEG", () => { const p = parts(0); return form({ ...p, image: "this is plain text, not an image", segments_info: p.ann.segments_info }); }, 422,
        (d) => { expect(d.errors[0].path).toBe("body.image"); expect(d.detail).toMatch(/not a JPEG or PNG/); }],
      ["panoptic PNG of the wrong size", () => { const p = parts(0); return form({ ...p, panoptic: encodePanoptic({ width: 10, height: 10, ids: new Uint32Array(100) }), segments_info: [] }); }, 422,
        (d) => { expect(d.detail).toContain("10×10"); expect(d.found).toEqual({ width: 10, height: 10 }); expect(d.expected).toEqual({ width: 640, height: 427 }); }],
      ["a PNG id missing from segments_info", () => { const p = parts(0); return form({ ...p, segments_info: p.ann.segments_info.slice(1) }); }, 422,
        (d) => { expect(d.segments).toHaveLength(1); expect(d.segments[0]).toMatchObject({ segment_id: parts(0).ann.segments_info[0].id, field: "id" }); }],
      ["a segments_info id absent from the PNG", () => { const p = parts(0); return form({ ...p, segments_info: [...p.ann.segments_info, { id: 4242, category_id: 1, iscrowd: 0, bbox: [0, 0, 1, 1], area: 1 }] }); }, 422,
        (d) => expect(d.segments).toEqual([expect.objectContaining({ segment_id: 4242, field: "id" })])],
      ["an unknown category", () => { const p = parts(0); const s = structuredClone(p.ann.segments_info); s[2].category_id = 9999; return form({ ...p, segments_info: s }); }, 422,
        (d) => expect(d.segments).toEqual([expect.objectContaining({ segment_id: parts(0).ann.segments_info[2].id, field: "category_id", found: 9999 })])],
      ["an area off by one", () => { const p = parts(0); const s = structuredClone(p.ann.segments_info); s[3].area += 1; return form({ ...p, segments_info: s }); }, 422,
        (d) => { const s3 = parts(0).ann.segments_info[3]; expect(d.segments).toEqual([{ segment_id: s3.id, field: "area", problem: expect.any(String), expected: s3.area, found: s3.area + 1 }]); }],
      ["a bbox off by one", () => { const p = parts(0); const s = structuredClone(p.ann.segments_info); s[4].bbox[2] -= 1; return form({ ...p, segments_info: s }); }, 422,
        (d) => { const s4 = parts(0).ann.segments_info[4]; expect(d.segments[0]).toMatchObject({ segment_id: s4.id, field: "bbox", expected: s4.bbox, found: [s4.bbox[0], s4.bbox[1], s4.bbox[2] - 1, s4.bbox[3]] }); }],
      ["malformed segments_info JSON", () => { const p = parts(0); return form({ ...p, segments_info: '[{"id": 1,' }); }, 400,
        (d) => expect(d.errors[0].path).toBe("body.segments_info")],
      ["segments_info of the wrong shape", () => { const p = parts(0); return form({ ...p, segments_info: [{ id: "one" }] }); }, 400,
        (d) => expect(d.errors.map((e: any) => e.path)).toContain("body.segments_info[0].id")],
      ["a missing part", () => { const p = parts(0); return form({ image: p.image, segments_info: [] }); }, 400,
        (d) => expect(d.errors.map((e: any) => e.path)).toContain("body.panoptic")],
      ["an oversize body", () => form({ image: new Uint8Array(3 * 1024 * 1024), panoptic: parts(0).panoptic, segments_info: [] }), 413,
        (d) => expect(d.limit).toBe(2 * 1024 * 1024)],
    ];

    for (const [name, build, status, check] of cases) {
      it(name, async () => {
        const before = await storedState();
        const r = await upload(build());
        expect(r.status).toBe(status);
        expect(r.res.headers.get("content-type")).toContain("application/problem+json");
        check(r.data);
        expect(await storedState()).toEqual(before);
      });
    }

    it("a JSON body instead of multipart is 415", async () => {
      const r = await call("POST", `/v1/projects/${PROJECT}/images`, { token: lead, json: { image: "x" } });
      expect(r.status).toBe(415);
    });
  });

  describe("good input", () => {
    const ingested: Record<number, any> = {};

    it("both images ingest; every one of the 50 segments has the published area and bbox; marks lie inside", async () => {
      let total = 0;
      for (const i of [0, 1]) {
        const p = parts(i);
        const r = await upload(form({ ...p, segments_info: p.ann.segments_info, file_name: p.ann.file_name.replace(".png", ".jpg"), external_id: String(p.ann.image_id) }));
        expect(r.status).toBe(201);
        ingested[i] = r.data;
        const info = examples().images.find((im) => im.id === p.ann.image_id)!;
        expect([r.data.width, r.data.height]).toEqual([info.width, info.height]);
        expect(r.data.segments).toHaveLength(p.ann.segments_info.length);
        for (const s of p.ann.segments_info) {
          const got = r.data.segments.find((g: any) => g.id === s.id);
          expect(got.area).toBe(s.area);
          expect(got.bbox).toEqual(s.bbox);
          expect(got.category_id).toBe(s.category_id);
        }
        // mark points: inside their own segment, checked against the PNG's pixels via the panoptic file route
        const png = await call("GET", `/v1/images/${r.data.id}/files/panoptic`, { token: lead });
        expect(png.status).toBe(200);
        const { decodePanoptic } = await import("../../worker/imaging/panoptic.ts");
        const map = decodePanoptic(new Uint8Array(await png.res.arrayBuffer()));
        for (const s of r.data.segments) expect(map.ids[s.mark.y * map.width + s.mark.x]).toBe(s.id);
        total += r.data.segments.length;
      }
      expect(total).toBe(50);
      expect((await storedState()).segments).toBe(50);
    });

    it("the same image again returns the existing record with 200, never a duplicate", async () => {
      const p = parts(0);
      const before = await storedState();
      const r = await upload(form({ ...p, segments_info: p.ann.segments_info }));
      expect(r.status).toBe(200);
      expect(r.data.id).toBe(ingested[0].id);
      expect(await storedState()).toEqual(before);
      const project = await call("GET", `/v1/projects/${PROJECT}`, { token: lead });
      expect(project.data.image_count).toBe(2);
    });

    it("the same image with another annotation is a 409", async () => {
      const p = parts(0);
      const other = parts(1);
      const r = await upload(form({ image: p.image, panoptic: other.panoptic, segments_info: other.ann.segments_info }));
      expect(r.status).toBe(409);
      expect(r.data.image_id).toBe(ingested[0].id);
    });

    it("lists with cursor pagination and shows details", async () => {
      const page1 = await call("GET", `/v1/projects/${PROJECT}/images?limit=1`, { token: lead });
      expect(page1.data.items).toHaveLength(1);
      expect(page1.data.items[0].id).toBe(ingested[0].id);
      const page2 = await call("GET", `/v1/projects/${PROJECT}/images?limit=1&cursor=${page1.data.next_cursor}`, { token: lead });
      expect(page2.data.items[0].id).toBe(ingested[1].id);
      expect(page2.data.next_cursor).toBeNull();

      const detail = await call("GET", `/v1/images/${ingested[1].id}`, { token: await tokenFor("annotator", [PROJECT]) });
      expect(detail.status).toBe(200);
      expect(detail.data.segments).toHaveLength(32);
      expect(detail.data.segments[0]).toMatchObject({ category: expect.any(String), isthing: expect.any(Boolean), mark: { x: expect.any(Number) } });
      expect((await call("GET", `/v1/images/${ingested[1].id}`, { token: await tokenFor("annotator", ["elsewhere"]) })).status).toBe(403);
      expect((await call("GET", `/v1/images/img_00000000000000000000000000`, { token: lead })).status).toBe(404);
      expect((await call("GET", `/v1/images/nope`, { token: lead })).status).toBe(400);
    });

    it("serves bytes with an ETag, answers 304, and works through signed URLs only while they are valid", async () => {
      const p = parts(0);
      const img = await call("GET", `/v1/images/${ingested[0].id}/files/image`, { token: lead });
      expect(img.status).toBe(200);
      expect(img.res.headers.get("content-type")).toBe("image/jpeg");
      const bytes = new Uint8Array(await img.res.arrayBuffer());
      expect(bytes).toEqual(p.image);
      const etag = img.res.headers.get("etag")!;
      expect(etag).toBe(`"${ingested[0].files.image.sha256}"`);
      const again = await call("GET", `/v1/images/${ingested[0].id}/files/image`, { token: lead, headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);

      const signed = ingested[0].files.panoptic.url as string;
      const viaUrl = await call("GET", signed);
      expect(viaUrl.status).toBe(200);
      expect(new Uint8Array(await viaUrl.res.arrayBuffer())).toEqual(p.panoptic);
      const tampered = await call("GET", signed.replace("/panoptic?", "/image?"));
      expect(tampered.status).toBe(401);
      const expired = signed.replace(/expires=\d+/, "expires=1000");
      expect((await call("GET", expired)).status).toBe(401);
      expect((await call("GET", `/v1/images/${ingested[0].id}/files/image`)).status).toBe(401);
    });

    it("an annotator may not ingest", async () => {
      const p = parts(0);
      const r = await upload(form({ ...p, segments_info: p.ann.segments_info }), await tokenFor("annotator", [PROJECT]));
      expect(r.status).toBe(403);
    });
  });
});
