import { describe, expect, it } from "vitest";
import {
  decodeRle,
  encodeRle,
  encodeRleCountsForAll,
  encodeRleForAll,
  rleArea,
  rleFromString,
  rleToString,
  type SegmentIdMap,
} from "../../worker/domain/rle.ts";
import { decodePanoptic } from "../../worker/imaging/panoptic.ts";
import { sample, sampleMissingReason } from "../support/sample.ts";

/** A map from rows of ids (row-major, as a picture reads). */
function mapOf(rows: number[][]): SegmentIdMap & { ids: Uint32Array } {
  const height = rows.length;
  const width = height === 0 ? 0 : rows[0].length;
  return { width, height, ids: Uint32Array.from(rows.flat()) };
}

/** pycocotools' rleEncode, literally: flatten column-major, then count alternating runs from 0. */
function naiveCounts(map: SegmentIdMap, id: number): number[] {
  const counts: number[] = [];
  let prev = 0;
  let c = 0;
  for (let x = 0; x < map.width; x++) {
    for (let y = 0; y < map.height; y++) {
      const v = map.ids[y * map.width + x] === id ? 1 : 0;
      if (v !== prev) {
        counts.push(c);
        c = 0;
        prev = v;
      }
      c++;
    }
  }
  counts.push(c);
  return counts;
}

describe("COCO RLE against values derived by hand from pycocotools' maskApi.c", () => {
  it("encodes a 3×3 mask", () => {
    // The mask, as rows:      Column-major (x·height + y), i.e. column 0, then 1, then 2:
    //   0 1 0                   col 0: 0 0 0 | col 1: 1 1 0 | col 2: 0 1 0
    //   0 1 1                   → 0 0 0 1 1 0 0 1 0
    //   0 0 0                   → runs from a run of zeros: counts [3, 2, 2, 1, 1]
    // rleToString: i = 0..2 write the count itself, i > 2 write count − counts[i−2]:
    //   3 → chunk 3 (rest 0, sign bit clear → stop) → '0'+3 = "3"
    //   2 → "2", 2 → "2"
    //   i = 3: 1 − 2 = −1 → chunk −1 & 31 = 31, rest −1 >> 5 = −1, sign bit (16) set → stop → '0'+31 = "O"
    //   i = 4: 1 − 2 = −1 → "O"
    // so counts "322OO", area 3.
    const map = mapOf([
      [0, 7, 0],
      [0, 7, 7],
      [0, 0, 0],
    ]);
    expect(encodeRleCountsForAll(map, [7]).get(7)).toEqual([3, 2, 2, 1, 1]);
    const rle = encodeRle(map, 7);
    expect(rle).toEqual({ size: [3, 3], counts: "322OO" });
    expect(rleArea(rle)).toBe(3);
    expect(rleFromString("322OO")).toEqual([3, 2, 2, 1, 1]);
    expect(Array.from(decodeRle(rle))).toEqual([0, 1, 0, 0, 1, 1, 0, 0, 0]);
  });

  it("encodes a full mask, whose first run of zeros is empty, and counts past 15 in two characters", () => {
    // 4×5 all set: counts [0, 20]. 0 → "0". 20 = 0b10100: chunk 20 has the sign bit (16) set while
    // the rest (0) is not −1, so another chunk follows: '0' + (20 | 32) = 'd', then chunk 0 → "0".
    const full = mapOf(Array.from({ length: 4 }, () => [5, 5, 5, 5, 5]));
    expect(encodeRle(full, 5)).toEqual({ size: [4, 5], counts: "0d0" });
    // The same map for another id: all zeros, counts [20] → "d0".
    expect(encodeRle(full, 6)).toEqual({ size: [4, 5], counts: "d0" });
    expect(rleToString([16])).toBe("`0"); // 16 needs a second chunk too: '0' + (16 | 32) = '`'
    expect(rleToString([15])).toBe("?"); // 15 fits: '0' + 15
    expect(rleToString([100])).toBe("T3"); // 100 = 3·32 + 4: '0' + (4 | 32) = 'T', then '0' + 3
    // Counts [1, 40, 1, 2]: 1 → "1"; 40 = 1·32 + 8 → '0' + (8 | 32) = 'X', then '0' + 1 → "X1"; 1 → "1";
    // i = 3 writes 2 − 40 = −38: −38 & 31 = 26, −38 >> 5 = −2 (not −1) → '0' + (26 | 32) = 'j';
    // then −2 & 31 = 30, rest −1 with the sign bit set → stop → '0' + 30 = 'N'. So "1X11jN".
    expect(rleToString([1, 40, 1, 2])).toBe("1X11jN");
    expect(rleFromString("1X11jN")).toEqual([1, 40, 1, 2]);
  });

  it("matches a value computed with cocoapi's own rleEncode + rleToString (C) on the sample", (ctx) => {
    // Segment 3997935 of panoptic/000000142238.png (a small one), cross-checked against maskApi.c
    // compiled from the cocoapi sources: all 54 masks of both sample PNGs agreed byte for byte.
    if (!sample) return ctx.skip(sampleMissingReason ?? "sample absent");
    const map = decodePanoptic(sample.file("panoptic/000000142238.png"));
    expect(encodeRle(map, 3997935)).toEqual({ size: [427, 640], counts: "b7\\1P<VOi001O1O1O4L2N3LokV8" });
  });
});

