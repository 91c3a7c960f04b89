import { describe, expect, it } from "vitest";
import { decodePanoptic } from "../../worker/imaging/panoptic.ts";
import type { PanopticMap } from "../../worker/imaging/panoptic.ts";
import { measureSegments } from "../../worker/imaging/segments.ts";
import type { SegmentMeasure } from "../../worker/imaging/segments.ts";
import { sample, sampleMissingReason } from "../support/sample.ts";

interface Example {
  annotations: { file_name: string; segments_info: { id: number; area: number; bbox: number[] }[] }[];
}

/**
 * Independent O(n·m) reference for the Set-of-Marks rule: for every pixel of `id`, the exact
 * squared distance to the nearest pixel of the one-pixel zero-padded grid that is not `id`; then
 * the row-major list of maximal pixels, and its element at floor(count / 2).
 */
function bruteMark(map: PanopticMap, id: number): { x: number; y: number; d2: number } {
  const { width: w, height: h, ids } = map;
  const outside: [number, number][] = [];
  for (let y = -1; y <= h; y++) {
    for (let x = -1; x <= w; x++) {
      if (x < 0 || y < 0 || x >= w || y >= h || ids[y * w + x] !== id) outside.push([x, y]);
    }
  }
  let best = -1;
  let at: [number, number][] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ids[y * w + x] !== id) continue;
      let d2 = Infinity;
      for (const [ox, oy] of outside) d2 = Math.min(d2, (ox - x) * (ox - x) + (oy - y) * (oy - y));
      if (d2 > best) {
        best = d2;
        at = [[x, y]];
      } else if (d2 === best) {
        at.push([x, y]);
      }
    }
  }
  const [x, y] = at[Math.floor(at.length / 2)];
  return { x, y, d2: best };
}

/** The map restricted to one segment's bbox grown by one pixel, as a 1/0 mask (id 1). */
function cropMask(map: PanopticMap, seg: SegmentMeasure): { map: PanopticMap; ox: number; oy: number } {
  const [bx, by, bw, bh] = seg.bbox;
  const ox = Math.max(0, bx - 1);
  const oy = Math.max(0, by - 1);
  const x1 = Math.min(map.width, bx + bw + 1);
  const y1 = Math.min(map.height, by + bh + 1);
  const width = x1 - ox;
  const height = y1 - oy;
  const ids = new Uint32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) ids[y * width + x] = map.ids[(y + oy) * map.width + x + ox] === seg.id ? 1 : 0;
  }
  return { map: { width, height, ids }, ox, oy };
}

function fromRows(rows: string[]): PanopticMap {
  const height = rows.length;
  const width = rows[0].length;
  const ids = new Uint32Array(width * height);
  rows.forEach((row, y) => [...row].forEach((ch, x) => (ids[y * width + x] = ch === "." ? 0 : parseInt(ch, 36))));
  return { width, height, ids };
}

function expectMarksMatchBruteForce(map: PanopticMap): void {
  for (const seg of measureSegments(map)) {
    const ref = bruteMark(map, seg.id);
    expect({ id: seg.id, x: seg.mark.x, y: seg.mark.y, d2: Math.round(seg.markDistance ** 2) }).toEqual({ id: seg.id, ...ref });
    expect(seg.markDistance).toBeCloseTo(Math.sqrt(ref.d2), 12);
  }
}

