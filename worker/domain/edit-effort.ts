/**
 * Edit effort of round-1 submissions: how much annotators changed the VLM's draft region texts.
 *
 * Pure. Distances are word-level Levenshtein over `writtenWords` (NFC, split on Unicode whitespace,
 * case and punctuation kept — "dog" → "Dog" is an edit). Effort is measured on the texts, not on the
 * action the annotator declared; `checkAction` is what holds a declaration against the texts.
 */
import { sameText, writtenWords } from "./words.ts";

/** The actions an annotator takes on one region's draft text. */
export type RegionAction = "accepted" | "edited" | "rewritten" | "skipped";

/**
 * The most words a text may have for an edit distance. Region texts are at most 2000 characters,
 * hence at most 1000 words; this leaves room and bounds the work at 4 M cells (a few ms). Over it,
 * `wordEditDistance` throws a RangeError: input validation should have refused the text earlier.
 */
export const MAX_EDIT_WORDS = 2000;

/**
 * `suggestAction` calls a change a rewrite when its edit rate is above this: more than half as many
 * word edits as the draft had words.
 */
export const REWRITE_EDIT_RATE = 0.5;

/** Word-level Levenshtein distance (insert, delete, substitute: 1 each) between two texts. */
export function wordEditDistance(a: string, b: string): number {
  return wordSequenceDistance(writtenWords(a), writtenWords(b));
}

/**
 * Levenshtein distance between two word sequences, compared exactly (===).
 * O(n·m) time after stripping the common prefix and suffix, O(min(n, m)) memory.
 */
export function wordSequenceDistance(a: readonly string[], b: readonly string[]): number {
  if (a.length > MAX_EDIT_WORDS || b.length > MAX_EDIT_WORDS) {
    throw new RangeError(`edit distance is limited to ${MAX_EDIT_WORDS} words per text (got ${a.length} and ${b.length})`);
  }
  // Common prefix and suffix cost nothing; most edits touch a few words of a long text.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  if (start === endA) return endB - start;
  if (start === endB) return endA - start;

  // Words as small integers, so the inner loop compares numbers, not strings.
  const ids = new Map<string, number>();
  const intern = (w: string): number => {
    let id = ids.get(w);
    if (id === undefined) {
      id = ids.size;
      ids.set(w, id);
    }
    return id;
  };
  const xa = Int32Array.from(a.slice(start, endA), intern);
  const xb = Int32Array.from(b.slice(start, endB), intern);
  const [long, short] = xa.length >= xb.length ? [xa, xb] : [xb, xa];

  // row[j] = distance between long[0..i) and short[0..j), one row at a time.
  const row = new Int32Array(short.length + 1);
  for (let j = 0; j <= short.length; j++) row[j] = j;
  for (let i = 1; i <= long.length; i++) {
    let diagonal = row[0]; // row[i-1][j-1]
    row[0] = i;
    const w = long[i - 1];
    for (let j = 1; j <= short.length; j++) {
      const above = row[j]; // row[i-1][j]
      const substitute = diagonal + (w === short[j - 1] ? 0 : 1);
      const remove = above + 1;
      const insert = row[j - 1] + 1;
      row[j] = substitute < remove ? (substitute < insert ? substitute : insert) : remove < insert ? remove : insert;
      diagonal = above;
    }
  }
  return row[short.length];
}

export interface RegionEffort {
  /** Word edit distance from draft to final. */
  distance: number;
  /** Words in the draft (as written). */
  draftWords: number;
  /** distance / max(1, draftWords); above 1 when the final adds more words than the draft had. */
  editRate: number;
  /**
   * The final is the draft: equal after NFC, trimming and collapsing runs of whitespace. This holds
   * exactly when `distance` is 0 (a whitespace-only change is not an edit).
   */
  unchanged: boolean;
}

/** Effort of turning one region's draft into its final text. */
export function regionEffort(draft: string, final: string): RegionEffort {
  const d = writtenWords(draft);
  const f = writtenWords(final);
  const distance = wordSequenceDistance(d, f);
  return { distance, draftWords: d.length, editRate: distance / Math.max(1, d.length), unchanged: distance === 0 };
}

export interface RegionWork {
  action: RegionAction;
  draft: string;
  /** The annotator's text; null (or empty) for a skipped region. */
  final: string | null;
}

