import { describe, expect, it } from "vitest";
import { checkSegmentsInfo } from "../../worker/domain/segments-check.ts";
import type { SegmentInfo } from "../../worker/domain/segments-check.ts";
import type { SegmentMeasure } from "../../worker/imaging/segments.ts";

const known = new Set([1, 3, 187, 193]);

function measure(id: number, area: number, bbox: [number, number, number, number]): SegmentMeasure {
  return { id, area, bbox, mark: { x: bbox[0], y: bbox[1] }, markDistance: 1 };
}

const measured: SegmentMeasure[] = [
  measure(100, 50, [0, 0, 10, 5]),
  measure(200, 12, [3, 4, 4, 3]),
  measure(70_000, 7, [9, 9, 1, 7]),
];

const clean: SegmentInfo[] = [
  { id: 200, category_id: 3, iscrowd: 0, bbox: [3, 4, 4, 3], area: 12 },
  { id: 100, category_id: 187, iscrowd: 0, bbox: [0, 0, 10, 5], area: 50 },
  { id: 70_000, category_id: 1, iscrowd: 1, bbox: [9, 9, 1, 7], area: 7 },
];

const withChange = (id: number, change: Partial<SegmentInfo>): SegmentInfo[] =>
  clean.map((s) => (s.id === id ? { ...s, ...change } : s));

describe("checkSegmentsInfo", () => {
  it("returns no problems when segments_info matches the PNG (in any order)", () => {
    expect(checkSegmentsInfo(clean, measured, known)).toEqual([]);
  });

  it("reports an id present in the PNG but missing from segments_info, with its area", () => {
    expect(checkSegmentsInfo(clean.slice(1), measured, known)).toEqual([
      { segment_id: 200, field: "id", problem: "present in the panoptic PNG but missing from segments_info", expected: { area: 12 } },
    ]);
  });

  it("reports an id listed in segments_info but absent from the PNG", () => {
    const extra: SegmentInfo = { id: 300, category_id: 1, iscrowd: 0, bbox: [0, 0, 1, 1], area: 1 };
    expect(checkSegmentsInfo([...clean, extra], measured, known)).toEqual([
      {
        segment_id: 300,
        field: "id",
        problem: "listed in segments_info but absent from the panoptic PNG",
        expected: { area: 0 },
        found: { area: 1 },
      },
    ]);
  });

  it("reports duplicate ids once, with how many times they are listed", () => {
    expect(checkSegmentsInfo([...clean, clean[0], clean[0]], measured, known)).toEqual([
      { segment_id: 200, field: "id", problem: "listed 3 times in segments_info", found: 3 },
    ]);
  });

  it("reports id 0 being listed", () => {
    const zero: SegmentInfo = { id: 0, category_id: 1, iscrowd: 0, bbox: [0, 0, 1, 1], area: 1 };
    const problems = checkSegmentsInfo([...clean, zero], measured, known);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ segment_id: 0, field: "id" });
    expect(problems[0].problem).toMatch(/id 0 .*unlabeled/);
  });

  it("reports an unknown category", () => {
    expect(checkSegmentsInfo(withChange(100, { category_id: 999 }), measured, known)).toEqual([
      { segment_id: 100, field: "category_id", problem: "unknown category id", found: 999 },
    ]);
  });

  it("reports an area off by one, with the PNG's area as expected and the declared one as found", () => {
    expect(checkSegmentsInfo(withChange(200, { area: 13 }), measured, known)).toEqual([
      { segment_id: 200, field: "area", problem: "area differs from the pixel count in the panoptic PNG", expected: 12, found: 13 },
    ]);
  });

  it("reports a bbox off by one, with expected and found boxes", () => {
    expect(checkSegmentsInfo(withChange(70_000, { bbox: [9, 9, 1, 8] }), measured, known)).toEqual([
      {
        segment_id: 70_000,
        field: "bbox",
        problem: "bbox differs from the extent in the panoptic PNG",
        expected: [9, 9, 1, 7],
        found: [9, 9, 1, 8],
      },
    ]);
    const shifted = checkSegmentsInfo(withChange(100, { bbox: [1, 0, 10, 5] }), measured, known);
    expect(shifted).toMatchObject([{ segment_id: 100, field: "bbox", expected: [0, 0, 10, 5], found: [1, 0, 10, 5] }]);
  });

  it("lists every offending segment, ordered by segment id then field", () => {
    const declared: SegmentInfo[] = [
      { id: 70_000, category_id: 42, iscrowd: 0, bbox: [9, 9, 2, 7], area: 8 },
      { id: 100, category_id: 187, iscrowd: 0, bbox: [0, 0, 10, 5], area: 49 },
      { id: 5, category_id: 1, iscrowd: 0, bbox: [0, 0, 1, 1], area: 1 },
    ];
    const problems = checkSegmentsInfo(declared, measured, known);
    expect(problems.map((p) => [p.segment_id, p.field])).toEqual([
      [5, "id"],
      [100, "area"],
      [200, "id"],
      [70_000, "area"],
      [70_000, "bbox"],
      [70_000, "category_id"],
    ]);
  });

  it("is pure: it does not modify its inputs", () => {
    const declared = structuredClone(withChange(200, { area: 1 }));
    const before = structuredClone(declared);
    const m = structuredClone(measured);
    checkSegmentsInfo(declared, m, known);
    expect(declared).toEqual(before);
    expect(m).toEqual(measured);
  });
});
