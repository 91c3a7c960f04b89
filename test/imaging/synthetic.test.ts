import { describe, expect, it } from "vitest";
import { checkSegmentsInfo } from "../../worker/domain/segments-check.ts";
import { decodeImage } from "../../worker/imaging/decode.ts";
import { decodePanoptic } from "../../worker/imaging/panoptic.ts";
import { measureSegments } from "../../worker/imaging/segments.ts";
import { synthesizeScene } from "../../worker/imaging/synthetic.ts";
import { sample } from "../support/sample.ts";

/** The COCO-panoptic ids synthetic scenes may use, when the sample's category list is absent. */
const FALLBACK_CATEGORY_IDS = [1, 2, 3, 17, 18, 184, 187, 191, 193, 199];

const knownCategories: ReadonlySet<number> = new Set(
  sample ? sample.json<{ id: number }[]>("panoptic_coco_categories.json").map((c) => c.id) : FALLBACK_CATEGORY_IDS,
);

describe("synthesizeScene", () => {
  it("is deterministic: the same seed gives identical bytes", () => {
    const a = synthesizeScene(42);
    const b = synthesizeScene(42);
    expect(b.fileName).toBe(a.fileName);
    expect(b.image).toEqual(a.image);
    expect(b.panoptic).toEqual(a.panoptic);
    expect(b.segmentsInfo).toEqual(a.segmentsInfo);
    expect(synthesizeScene(43).image).not.toEqual(a.image);
  });

  it("honours the requested size", async () => {
    const scene = synthesizeScene(5, { width: 200, height: 120 });
    const image = await decodeImage(scene.image, "image");
    const map = decodePanoptic(scene.panoptic);
    expect([image.width, image.height, map.width, map.height]).toEqual([200, 120, 200, 120]);
  });

  for (const seed of [1, 2, 3, 7, 2024]) {
    it(`seed ${seed}: segments_info verifies against its own panoptic PNG`, async () => {
      const scene = synthesizeScene(seed);
      const map = decodePanoptic(scene.panoptic);
      const image = await decodeImage(scene.image, "image");
      expect([image.width, image.height]).toEqual([map.width, map.height]);

      expect(checkSegmentsInfo(scene.segmentsInfo, measureSegments(map), knownCategories)).toEqual([]);
      for (const s of scene.segmentsInfo) {
        expect(knownCategories.has(s.category_id), `category ${s.category_id}`).toBe(true);
        expect(s.iscrowd).toBe(0);
      }
      // A background split plus 3–6 things, some of which may be hidden behind nearer ones.
      const things = scene.segmentsInfo.filter((s) => s.category_id < 92);
      const stuff = scene.segmentsInfo.filter((s) => s.category_id >= 92);
      expect(stuff.length).toBeGreaterThanOrEqual(2);
      expect(things.length).toBeGreaterThanOrEqual(1);
      expect(things.length).toBeLessThanOrEqual(6);
      expect(scene.fileName).toMatch(/^synthetic_\d{6,}\.png$/);
    });
  }
});
