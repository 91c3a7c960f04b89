/**
 * Bag-of-words similarity between two region texts.
 *
 * Pure. Tokens are `words` (NFC, lower-cased, edge punctuation stripped, punctuation-only tokens
 * dropped), so "A dog." and "a dog" are identical here although their edit distance is 2.
 */
import { words } from "./words.ts";

/** A multiset of comparison tokens. */
export interface WordBag {
  counts: Map<string, number>;
  /** Number of tokens, repeats included. */
  size: number;
}

export function wordBag(text: string): WordBag {
  const counts = new Map<string, number>();
  const tokens = words(text);
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  return { counts, size: tokens.length };
}

/**
 * F1 of two bags: overlap = Σ min(count in a, count in b); precision = overlap/|a|, recall =
 * overlap/|b|; F1 = 2PR/(P+R) = 2·overlap/(|a|+|b|). Symmetric. Both empty → 1; one empty → 0.
 */
export function bagF1(a: WordBag, b: WordBag): number {
  if (a.size === 0 && b.size === 0) return 1;
  if (a.size === 0 || b.size === 0) return 0;
  const [small, large] = a.counts.size <= b.counts.size ? [a.counts, b.counts] : [b.counts, a.counts];
  let overlap = 0;
  for (const [token, n] of small) {
    const m = large.get(token);
    if (m !== undefined) overlap += Math.min(n, m);
  }
  return (2 * overlap) / (a.size + b.size);
}

/** Bag-of-words F1 between two texts over case-insensitive, punctuation-stripped tokens. */
export function tokenF1(a: string, b: string): number {
  return bagF1(wordBag(a), wordBag(b));
}
