/**
 * GLaMM grounded conversation generation (GCG) export, in the GranD-f annotation style:
 *
 *     { file_name, image_id, height, width, caption: "🐕 a dog and two cats",
 *       groundings: { "dog":      { token_positives: [4, 7],   rle_masks: [RLE(3)],         segment_ids: [3] },
 *                     "two cats": { token_positives: [12, 20], rle_masks: [RLE(4), RLE(5)], segment_ids: [4, 5] } } }
 *
 * - `caption` is the caption text, verbatim.
 * - `token_positives` is `[start, end]` of the phrase in the SAME convention as the canonical
 *   caption: half-open offsets in Unicode code points of `caption` (Python `str` indices, so
 *   `caption[start:end]` in Python is the phrase; NOT UTF-16 units as JS strings index, nor bytes).
 * - `rle_masks` holds one COCO RLE (compressed counts, column-major; see rle.ts) per segment of the
 *   span, in the order of `segment_ids` (ascending). A phrase over several segments keeps several
 *   masks. `segment_ids` is Groundwork's addition, so a line can be traced back without its masks.
 * - Keys are the phrases. JSON object keys must be unique, so when a phrase occurs again (the same
 *   words grounded to another segment, e.g. "dog" twice) the later occurrence is keyed
 *   `"dog (2)"`, then `"dog (3)"`, in caption order; if such a key is itself taken (a caption that
 *   really says "dog (2)"), the suffix is added again until the key is free (`gcgPhraseKeys`).
 *   The keys are labels only: where a phrase is, and so the caption's grounding, comes from
 *   `token_positives` (key order is not meaningful, and JSON readers may reorder numeric keys).
 *
 * `fromGcg` inverts `toGcg` exactly: the same text and spans, from `token_positives`, with the
 * segment ids recovered by matching each mask against the image's masks (or from `segment_ids`).
 *
 * Pure: no I/O, runs anywhere.
 */
import { codePointLength, sliceCodePoints, validateCaption } from "./grounded-caption.ts";
import type { GroundedCaption, GroundedSpan } from "./grounded-caption.ts";
import { ExportError, assertFinalImage, spanPhrases } from "./exports.ts";
import type { ExportProblem, FinalImage } from "./exports.ts";
import type { CocoRle } from "./rle.ts";

export interface GcgGrounding {
  /** `[start, end]`: half-open code point offsets of the phrase in `caption`. */
  token_positives: [number, number];
  /** One COCO RLE per segment, in the order of `segment_ids`. */
  rle_masks: CocoRle[];
  /** The segments of the phrase, ascending. */
  segment_ids: number[];
}

export interface GcgRecord {
  file_name: string;
  image_id: string;
  height: number;
  width: number;
  caption: string;
  /** Phrase key (unique, see the module comment) → its grounding. */
  groundings: Record<string, GcgGrounding>;
}

/**
 * Unique keys for phrases in caption order: the phrase itself the first time, then
 * `phrase (2)`, `phrase (3)`…, skipping any key already taken.
 */
export function gcgPhraseKeys(phrases: readonly string[]): string[] {
  const used = new Set<string>();
  return phrases.map((phrase) => {
    let key = phrase;
    for (let n = 2; used.has(key); n++) key = `${phrase} (${n})`;
    used.add(key);
    return key;
  });
}

/**
 * The GCG line of one image. `rles` maps each segment id to its COCO RLE (`encodeRleForAll` over
 * the image's panoptic map); every segment a span points at must be in it, at the image's size.
 */
export function toGcg(fi: FinalImage, rles: ReadonlyMap<number, CocoRle>): GcgRecord {
  assertFinalImage(fi);
  const { width, height } = fi.image;
  const problems: ExportProblem[] = [];
  const keys = gcgPhraseKeys(spanPhrases(fi.caption));
  const groundings: Record<string, GcgGrounding> = Object.create(null);
  fi.caption.spans.forEach((span, k) => {
    const rle_masks: CocoRle[] = [];
    for (const id of span.segment_ids) {
      const rle = rles.get(id);
      if (rle === undefined) problems.push({ path: `caption.spans.${k}.segment_ids`, message: `no mask given for segment ${id}` });
      else if (rle.size[0] !== height || rle.size[1] !== width) {
        problems.push({ path: `caption.spans.${k}.segment_ids`, message: `the mask of segment ${id} is ${rle.size[0]}×${rle.size[1]} (rows×columns), the image ${height}×${width}` });
      } else rle_masks.push({ size: [rle.size[0], rle.size[1]], counts: rle.counts });
    }
    groundings[keys[k]] = { token_positives: [span.start, span.end], rle_masks, segment_ids: [...span.segment_ids] };
  });
  if (problems.length > 0) throw new ExportError(`image ${fi.image.id} cannot be exported as GCG`, problems);
  return { file_name: fi.image.file_name, image_id: fi.image.id, height, width, caption: fi.caption.text, groundings };
}

/** What `fromGcg` reads: a GCG line as parsed from JSON (`segment_ids` optional, as in GranD-f). */
export interface GcgInput {
  caption: string;
  groundings: Record<string, { token_positives: [number, number]; rle_masks?: CocoRle[]; segment_ids?: number[] }>;
}

