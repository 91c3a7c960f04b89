import type { GroundedCaption } from "./grounded-caption.ts";
import { sliceCodePoints } from "./grounded-caption.ts";
import { words, writtenWords } from "./words.ts";

export interface CoverageSegment {
  id: number;
  area: number;
  isthing: boolean;
}

export interface Coverage {
  /** Share of the image's segments that some span grounds. */
  segments: number;
  /** Share of its thing segments that some span grounds (1 when it has none). */
  things: number;
  /** Share of its labelled pixel area that the grounded segments cover. */
  area: number;
  groundedIds: number[];
  /** Thing segments no span grounds, largest first. */
  ungroundedThings: number[];
}

/** How much of the image a grounded caption accounts for: by segments, by things, by pixels. */
export function coverage(caption: GroundedCaption, segments: readonly CoverageSegment[]): Coverage {
  const grounded = new Set(caption.spans.flatMap((s) => s.segment_ids));
  const known = segments.filter((s) => grounded.has(s.id));
  const things = segments.filter((s) => s.isthing);
  const totalArea = segments.reduce((n, s) => n + s.area, 0);
  return {
    segments: segments.length ? known.length / segments.length : 1,
    things: things.length ? things.filter((s) => grounded.has(s.id)).length / things.length : 1,
    area: totalArea ? known.reduce((n, s) => n + s.area, 0) / totalArea : 1,
    groundedIds: known.map((s) => s.id).sort((a, b) => a - b),
    ungroundedThings: things
      .filter((s) => !grounded.has(s.id))
      .sort((a, b) => b.area - a.area || a.id - b.id)
      .map((s) => s.id),
  };
}

/** The project rule: every thing above `minArea` pixels is grounded, or the submission says why not. */
export function missingRequiredThings(cov: Coverage, segments: readonly CoverageSegment[], minArea: number | null): number[] {
  if (minArea === null) return [];
  const area = new Map(segments.map((s) => [s.id, s.area]));
  return cov.ungroundedThings.filter((id) => (area.get(id) ?? 0) > minArea);
}

export interface CaptionStats {
  words: number;
  masks: number;
  groundedMasks: number;
  spans: number;
  /** Head nouns of the grounded phrases (their last word, lower-cased), in order of appearance. */
  nouns: string[];
}

/**
 * Dataset statistics of a final caption, computed once when it becomes final so that reports never
 * re-read captions. The head noun of an English noun phrase is almost always its last word, which
 * is what the most-frequent-nouns report needs without a tagger.
 */
export function captionStats(caption: GroundedCaption, masks: number): CaptionStats {
  const nouns: string[] = [];
  for (const s of caption.spans) {
    const phrase = words(sliceCodePoints(caption.text, s.start, s.end));
    if (phrase.length) nouns.push(phrase[phrase.length - 1]);
  }
  return {
    words: writtenWords(caption.text).length,
    masks,
    groundedMasks: new Set(caption.spans.flatMap((s) => s.segment_ids)).size,
    spans: caption.spans.length,
    nouns,
  };
}