describe("COCO RLE encoding", () => {
  it("handles empty maps, single rows and columns, masks starting and ending with the segment", () => {
    const cases: number[][][] = [
      [],
      [[1]],
      [[0]],
      [[1, 1, 0, 1]],
      [[1], [0], [1], [1]],
      [
        [1, 2, 2],
        [2, 2, 1],
      ],
      [
        [0, 0],
        [0, 1],
      ],
    ];
    for (const rows of cases) {
      const map = mapOf(rows);
      const all = encodeRleCountsForAll(map, [0, 1, 2, 3]);
      for (const id of [0, 1, 2, 3]) {
        const counts = naiveCounts(map, id);
        expect(all.get(id), `${JSON.stringify(rows)} id ${id}`).toEqual(counts);
        const rle = encodeRle(map, id);
        expect(rleFromString(rle.counts)).toEqual(counts);
        expect(Array.from(decodeRle(rle))).toEqual(Array.from(map.ids, (v) => (v === id ? 1 : 0)));
      }
    }
    expect(encodeRle(mapOf([]), 1)).toEqual({ size: [0, 0], counts: "0" });
  });

  it("one pass for many segments equals one scan per segment (random maps)", () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let t = 0; t < 60; t++) {
      const width = 1 + rand(23);
      const height = 1 + rand(19);
      const ids = new Uint32Array(width * height);
      // Blobby maps: mostly copy the left or upper neighbour, so runs span columns.
      for (let i = 0; i < ids.length; i++) {
        const r = rand(10);
        ids[i] = r < 4 && i % width > 0 ? ids[i - 1] : r < 8 && i >= width ? ids[i - width] : rand(5);
      }
      const map = { width, height, ids };
      const all = encodeRleForAll(map, [0, 1, 2, 3, 4, 99]);
      for (const id of [0, 1, 2, 3, 4, 99]) {
        const counts = naiveCounts(map, id);
        expect(rleFromString(all.get(id)!.counts)).toEqual(counts);
        expect(all.get(id)!.counts).toBe(rleToString(counts));
        expect(all.get(id)!.size).toEqual([height, width]);
      }
    }
  });

  it("round-trips large counts and deltas through the string form", () => {
    const counts = [0, 1, 2 ** 20, 3, 7, 2 ** 31, 1, 2 ** 32 - 1, 0x7fffffff, 5, 17, 16, 15, 31, 32, 33, 1000, 1];
    expect(rleFromString(rleToString(counts))).toEqual(counts);
    expect(rleArea({ size: [1, 1], counts })).toBe(counts.filter((_, i) => i % 2 === 1).reduce((a, b) => a + b, 0));
  });

  it("rejects malformed input", () => {
    expect(() => rleToString([1, -2])).toThrow(RangeError);
    expect(() => rleToString([1.5])).toThrow(RangeError);
    expect(() => rleFromString("3 2")).toThrow(/" " at character 1/);
    expect(() => rleFromString("3d")).toThrow(/ends inside the value/); // 'd' says another chunk follows
    expect(() => rleFromString("O")).toThrow(/outside/); // a first count of −1
    expect(() => decodeRle({ size: [3, 3], counts: "322O" })).toThrow(/add up to 8 pixels/);
    expect(() => encodeRle({ width: 2, height: 2, ids: new Uint32Array(3) }, 1)).toThrow(/expected 2×2/);
  });

  it("accepts uncompressed RLE in decodeRle and rleArea", () => {
    const rle = { size: [3, 3] as [number, number], counts: [3, 2, 2, 1, 1] };
    expect(rleArea(rle)).toBe(3);
    expect(Array.from(decodeRle(rle))).toEqual([0, 1, 0, 0, 1, 1, 0, 0, 0]);
  });
});

describe("COCO RLE on the COCO-panoptic sample", () => {
  const files = ["000000142238.png", "000000439180.png"];
  for (const file of files) {
    it(`every segment of ${file} decodes to exactly its pixels, with the published area`, (ctx) => {
      if (!sample) return ctx.skip(sampleMissingReason ?? "sample absent");
      const examples = sample.json<{
        annotations: { file_name: string; segments_info: { id: number; area: number; bbox: number[] }[] }[];
      }>("panoptic_examples.json");
      const annotation = examples.annotations.find((a) => a.file_name === file)!;
      const map = decodePanoptic(sample.file(`panoptic/${file}`));
      const segmentIds = annotation.segments_info.map((s) => s.id);
      expect(segmentIds.length).toBeGreaterThan(10);
      const all = encodeRleForAll(map, segmentIds);
      expect([...all.keys()]).toEqual(segmentIds);
      for (const info of annotation.segments_info) {
        const rle = encodeRle(map, info.id);
        expect(all.get(info.id)).toEqual(rle);
        expect(rle.size).toEqual([map.height, map.width]);
        const mask = decodeRle(rle);
        expect(mask.length).toBe(map.ids.length);
        let mismatches = 0;
        for (let i = 0; i < mask.length; i++) if (mask[i] !== (map.ids[i] === info.id ? 1 : 0)) mismatches++;
        expect(mismatches, `segment ${info.id}`).toBe(0);
        expect(rleArea(rle), `segment ${info.id}`).toBe(info.area);
        expect(rleFromString(rle.counts)).toEqual(naiveCounts(map, info.id));
      }
    });
  }
});
