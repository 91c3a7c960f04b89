/**
 * How region texts are cut into words, for edit effort and for similarity.
 *
 * Pure. Two tokenisations, both over NFC-normalised text split on Unicode whitespace (JS `\s` plus
 * `\p{White_Space}`, so NBSP, U+3000, NEL and friends separate words; zero-width space does not):
 *
 * - `writtenWords` — words as written: case and punctuation kept. Word-level edit distance uses
 *   these, so "dog" → "Dog" and "dog" → "dog." are each one substitution: both are edits an
 *   annotator made.
 * - `words` — comparison tokens: additionally lower-cased (`toLowerCase`, locale-independent, not
 *   full case folding, so "ß" and "ss" stay different) with leading and trailing punctuation
 *   (`\p{P}`) stripped and tokens that were only punctuation dropped. Inner punctuation stays
 *   ("dog's", "well-known", "3.5"), and symbols are not punctuation, so emoji are words.
 *   Similarity (token F1) and consolidation use these.
 *
 * NFC means canonically equivalent spellings ("é" precomposed vs "e" + U+0301) are the same word in
 * both tokenisations.
 */

const WHITESPACE = /[\s\p{White_Space}]+/u;
const EDGE_PUNCTUATION = /^\p{P}+|\p{P}+$/gu;

/** Words as written (case and punctuation kept), NFC-normalised, split on Unicode whitespace. */
export function writtenWords(text: string): string[] {
  return text.normalize("NFC").split(WHITESPACE).filter((w) => w !== "");
}

/** Comparison tokens: written words, lower-cased, edge punctuation stripped, empty tokens dropped. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const w of writtenWords(text)) {
    // Lower-casing can produce decomposed sequences (e.g. "İ" → "i" + U+0307): re-normalise.
    const token = w.toLowerCase().normalize("NFC").replace(EDGE_PUNCTUATION, "");
    if (token !== "") out.push(token);
  }
  return out;
}

/**
 * The text an annotator meant, for "is this the same text?" questions: NFC, trimmed, runs of
 * whitespace collapsed to one space. Two texts have the same `sameTextKey` exactly when their
 * `writtenWords` are equal, i.e. when their word edit distance is 0.
 */
export function sameTextKey(text: string): string {
  return writtenWords(text).join(" ");
}

/** Whether two texts are the same text up to NFC, surrounding and repeated whitespace. */
export function sameText(a: string, b: string): boolean {
  return sameTextKey(a) === sameTextKey(b);
}