const SUFFIXED = /^([\s\S]*) \((\d+)\)$/;

/**
 * The grounded caption of a GCG line (the inverse of `toGcg`). Segment ids: when `rles` (segment
 * id → RLE, as given to `toGcg`) is passed, each of a phrase's `rle_masks` is matched to the segment
 * with exactly that mask (and must agree with `segment_ids` when both are there); without `rles`,
 * `segment_ids` is read. Throws `ExportError` listing every problem: a malformed grounding, a mask
 * of no segment, a key that is not its phrase (or phrase + " (n)"), or a caption that is not valid
 * (overlapping phrases, offsets outside the text, text not NFC…).
 */
export function fromGcg(gcg: GcgInput, rles?: ReadonlyMap<number, CocoRle>): GroundedCaption {
  const problems: ExportProblem[] = [];
  const { caption } = gcg;
  if (typeof caption !== "string") throw new ExportError("not a GCG line", [{ path: "caption", message: "caption must be a string" }]);
  if (gcg.groundings === null || typeof gcg.groundings !== "object" || Array.isArray(gcg.groundings)) {
    throw new ExportError("not a GCG line", [{ path: "groundings", message: "groundings must be an object" }]);
  }

  // Mask → segment id. Equal masks (two segments absent from the map) cannot be told apart.
  const bySize = (r: CocoRle) => `${r.size[0]}×${r.size[1]}:${r.counts}`;
  const byMask = new Map<string, number | null>();
  if (rles !== undefined) for (const [id, r] of rles) byMask.set(bySize(r), byMask.has(bySize(r)) ? null : id);

  const length = codePointLength(caption);
  const found: { key: string; span: GroundedSpan }[] = [];
  for (const [key, g] of Object.entries(gcg.groundings)) {
    const at = `groundings[${JSON.stringify(key)}]`;
    const tp = g?.token_positives;
    if (!Array.isArray(tp) || tp.length !== 2 || !Number.isInteger(tp[0]) || !Number.isInteger(tp[1])) {
      problems.push({ path: `${at}.token_positives`, message: "token_positives must be [start, end], two integers" });
      continue;
    }
    const [start, end] = tp;
    if (start >= 0 && start <= end && end <= length) {
      const phrase = sliceCodePoints(caption, start, end);
      const m = SUFFIXED.exec(key);
      if (key !== phrase && !(m !== null && m[1] === phrase)) {
        problems.push({ path: `${at}.token_positives`, message: `caption[${start}:${end}] is ${JSON.stringify(phrase)}, not the phrase of the key` });
      }
    }

    let ids: number[] | null = null;
    const given = Array.isArray(g.segment_ids) ? g.segment_ids : null;
    if (rles !== undefined) {
      const masks = Array.isArray(g.rle_masks) ? g.rle_masks : null;
      if (masks === null) {
        problems.push({ path: `${at}.rle_masks`, message: "rle_masks must be an array of COCO RLEs" });
        continue;
      }
      const matched: number[] = [];
      let unmatched = false;
      masks.forEach((r, j) => {
        const id = r && Array.isArray(r.size) && typeof r.counts === "string" ? byMask.get(bySize(r)) : undefined;
        if (id === undefined) problems.push({ path: `${at}.rle_masks.${j}`, message: "this mask is not the mask of any segment of the image" });
        else if (id === null) problems.push({ path: `${at}.rle_masks.${j}`, message: "this mask is the mask of several segments of the image" });
        else matched.push(id);
        unmatched ||= typeof id !== "number";
      });
      if (unmatched) continue;
      ids = matched;
      if (given !== null && canonicalIds(given).join() !== canonicalIds(ids).join()) {
        problems.push({ path: `${at}.segment_ids`, message: `segment_ids [${given.join(", ")}] are not the segments of rle_masks [${ids.join(", ")}]` });
      }
    } else if (given !== null) {
      ids = given;
    } else {
      problems.push({ path: `${at}.segment_ids`, message: "no segment_ids, and no segment masks were given to match rle_masks against" });
      continue;
    }
    found.push({ key, span: { start, end, segment_ids: canonicalIds(ids) } });
  }

  found.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  const result: GroundedCaption = { text: caption, spans: found.map((f) => f.span) };
  for (const p of validateCaption(result)) {
    if (p.span === null) {
      problems.push({ path: p.path === "text" ? "caption" : "groundings", message: p.message });
      continue;
    }
    const field = p.path.split(".")[2];
    const suffix = field === "start" || field === "end" ? ".token_positives" : ".segment_ids";
    // validateCaption counts spans in start order, which a GCG line does not have: name phrases by key.
    const message = p.message.replace(/\bspan (\d+)/g, (_, k: string) => `the phrase ${JSON.stringify(found[Number(k)].key)}`);
    problems.push({ path: `groundings[${JSON.stringify(found[p.span].key)}]${suffix}`, message });
  }
  if (problems.length > 0) throw new ExportError("the GCG line is not a valid grounded caption", problems);
  return result;
}

/** Sorted, unique; anything that is not a number is kept so that validation reports it. */
function canonicalIds(ids: readonly number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}
