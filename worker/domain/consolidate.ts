/**
 * Consolidation of several annotators' accepted round-1 submissions for one image: per region, pick
 * the text the others agree with most, and record how much the submissions agree.
 *
 * Pure. Similarity is bag-of-words token F1 (`text-similarity.ts`). The pick is a medoid: the text
 * with the highest mean F1 to the other texts, so with three annotators of whom two wrote nearly
 * the same thing, one of those two wins. Ties (within 1e-9) go to the lowest submissionId in
 * code-unit order (plain `<`, not locale order). Results, scores included, never depend on the
 * order of the input.
 */
import { bagF1, wordBag } from "./text-similarity.ts";

/** Scores this close count as equal, so float rounding never decides a tie. */
const TIE_EPSILON = 1e-9;

export interface RegionCandidate {
  submissionId: string;
  text: string;
}

export interface RegionConsolidation {
  /** The submissionId whose text was chosen. */
  chosen: string;
  /** The chosen text, exactly as that submission wrote it. */
  text: string;
  /** Mean token F1 of the chosen text to each other text; 1 when there is only one text. */
  meanSimilarity: number;
  /** Mean token F1 over all unordered pairs of texts; 1 when there is only one text. */
  agreement: number;
}

/**
 * Picks one region's final text among several annotators' texts. Throws a RangeError for an empty
 * list or a repeated submissionId (both are caller bugs).
 */
export function consolidateRegion(candidates: readonly RegionCandidate[]): RegionConsolidation {
  if (candidates.length === 0) throw new RangeError("consolidateRegion needs at least one text");
  // Canonical order (by submissionId, code units): float sums, and so every number returned, are
  // then bit-for-bit the same whatever order the caller passed; the first best is the lowest id.
  const texts = [...candidates].sort((x, y) => (x.submissionId < y.submissionId ? -1 : x.submissionId > y.submissionId ? 1 : 0));
  for (let i = 1; i < texts.length; i++) {
    if (texts[i].submissionId === texts[i - 1].submissionId) throw new RangeError(`submission ${texts[i].submissionId} appears twice`);
  }
  const n = texts.length;
  if (n === 1) return { chosen: texts[0].submissionId, text: texts[0].text, meanSimilarity: 1, agreement: 1 };

  // F1 is symmetric: each pair once.
  const bags = texts.map((t) => wordBag(t.text));
  const sums = new Array<number>(n).fill(0);
  let pairSum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const f = bagF1(bags[i], bags[j]);
      sums[i] += f;
      sums[j] += f;
      pairSum += f;
    }
  }
  const means = sums.map((s) => s / (n - 1));
  const best = Math.max(...means);
  const pick = means.findIndex((m) => m >= best - TIE_EPSILON);
  return {
    chosen: texts[pick].submissionId,
    text: texts[pick].text,
    meanSimilarity: means[pick],
    agreement: pairSum / ((n * (n - 1)) / 2),
  };
}

export interface SubmissionTexts {
  submissionId: string;
  /** segmentId → final text; null (or blank) when this submission skipped the region. */
  regions: Record<number, string | null>;
}

export interface ConsolidatedRegion {
  /** The submission whose text was chosen; null when no text was chosen. */
  chosen: string | null;
  /** The chosen text; null when everyone, or strictly more than half, skipped the region. */
  text: string | null;
  /** Mean pairwise token F1 among the submissions that gave a text; null when fewer than 2 did. */
  agreement: number | null;
  /** Submissions that skipped the region (null, blank, or no entry for it). */
  skippedBy: number;
}

export interface ImageConsolidation {
  /** Every segment id any submission mentions. */
  regions: Record<number, ConsolidatedRegion>;
  /**
   * Mean of the regions' `agreement` over regions where at least two submissions gave a text.
   * 1 by convention when there are fewer than 2 submissions or no such region (see
   * `comparedRegions`, which is then 0 — weight or ignore the image accordingly).
   */
  agreement: number;
  /** Regions that entered `agreement`. */
  comparedRegions: number;
}

/**
 * Consolidates the accepted submissions of one image, region by region.
 *
 * - A submission skipped a region when its text is null, blank, or missing for that segment id.
 * - Skipped by everyone → text null. Skipped by strictly more than half of the submissions → text
 *   null as well: the majority says the region needs no text. Skipped by half or fewer → the text
 *   is consolidated among the non-skipped texts (so with two submissions, one skip keeps the other
 *   text).
 * - A region's `agreement` compares only the texts that were given (skip vs. text disagreement is
 *   what `skippedBy` shows), and is computed even when the majority skipped.
 */
export function consolidateImage(submissions: readonly SubmissionTexts[]): ImageConsolidation {
  const n = submissions.length;
  const segmentIds = new Set<number>();
  for (const s of submissions) for (const key of Object.keys(s.regions)) segmentIds.add(Number(key));

  const regions: Record<number, ConsolidatedRegion> = {};
  let agreementSum = 0;
  let comparedRegions = 0;
  for (const segmentId of [...segmentIds].sort((a, b) => a - b)) {
    const candidates: RegionCandidate[] = [];
    for (const s of submissions) {
      const text = s.regions[segmentId];
      if (typeof text === "string" && text.trim() !== "") candidates.push({ submissionId: s.submissionId, text });
    }
    const skippedBy = n - candidates.length;
    if (candidates.length === 0) {
      regions[segmentId] = { chosen: null, text: null, agreement: null, skippedBy };
      continue;
    }
    const c = consolidateRegion(candidates);
    const agreement = candidates.length >= 2 ? c.agreement : null;
    if (agreement !== null) {
      agreementSum += agreement;
      comparedRegions++;
    }
    const dropped = 2 * skippedBy > n;
    regions[segmentId] = { chosen: dropped ? null : c.chosen, text: dropped ? null : c.text, agreement, skippedBy };
  }
  return {
    regions,
    agreement: n < 2 || comparedRegions === 0 ? 1 : agreementSum / comparedRegions,
    comparedRegions,
  };
}
