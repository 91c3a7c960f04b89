/**
 * Dataset exports: pure converters from one image's final record to the JSON object(s) of one
 * export format, written one per line (NDJSON) by the exporter, image after image, so that a
 * project of any size streams out without being held in memory.
 *
 * Formats (each converter returns plain JSON; nothing here does I/O):
 *
 * - `pancap`  (`toPancap`, here): the whole record, lossless: image info, the canonical caption
 *   `{ text, spans }` and its `inline` markup, the segments, the final region texts with drafts.
 * - `llava`   (`toLlava`, export-llava.ts): a LLaVA conversation whose answer marks each grounded
 *   phrase `<p> phrase </p> [SEG]`, with the segment ids of each `[SEG]` in `seg_group_ids`.
 * - `gcg`     (`toGcg`, export-gcg.ts): GLaMM GranD-f grounded caption, COCO RLE masks per phrase.
 * - `refer`   (`toRefer`, here): one referring expression per grounded phrase (several lines).
 * - `t2i`     (`toT2i`, here): image ↔ caption text pairs.
 * - `regions` (`toRegions`, here): Osprey-like per-segment descriptions (the round-1 region texts).
 *
 * Offsets everywhere are those of the canonical caption (see grounded-caption.ts): half-open, in
 * Unicode code points of the NFC text, i.e. Python `str` indices, so `caption[start:end]` in Python
 * is the phrase. Every converter first checks the record (`checkFinalImage`) and throws
 * `ExportError` listing every problem rather than writing a line that does not say what it should.
 *
 * Pure: no I/O, runs anywhere.
 */
import { codePointOffsets, toInline, validateCaption } from "./grounded-caption.ts";
import type { GroundedCaption, GroundedSpan } from "./grounded-caption.ts";

// ---------------------------------------------------------------------------------------------
// Input: one image's final record

/** The image, as ingested. */
export interface FinalImageInfo {
  /** Groundwork's image id (unique in the project). */
  id: string;
  /** The image's file name in the dataset (e.g. "000000142238.jpg"). */
  file_name: string;
  width: number;
  height: number;
  /** The dataset's own id of the image (e.g. the COCO image id), when the uploader gave one. */
  external_id: string | null;
}

/** A panoptic segment of the image, as measured from its PNG, with its category resolved. */
export interface FinalSegment {
  /** Panoptic segment id (R + 256·G + 256²·B), what caption spans point at. */
  id: number;
  category_id: number;
  /** Category name, e.g. "person", "sky-other-merged". */
  category: string;
  isthing: boolean;
  /** Pixels. */
  area: number;
  /** COCO `[x, y, width, height]` in pixels. */
  bbox: [number, number, number, number];
  iscrowd: boolean;
}

/** The final (round-1) description of one segment, and the draft it was edited from. */
export interface FinalRegion {
  segment_id: number;
  /** Final text, or null when the annotators left the region without a description. */
  text: string | null;
  /** The VLM (or template) draft of the region, when there was one. */
  draft_text: string | null;
  /** Where the final text comes from, e.g. "consolidated" or "adjudicated". */
  source: string;
}

/**
 * Everything the exports need about one image whose caption is final. The store assembles it;
 * the converters below only read it.
 */
export interface FinalImage {
  image: FinalImageInfo;
  /** The final grounded caption (canonical form; every segment id must be one of `segments`). */
  caption: GroundedCaption;
  /** Version of the final caption (bumped by every later edit). */
  caption_version: number;
  /** All segments of the image, in the order the exports list them. */
  segments: FinalSegment[];
  /** Final region texts; at most one per segment. */
  regions: FinalRegion[];
  /** Dataset split (train/val/test…), when the image has one. */
  split?: string | null;
}

// ---------------------------------------------------------------------------------------------
// Checks

/** One thing wrong with a record, `path` relative to it ("caption.spans.1.segment_ids.0"). */
export interface ExportProblem {
  path: string;
  message: string;
}

/** A record (or, for the importers, an exported line) that cannot be converted faithfully. */
export class ExportError extends Error {
  readonly problems: ExportProblem[];

  constructor(what: string, problems: ExportProblem[]) {
    super(`${what}: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`);
    this.name = "ExportError";
    this.problems = problems;
  }
}

/**
 * Every problem of a final record: a caption that is not valid (see `validateCaption`) or points
 * at a segment the image does not have, segment ids listed twice, region texts for unknown
 * segments or given twice.
 */
export function checkFinalImage(fi: FinalImage): ExportProblem[] {
  const problems: ExportProblem[] = [];
  const known = new Set<number>();
  fi.segments.forEach((s, k) => {
    if (known.has(s.id)) problems.push({ path: `segments.${k}.id`, message: `segment ${s.id} is listed twice` });
    known.add(s.id);
  });
  for (const p of validateCaption(fi.caption, known)) problems.push({ path: `caption.${p.path}`, message: p.message });
  const described = new Set<number>();
  fi.regions.forEach((r, k) => {
    if (!known.has(r.segment_id)) problems.push({ path: `regions.${k}.segment_id`, message: `segment ${r.segment_id} is not a segment of this image` });
    else if (described.has(r.segment_id)) problems.push({ path: `regions.${k}.segment_id`, message: `segment ${r.segment_id} has two region texts` });
    described.add(r.segment_id);
  });
  return problems;
}

