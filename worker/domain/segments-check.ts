/**
 * Cross-checks a COCO-panoptic `segments_info` list against what its panoptic PNG actually contains.
 *
 * Pure. Reports every problem at once (not just the first) so an uploader can fix a whole file in
 * one round trip. `expected` is always what the PNG says, `found` what segments_info declares.
 */
import type { SegmentMeasure } from "../imaging/segments.ts";

export interface SegmentInfo {
  id: number;
  category_id: number;
  iscrowd: 0 | 1;
  bbox: [number, number, number, number];
  area: number;
}

export interface SegmentProblem {
  segment_id: number;
  field: "id" | "area" | "bbox" | "category_id";
  problem: string;
  expected?: unknown;
  found?: unknown;
}

export function checkSegmentsInfo(
  declared: SegmentInfo[],
  measured: SegmentMeasure[],
  knownCategoryIds: ReadonlySet<number>,
): SegmentProblem[] {
  const problems: SegmentProblem[] = [];
  const inPng = new Map<number, SegmentMeasure>();
  for (const m of measured) inPng.set(m.id, m);

  const listed = new Map<number, SegmentInfo>();
  const timesListed = new Map<number, number>();
  for (const seg of declared) {
    const times = (timesListed.get(seg.id) ?? 0) + 1;
    timesListed.set(seg.id, times);
    if (times === 1) listed.set(seg.id, seg);
  }

  for (const [id, times] of timesListed) {
    if (times > 1) problems.push({ segment_id: id, field: "id", problem: `listed ${times} times in segments_info`, found: times });
  }

  // Only the first entry of a duplicated id is compared; the duplicate itself is already reported.
  for (const [id, seg] of listed) {
    if (id === 0) {
      problems.push({ segment_id: 0, field: "id", problem: "id 0 means unlabeled and must not be listed in segments_info" });
      continue;
    }
    if (!Number.isInteger(id) || id < 0 || id > 0xffffff) {
      problems.push({ segment_id: id, field: "id", problem: "not a valid panoptic id (an integer from 1 to 16777215)", found: id });
      continue;
    }
    if (!knownCategoryIds.has(seg.category_id)) {
      problems.push({ segment_id: id, field: "category_id", problem: "unknown category id", found: seg.category_id });
    }
    const m = inPng.get(id);
    if (m === undefined) {
      problems.push({
        segment_id: id,
        field: "id",
        problem: "listed in segments_info but absent from the panoptic PNG",
        expected: { area: 0 },
        found: { area: seg.area },
      });
      continue;
    }
    if (seg.area !== m.area) {
      problems.push({ segment_id: id, field: "area", problem: "area differs from the pixel count in the panoptic PNG", expected: m.area, found: seg.area });
    }
    if (!sameBbox(seg.bbox, m.bbox)) {
      problems.push({ segment_id: id, field: "bbox", problem: "bbox differs from the extent in the panoptic PNG", expected: [...m.bbox], found: seg.bbox });
    }
  }

  for (const m of measured) {
    if (!listed.has(m.id)) {
      problems.push({
        segment_id: m.id,
        field: "id",
        problem: "present in the panoptic PNG but missing from segments_info",
        expected: { area: m.area },
      });
    }
  }

  // Stable sort: within one segment and field, problems keep the order they were found in.
  return problems.sort((p, q) => p.segment_id - q.segment_id || FIELD_ORDER[p.field] - FIELD_ORDER[q.field]);
}

/** The order the fields are declared in SegmentProblem["field"]. */
const FIELD_ORDER: Record<SegmentProblem["field"], number> = { id: 0, area: 1, bbox: 2, category_id: 3 };

function sameBbox(a: readonly number[], b: readonly number[]): boolean {
  return Array.isArray(a) && a.length === 4 && a.every((v, i) => v === b[i]);
}