export interface SubmissionEffort {
  /** All regions, skipped included. */
  regions: number;
  /** Regions per declared action. */
  accepted: number;
  edited: number;
  rewritten: number;
  skipped: number;
  /** Non-skipped regions whose final is the draft (by the texts), ÷ non-skipped regions; 0 when all were skipped. */
  acceptedShare: number;
  /** Sum of word edit distances over non-skipped regions. */
  totalDistance: number;
  /** Sum of draft words over non-skipped regions. */
  totalDraftWords: number;
  /** totalDistance / max(1, totalDraftWords). */
  editRate: number;
  /** Non-skipped regions whose final differs from the draft, ÷ non-skipped regions; 0 when all were skipped. */
  changedShare: number;
}

/**
 * Edit effort of a whole submission. Skipped regions count in `regions` and `skipped` only: they
 * add no distance and no draft words. Unchanged/changed is read from the texts, not from the
 * declared action (which `checkAction` validates), so the numbers stay honest even for a submission
 * that was never checked. A non-skipped region with a null final counts as an empty final (every
 * draft word deleted).
 */
export function submissionEffort(regions: readonly RegionWork[]): SubmissionEffort {
  return aggregateEffort(
    regions.map((r) => (r.action === "skipped" ? { action: r.action, distance: 0, draftWords: 0 } : { action: r.action, ...regionEffort(r.draft, r.final ?? "") })),
  );
}

/**
 * The submission figures from per-region figures already measured (a region is unchanged exactly
 * when its word distance is 0), so a caller that keeps the per-region effort measures it once.
 */
export function aggregateEffort(regions: readonly { action: RegionAction; distance: number; draftWords: number }[]): SubmissionEffort {
  const counts = { accepted: 0, edited: 0, rewritten: 0, skipped: 0 };
  let worked = 0;
  let unchanged = 0;
  let totalDistance = 0;
  let totalDraftWords = 0;
  for (const r of regions) {
    counts[r.action]++;
    if (r.action === "skipped") continue;
    worked++;
    if (r.distance === 0) unchanged++;
    totalDistance += r.distance;
    totalDraftWords += r.draftWords;
  }
  return {
    regions: regions.length,
    ...counts,
    acceptedShare: worked === 0 ? 0 : unchanged / worked,
    totalDistance,
    totalDraftWords,
    editRate: totalDistance / Math.max(1, totalDraftWords),
    changedShare: worked === 0 ? 0 : (worked - unchanged) / worked,
  };
}

const isBlank = (text: string | null): boolean => text === null || text.trim() === "";

/**
 * What is wrong with declaring `action` for these texts, or null when it fits. "Same text" means
 * equal after NFC, trimming and collapsing whitespace (see `sameText`).
 *
 * - accepted: the final must be the draft.
 * - edited / rewritten: the final must be a non-empty text that differs from the draft (to leave a
 *   region without text, skip it). Which of the two it is stays the annotator's call — see
 *   `suggestAction` for the rule of thumb; it is not enforced.
 * - skipped: the final must be null or empty. The reason a skip needs is the caller's to check.
 */
export function checkAction(action: RegionAction, draft: string, final: string | null): string | null {
  switch (action) {
    case "accepted":
      if (final === null) return "accepted, but no final text was given (send the draft text)";
      return sameText(final, draft) ? null : "accepted, but the final text differs from the draft (declare it edited or rewritten)";
    case "edited":
    case "rewritten":
      if (isBlank(final)) return `${action}, but the final text is empty (skip the region instead)`;
      return sameText(final as string, draft) ? `${action}, but the final text is the draft (declare it accepted)` : null;
    case "skipped":
      return isBlank(final) ? null : "skipped, but a final text was given (leave it empty or declare another action)";
    default:
      return `unknown action ${JSON.stringify(action as unknown)}`;
  }
}

/**
 * The action the texts suggest: "accepted" when the final is the draft, "rewritten" when the edit
 * rate (word edits ÷ draft words) is above REWRITE_EDIT_RATE (0.5), otherwise "edited". An empty
 * final against a non-empty draft has edit rate 1, so it reads as "rewritten"; callers that treat
 * empty as skipped should check that first.
 */
export function suggestAction(draft: string, final: string): "accepted" | "edited" | "rewritten" {
  const e = regionEffort(draft, final);
  if (e.unchanged) return "accepted";
  return e.editRate > REWRITE_EDIT_RATE ? "rewritten" : "edited";
}