/** Throws `ExportError` naming the image when `checkFinalImage` finds anything. */
export function assertFinalImage(fi: FinalImage): void {
  const problems = checkFinalImage(fi);
  if (problems.length > 0) throw new ExportError(`image ${fi.image.id} cannot be exported`, problems);
}

/** The phrase of every span, in span order (code point slices of the text). */
export function spanPhrases(caption: GroundedCaption): string[] {
  const offsets = codePointOffsets(caption.text);
  return caption.spans.map((s) => caption.text.slice(offsets[s.start], offsets[s.end]));
}

/** One NDJSON line per record (a converter's object, or each object of `toRefer`'s array). */
export function toNdjson(records: object | readonly object[]): string {
  const list = Array.isArray(records) ? records : [records];
  let out = "";
  for (const r of list) out += JSON.stringify(r) + "\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// pancap: the whole record

export interface PancapSegment {
  id: number;
  category_id: number;
  category: string;
  /** 1 for a thing, 0 for stuff (COCO-panoptic's convention). */
  isthing: 0 | 1;
  iscrowd: 0 | 1;
  area: number;
  bbox: [number, number, number, number];
}

export interface PancapRecord {
  image_id: string;
  file_name: string;
  width: number;
  height: number;
  external_id: string | null;
  split: string | null;
  /** The canonical grounded caption: offsets are code points of `text`, half-open. */
  caption: { text: string; spans: GroundedSpan[] };
  caption_version: number;
  /** The same caption as inline markup: `A <3:man in a red jacket> walks <5,6:two dogs>.` */
  inline: string;
  /** All segments of the image, COCO-panoptic `segments_info` style plus the category name. */
  segments_info: PancapSegment[];
  /** Final region texts with the drafts they were edited from. */
  regions: FinalRegion[];
}

/**
 * The PanCap-style line: everything about the image's final caption, nothing lost (the caption
 * is the canonical record, copied; `inline` is `toInline` of it and parses back to it).
 */
export function toPancap(fi: FinalImage): PancapRecord {
  assertFinalImage(fi);
  const { image, caption } = fi;
  return {
    image_id: image.id,
    file_name: image.file_name,
    width: image.width,
    height: image.height,
    external_id: image.external_id,
    split: fi.split ?? null,
    caption: { text: caption.text, spans: caption.spans.map((s) => ({ start: s.start, end: s.end, segment_ids: [...s.segment_ids] })) },
    caption_version: fi.caption_version,
    inline: toInline(caption),
    segments_info: fi.segments.map((s) => ({
      id: s.id,
      category_id: s.category_id,
      category: s.category,
      isthing: s.isthing ? 1 : 0,
      iscrowd: s.iscrowd ? 1 : 0,
      area: s.area,
      bbox: [s.bbox[0], s.bbox[1], s.bbox[2], s.bbox[3]],
    })),
    regions: fi.regions.map((r) => ({ segment_id: r.segment_id, text: r.text, draft_text: r.draft_text, source: r.source })),
  };
}

// ---------------------------------------------------------------------------------------------
// t2i: image ↔ caption

export interface T2iRecord {
  image: string;
  caption: string;
}

/** A text-to-image training pair: the file and the caption's plain text. */
export function toT2i(fi: FinalImage): T2iRecord {
  assertFinalImage(fi);
  return { image: fi.image.file_name, caption: fi.caption.text };
}

// ---------------------------------------------------------------------------------------------
// refer: one referring expression per grounded phrase

export interface ReferRecord {
  image_id: string;
  file_name: string;
  /** The phrase, as it reads in the caption. */
  sentence: string;
  /** The segments it refers to (ascending); several when the phrase covers several masks. */
  segment_ids: number[];
  /** Category of the first segment. */
  category: string;
  /** `categories[k]` is the category of `segment_ids[k]`. */
  categories: string[];
  /** Where the phrase is in the caption (code points, half-open), so lines can be traced back. */
  start: number;
  end: number;
}

/** Referring-segmentation pairs: one per span, in caption order (an empty array when none). */
export function toRefer(fi: FinalImage): ReferRecord[] {
  assertFinalImage(fi);
  const category = new Map(fi.segments.map((s) => [s.id, s.category]));
  const phrases = spanPhrases(fi.caption);
  return fi.caption.spans.map((span, k) => {
    const categories = span.segment_ids.map((id) => category.get(id)!);
    return {
      image_id: fi.image.id,
      file_name: fi.image.file_name,
      sentence: phrases[k],
      segment_ids: [...span.segment_ids],
      category: categories[0],
      categories,
      start: span.start,
      end: span.end,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// regions: Osprey-like per-segment descriptions

export interface RegionsRecord {
  image: string;
  width: number;
  height: number;
  regions: { segment_id: number; category: string; bbox: [number, number, number, number]; description: string }[];
}

/**
 * Per-segment descriptions (the final round-1 region texts), in the order of `fi.segments`;
 * segments without a text (null or blank) are left out.
 */
export function toRegions(fi: FinalImage): RegionsRecord {
  assertFinalImage(fi);
  const text = new Map(fi.regions.map((r) => [r.segment_id, r.text]));
  const regions: RegionsRecord["regions"] = [];
  for (const s of fi.segments) {
    const description = text.get(s.id);
    if (description == null || description.trim() === "") continue;
    regions.push({ segment_id: s.id, category: s.category, bbox: [s.bbox[0], s.bbox[1], s.bbox[2], s.bbox[3]], description });
  }
  return { image: fi.image.file_name, width: fi.image.width, height: fi.image.height, regions };
}