describe("measureSegments on hand-made maps", () => {
  it("puts the mark of a 5×5 square at its centre, 3 px from the border", () => {
    const map = fromRows([
      ".........",
      ".........",
      "..11111..",
      "..11111..",
      "..11111..",
      "..11111..",
      "..11111..",
      ".........",
      ".........",
    ]);
    expect(measureSegments(map)).toEqual([{ id: 1, area: 25, bbox: [2, 2, 5, 5], mark: { x: 4, y: 4 }, markDistance: 3 }]);
    expectMarksMatchBruteForce(map);
  });

  it("takes the middle pixel of a 1-px wide line (all pixels tie at distance 1)", () => {
    const map = fromRows(["...", ".2.", ".2.", ".2.", ".2.", ".2.", ".2.", ".2.", "..."]);
    expect(measureSegments(map)).toEqual([{ id: 2, area: 7, bbox: [1, 1, 1, 7], mark: { x: 1, y: 4 }, markDistance: 1 }]);
    expectMarksMatchBruteForce(map);
  });

  it("counts the image edge as border (a segment filling the image)", () => {
    const map = fromRows(["3333", "3333", "3333", "3333"]);
    // Inner 2×2 pixels are 2 from the padding; row-major ties (1,1) (2,1) (1,2) (2,2) → index 2.
    expect(measureSegments(map)).toEqual([{ id: 3, area: 16, bbox: [0, 0, 4, 4], mark: { x: 1, y: 2 }, markDistance: 2 }]);
    expectMarksMatchBruteForce(map);
  });

  it("breaks ties per segment for two segments side by side", () => {
    // Each 4×3 half has two pixels 2 from everything else; floor(2 / 2) picks the second.
    const map = fromRows(["11112222", "11112222", "11112222"]);
    const [a, b] = measureSegments(map);
    expect(a).toEqual({ id: 1, area: 12, bbox: [0, 0, 4, 3], mark: { x: 2, y: 1 }, markDistance: 2 });
    expect(b).toEqual({ id: 2, area: 12, bbox: [4, 0, 4, 3], mark: { x: 6, y: 1 }, markDistance: 2 });
    expectMarksMatchBruteForce(map);
  });

  it("handles disconnected segments, holes, diagonal distances and unlabeled pixels", () => {
    const map = fromRows([
      "11111111..44",
      "11111111..44",
      "111..111....",
      "111..1112222",
      "11111111222.",
      "11111111.2..",
      "........33.1",
      "..5.....33.1",
    ]);
    const measured = measureSegments(map);
    expect(measured.map((m) => m.id)).toEqual([1, 2, 3, 4, 5]);
    expect(measured[0].area).toBe(6 * 8 - 4 + 2); // 6 full rows, a 2×2 hole, 2 stray pixels
    expect(measured[0].bbox).toEqual([0, 0, 12, 8]);
    expectMarksMatchBruteForce(map);
  });

  it("ignores id 0 and returns nothing for an unlabeled map", () => {
    expect(measureSegments(fromRows(["...", "..."]))).toEqual([]);
  });

  it("matches the brute-force reference on random blob maps", () => {
    let state = 12345;
    const rand = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 40; trial++) {
      const width = 5 + Math.floor(rand() * 30);
      const height = 5 + Math.floor(rand() * 20);
      const ids = new Uint32Array(width * height);
      const shapes = 1 + Math.floor(rand() * 6);
      for (let s = 0; s < shapes; s++) {
        // Large ids on purpose: beyond 16 bits, as real panoptic ids are.
        const id = rand() < 0.2 ? 0 : 70_000 + Math.floor(rand() * 4) * 99_991;
        const cx = rand() * width;
        const cy = rand() * height;
        const rx = 1 + rand() * width * 0.5;
        const ry = 1 + rand() * height * 0.5;
        const ellipse = rand() < 0.5;
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            const u = (x - cx) / rx;
            const v = (y - cy) / ry;
            if (ellipse ? u * u + v * v <= 1 : Math.abs(u) <= 1 && Math.abs(v) <= 1) ids[y * width + x] = id;
          }
        }
      }
      expectMarksMatchBruteForce({ width, height, ids });
    }
  });

  it("rejects an id array of the wrong length", () => {
    expect(() => measureSegments({ width: 3, height: 3, ids: new Uint32Array(8) })).toThrow(RangeError);
  });
});

describe.skipIf(!sample)(`measureSegments on the COCO-panoptic sample${sampleMissingReason ? ` (skipped: ${sampleMissingReason})` : ""}`, () => {
  const examples = sample?.json<Example>("panoptic_examples.json");

  for (const ann of examples?.annotations ?? []) {
    describe(ann.file_name, () => {
      const map = decodePanoptic(sample!.file(`panoptic/${ann.file_name}`));
      const measured = measureSegments(map);

      it("finds exactly the segments of segments_info, with their area and bbox", () => {
        const expected = ann.segments_info
          .map((s) => ({ id: s.id, area: s.area, bbox: s.bbox }))
          .sort((a, b) => a.id - b.id);
        expect(measured.map((m) => ({ id: m.id, area: m.area, bbox: m.bbox }))).toEqual(expected);
      });

      it("puts every mark inside its own segment", () => {
        for (const m of measured) {
          expect(map.ids[m.mark.y * map.width + m.mark.x], `segment ${m.id}`).toBe(m.id);
          expect(m.markDistance).toBeGreaterThanOrEqual(1);
        }
      });

      it("matches the brute-force mark on the smaller segments (cropped to bbox + 1)", () => {
        const small = [...measured].sort((a, b) => a.bbox[2] * a.bbox[3] - b.bbox[2] * b.bbox[3]).slice(0, 4);
        expect(small.length).toBeGreaterThan(0);
        for (const seg of small) {
          const crop = cropMask(map, seg);
          const ref = bruteMark(crop.map, 1);
          expect({ id: seg.id, x: seg.mark.x, y: seg.mark.y, d2: Math.round(seg.markDistance ** 2) }).toEqual({
            id: seg.id,
            x: ref.x + crop.ox,
            y: ref.y + crop.oy,
            d2: ref.d2,
          });
        }
      });
    });
  }
});
