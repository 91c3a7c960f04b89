/**
 * Caption similarity metrics — BLEU-1..4, ROUGE-L and CIDEr-D — computed exactly as the COCO caption
 * evaluation code (pycocoevalcap, github.com/salaniz/pycocoevalcap @ ad63453) computes them.
 *
 * Pure: no I/O. Tokens in: the caller decides tokenization (`tokenize` approximates the PTB
 * tokenizer COCO eval uses). For token arrays whose tokens are non-empty and contain no whitespace,
 * every number here equals pycocoevalcap's on the strings `tokens.join(" ")` up to the last bit or
 * two (the only differences come from V8's `Math.pow`/`Math.exp`/`Math.log` versus the C library's,
 * each within an ulp; the test holds them to 1e-12).
 *
 * Details replicated on purpose (pycocoevalcap's behaviour, not textbook definitions):
 *  - BLEU smooths every n-gram precision as (correct + 1e-15) / (guess + 1e-9), so a one-word
 *    candidate's BLEU-2 is not 0 but √(p₁ · 1e-6), and "no overlap" scores ~1e-16, not 0.
 *  - BLEU-k is the geometric mean of the first k smoothed precisions, computed as a running product
 *    raised to 1/k, then multiplied by the brevity penalty exp(1 − 1/ratio) when ratio < 1, where
 *    ratio = (testlen + 1e-15) / (reflen + 1e-9). Per image, reflen is the *closest* reference length
 *    (ties go to the shorter reference); the corpus score sums clipped counts, guesses, candidate
 *    lengths and those closest reference lengths over all images, then applies the same formula once.
 *  - ROUGE-L takes the best LCS precision and the best LCS recall over the references separately
 *    (they may come from different references), then F_β = (1+β²)PR / (R + β²P), β = 1.2. The corpus
 *    score is the mean of the per-image scores.
 *  - CIDEr-D ("CIDEr" in pycocoevalcap): document frequency of an n-gram = number of images whose
 *    references contain it (over the whole corpus passed in), idf = log(N images) − log(max(1, df)),
 *    candidate tf-idf clipped by the reference's (Σ min(c, r)·r), cosine per n for n = 1..4, times a
 *    Gaussian length penalty e^(−δ²/2σ²), σ = 6, mean over n, mean over references, ×10.
 *    δ is the difference in *bigram counts* (len − 1), not word counts — pycocoevalcap's `length`
 *    counts only 2-grams; it only differs from the word-length difference for empty captions.
 *  - Corpus means (ROUGE-L, CIDEr-D) use NumPy's pairwise summation, so they are bit-identical to
 *    `np.mean` (NumPy 2.x; checked against 2.4.6), not merely close.
 *
 * Corpora are `Map`s or plain objects from image id to references / candidate. Per-image results
 * come back keyed by the same ids. Image order only affects corpus means in the last bit; note that
 * a plain object iterates integer-like keys ("1", "42") in ascending numeric order, not insertion
 * order — pass a `Map` to keep the order you gave pycocoevalcap's dict.
 */

/** One caption, already tokenized. */
export type Tokens = readonly string[];

/** Image id → value, as a `Map` (keeps insertion order) or a plain object. */
export type Corpus<T> = ReadonlyMap<string, T> | Readonly<Record<string, T>>;

/** Reference captions per image (at least one each). */
export type References = Corpus<readonly Tokens[]>;

/** The one candidate caption per image. */
export type Candidates = Corpus<Tokens>;

export interface BleuResult {
  /** Corpus BLEU-1..n (index k is BLEU-(k+1)). */
  corpus: number[];
  /** Per-image BLEU-1..n. */
  perImage: Record<string, number[]>;
}

export interface CorpusScore {
  corpus: number;
  perImage: Record<string, number>;
}

/** pycocoevalcap's BLEU smoothing constants (bleu_scorer.py). */
const BLEU_TINY = 1e-15;
const BLEU_SMALL = 1e-9;

/** ROUGE-L's β in pycocoevalcap (rouge.py, "updated the value below based on discussion with Hovey"). */
export const ROUGE_L_BETA = 1.2;

/** CIDEr-D's Gaussian length-penalty σ and n-gram order in pycocoevalcap (cider.py). */
export const CIDER_D_SIGMA = 6;
const CIDER_N = 4;

/**
 * Punctuation tokens pycocoevalcap drops after PTB tokenization (tokenizer/ptbtokenizer.py), plus
 * the bracket and dash variants this approximation produces instead of PTB's escapes.
 */
const DROPPED = new Set(["''", "'", "``", "`", ".", "?", "!", ",", ":", "-", "--", "...", ";", "(", ")", "{", "}", "[", "]", '"', "\u2014", "\u2013", "\u2026"]);

/** Characters split off the edges of a word (then dropped if in DROPPED, kept as a token otherwise). */
const EDGE = /[.,!?;:'"`()[\]{}<>\u2014\u2013\u2026$%#&*+=/\\|~^@]/u;

/** English clitics PTB splits off the end of a word ("dog's" → "dog 's", "don't" → "do n't"). */
const CLITIC = /^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$/u;

/**
 * Tokens for a caption, approximating what COCO evaluation feeds the scorers: Stanford PTBTokenizer
 * (`-preserveLines -lowerCase`) followed by pycocoevalcap's removal of punctuation tokens.
 *
 * Does: Unicode NFC, lower-case, curly quotes → straight, split on whitespace; split punctuation and
 * symbols off word edges (`.,!?;:'"()[]{}` dashes, ellipsis, and `$ % # & * + = / \ | ~ ^ @ < >`),
 * split the clitics `'s 're 've 'll 'd 'm n't` off word ends, "cannot" → "can not"; drop the
 * punctuation tokens pycocoevalcap drops (`. , ? ! : ; - -- ... ' '' \` \`\`` and brackets); keep
 * word-internal punctuation ("t-shirt", "3.5", "o'clock", "u.s").
 *
 * Not checked against the Java tokenizer (it is not run here); known or likely differences:
 * abbreviations keeping their final period ("u.s." → PTB "u.s.", here "u.s"); PTB 3.4.1's escaping
 * of "/" and "*" ("and/or" is one token in both, PTB may write "and\/or"); brackets (PTB escapes
 * them as -LRB-/-LSB-/…, and pycocoevalcap's drop list has -LRB- -RRB- -LCB- -RCB- but not the
 * square-bracket escapes; here all brackets are dropped); British→American spelling normalization;
 * "gonna"/"wanna" splits; currency, fraction and other Unicode normalizations; symbols not listed
 * above stay attached to words.
 */
export function tokenize(text: string): string[] {
  const normalized = text
    .normalize("NFC")
    .toLowerCase()
    .replace(/[\u2018\u2019\u201b\u2032]/gu, "'")
    .replace(/[\u201c\u201d\u201f\u2033]/gu, '"');
  const out: string[] = [];
  for (const chunk of normalized.split(/\s+/u)) {
    if (chunk === "") continue;
    const chars = [...chunk];
    let start = 0;
    let end = chars.length;
    const lead: string[] = [];
    const trail: string[] = [];
    while (start < end && EDGE.test(chars[start])) lead.push(chars[start++]);
    while (end > start && EDGE.test(chars[end - 1])) trail.unshift(chars[--end]);
    const core = chars.slice(start, end).join("");
    out.push(...lead);
    if (core === "cannot") {
      out.push("can", "not");
    } else {
      const m = CLITIC.exec(core);
      if (m) out.push(m[1], m[2]);
      else if (core !== "") out.push(core);
    }
    out.push(...trail);
  }
  return out.filter((t) => !DROPPED.has(t));
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

function entries<T>(corpus: Corpus<T>): [string, T][] {
  if (corpus instanceof Map) return [...(corpus as ReadonlyMap<string, T>).entries()];
  return Object.entries(corpus as Readonly<Record<string, T>>);
}

/** The images of a scoring call, in reference order, checked as pycocoevalcap asserts them. */
function pairs(gts: References, res: Candidates): { id: string; refs: readonly Tokens[]; cand: Tokens }[] {
  const refs = entries(gts);
  const cands = new Map(entries(res));
  if (cands.size !== refs.length || refs.some(([id]) => !cands.has(id))) {
    throw new RangeError("references and candidates must have the same image ids");
  }
  return refs.map(([id, r]) => {
    if (r.length === 0) throw new RangeError(`image ${id} has no reference captions`);
    return { id, refs: r, cand: cands.get(id) as Tokens };
  });
}

/** Maps tokens to small integers so an n-gram's key is its ids joined by ",": injective, compact. */
class Interner {
  private readonly ids = new Map<string, number>();
  id(token: string): number {
    let id = this.ids.get(token);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(token, id);
    }
    return id;
  }
}

/**
 * Counts of all 1..n-grams of a caption, keyed by order then n-gram, in pycocoevalcap's insertion
 * order (all unigrams left to right, then all bigrams, …) — the order CIDEr's sums run in.
 */
function ngramCounts(tokens: Tokens, n: number, interner: Interner): Map<string, number>[] {
  const ids = tokens.map((t) => interner.id(t));
  const counts: Map<string, number>[] = [];
  for (let k = 1; k <= n; k++) {
    const m = new Map<string, number>();
    for (let i = 0; i + k <= ids.length; i++) {
      const key = ids.slice(i, i + k).join(",");
      m.set(key, (m.get(key) ?? 0) + 1);
    }
    counts.push(m);
  }
  return counts;
}

/**
 * NumPy's pairwise summation (`pairwise_sum_DOUBLE`, reduced from an initial 0), so that
 * `numpyMean(x)` is bit-identical to `np.mean(np.array(x))` for float64.
 */
function pairwiseSum(a: readonly number[], from: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[from + i];
    return res;
  }
  if (n <= 128) {
    const r = a.slice(from, from + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] += a[from + i + j];
    }
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += a[from + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, from, n2) + pairwiseSum(a, from + n2, n - n2);
}

/** `np.mean` of float64 values (NaN for an empty list, as NumPy). */
export function numpyMean(values: readonly number[]): number {
  return (0 + pairwiseSum(values, 0, values.length)) / values.length;
}

// ---------------------------------------------------------------------------------------------
// BLEU (pycocoevalcap/bleu/bleu_scorer.py, Bleu(4).compute_score → compute_score(option="closest"))

/** Length of the reference closest to `testLength`; ties go to the shorter (Python's min over (|l − t|, l)). */
function closestRefLength(refLengths: readonly number[], testLength: number): number {
  let best = refLengths[0];
  for (const l of refLengths) {
    const d = Math.abs(l - testLength);
    const bd = Math.abs(best - testLength);
    if (d < bd || (d === bd && l < best)) best = l;
  }
  return best;
}

/** BLEU-1..n from clipped-correct and guess counts with pycocoevalcap's smoothing and brevity penalty. */
function bleuFromCounts(correct: readonly number[], guess: readonly number[], testLength: number, refLength: number, n: number): number[] {
  const out: number[] = [];
  let product = 1;
  for (let k = 0; k < n; k++) {
    product *= (correct[k] + BLEU_TINY) / (guess[k] + BLEU_SMALL);
    out.push(product ** (1 / (k + 1)));
  }
  const ratio = (testLength + BLEU_TINY) / (refLength + BLEU_SMALL);
  if (ratio < 1) {
    const penalty = Math.exp(1 - 1 / ratio);
    for (let k = 0; k < n; k++) out[k] *= penalty;
  }
  return out;
}

/**
 * BLEU-1..n of each image and of the corpus, as pycocoevalcap's `Bleu(n).compute_score(gts, res)`:
 * `corpus` is its `score`, `perImage[id][k]` is its `scores[k][i]`.
 */
export function bleu(gts: References, res: Candidates, n = 4): BleuResult {
  if (!Number.isInteger(n) || n < 1) throw new RangeError("BLEU order must be a positive integer");
  const interner = new Interner();
  const perImage: Record<string, number[]> = {};
  const totalCorrect = new Array<number>(n).fill(0);
  const totalGuess = new Array<number>(n).fill(0);
  let totalTest = 0;
  let totalRef = 0;
  for (const { id, refs, cand } of pairs(gts, res)) {
    // cook_refs: each n-gram's largest count in any one reference.
    const maxCounts = new Map<string, number>();
    for (const ref of refs) {
      for (const m of ngramCounts(ref, n, interner)) {
        for (const [g, c] of m) maxCounts.set(g, Math.max(maxCounts.get(g) ?? 0, c));
      }
    }
    // cook_test: clipped matches and number of n-grams per order.
    const testLength = cand.length;
    const guess: number[] = [];
    const correct: number[] = [];
    const candCounts = ngramCounts(cand, n, interner);
    for (let k = 0; k < n; k++) {
      guess.push(Math.max(0, testLength - k));
      let c = 0;
      for (const [g, count] of candCounts[k]) c += Math.min(maxCounts.get(g) ?? 0, count);
      correct.push(c);
    }
    const refLength = closestRefLength(
      refs.map((r) => r.length),
      testLength,
    );
    perImage[id] = bleuFromCounts(correct, guess, testLength, refLength, n);
    totalTest += testLength;
    totalRef += refLength;
    for (let k = 0; k < n; k++) {
      totalCorrect[k] += correct[k];
      totalGuess[k] += guess[k];
    }
  }
  return { corpus: bleuFromCounts(totalCorrect, totalGuess, totalTest, totalRef, n), perImage };
}

// ---------------------------------------------------------------------------------------------
// ROUGE-L (pycocoevalcap/rouge/rouge.py)

/** Length of the longest common subsequence of two token sequences. O(|a|·|b|) time, O(min) memory. */
export function lcsLength(a: Tokens, b: Tokens): number {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  let prev = new Array<number>(short.length + 1).fill(0);
  let cur = new Array<number>(short.length + 1).fill(0);
  for (let i = 1; i <= long.length; i++) {
    for (let j = 1; j <= short.length; j++) {
      cur[j] = long[i - 1] === short[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[short.length];
}

/**
 * ROUGE-L of one candidate against its references, as pycocoevalcap's `Rouge.calc_score`: the best
 * LCS precision and the best LCS recall over the references (separately), then
 * F = (1+β²)·P·R / (R + β²·P); 0 when either is 0. An empty candidate or reference contributes 0
 * (pycocoevalcap's `"".split(" ")` is one empty token, which matches nothing).
 */
export function rougeL(candidate: Tokens, references: readonly Tokens[], beta = ROUGE_L_BETA): number {
  if (references.length === 0) throw new RangeError("ROUGE-L needs at least one reference");
  let precMax = 0;
  let recMax = 0;
  for (const ref of references) {
    if (candidate.length === 0 || ref.length === 0) continue;
    const lcs = lcsLength(ref, candidate);
    precMax = Math.max(precMax, lcs / candidate.length);
    recMax = Math.max(recMax, lcs / ref.length);
  }
  if (precMax === 0 || recMax === 0) return 0;
  const beta2 = beta * beta;
  return ((1 + beta2) * precMax * recMax) / (recMax + beta2 * precMax);
}

/** Per-image ROUGE-L and their mean, as pycocoevalcap's `Rouge().compute_score(gts, res)`. */
export function rougeLCorpus(gts: References, res: Candidates, beta = ROUGE_L_BETA): CorpusScore {
  const perImage: Record<string, number> = {};
  const scores: number[] = [];
  for (const { id, refs, cand } of pairs(gts, res)) {
    const s = rougeL(cand, refs, beta);
    perImage[id] = s;
    scores.push(s);
  }
  return { corpus: numpyMean(scores), perImage };
}

// ---------------------------------------------------------------------------------------------
// CIDEr-D (pycocoevalcap/cider/cider_scorer.py, Cider().compute_score)

interface TfIdf {
  /** Per n-gram order: n-gram → tf·idf, in the caption's n-gram order. */
  vec: Map<string, number>[];
  norm: number[];
  /** Number of bigrams (pycocoevalcap's `length`: it counts only n-grams of index 1). */
  length: number;
}

/**
 * CIDEr-D of each image and their mean, as pycocoevalcap's `Cider().compute_score(gts, res)`.
 * Document frequencies come from the references of all the images passed in, so an image's score
 * depends on the rest of the corpus; a corpus of one image scores 0 (idf = log 1 − … = 0).
 */
export function ciderD(gts: References, res: Candidates, sigma = CIDER_D_SIGMA): CorpusScore {
  const n = CIDER_N;
  const interner = new Interner();
  const images = pairs(gts, res).map(({ id, refs, cand }) => ({
    id,
    refs: refs.map((r) => ngramCounts(r, n, interner)),
    cand: ngramCounts(cand, n, interner),
  }));

  // compute_doc_freq: in how many images' reference sets each n-gram occurs.
  const docFreq = new Map<string, number>();
  for (const { refs } of images) {
    const seen = new Set<string>();
    for (const ref of refs) for (const m of ref) for (const g of m.keys()) seen.add(g);
    for (const g of seen) docFreq.set(g, (docFreq.get(g) ?? 0) + 1);
  }
  const refLen = Math.log(images.length);

  const toVec = (counts: Map<string, number>[]): TfIdf => {
    const vec: Map<string, number>[] = [];
    const norm: number[] = [];
    let length = 0;
    for (let k = 0; k < n; k++) {
      const v = new Map<string, number>();
      let sq = 0;
      for (const [g, tf] of counts[k]) {
        const df = Math.log(Math.max(1, docFreq.get(g) ?? 0));
        const w = tf * (refLen - df);
        v.set(g, w);
        sq += w * w;
        if (k === 1) length += tf;
      }
      vec.push(v);
      norm.push(Math.sqrt(sq));
    }
    return { vec, norm, length };
  };

  const twoSigma2 = 2 * (sigma * sigma);
  const sim = (hyp: TfIdf, ref: TfIdf): number[] => {
    const delta = hyp.length - ref.length;
    const penalty = Math.E ** (-(delta * delta) / twoSigma2);
    const val: number[] = [];
    for (let k = 0; k < n; k++) {
      let v = 0;
      for (const [g, wh] of hyp.vec[k]) {
        const wr = ref.vec[k].get(g) ?? 0;
        v += Math.min(wh, wr) * wr; // clipping (vrama91)
      }
      if (hyp.norm[k] !== 0 && ref.norm[k] !== 0) v /= hyp.norm[k] * ref.norm[k];
      val.push(v * penalty);
    }
    return val;
  };

  const perImage: Record<string, number> = {};
  const scores: number[] = [];
  for (const { id, refs, cand } of images) {
    const hyp = toVec(cand);
    const sum = new Array<number>(n).fill(0);
    for (const ref of refs) {
      const s = sim(hyp, toVec(ref));
      for (let k = 0; k < n; k++) sum[k] += s[k];
    }
    let score = numpyMean(sum);
    score /= refs.length;
    score *= 10;
    perImage[id] = score;
    scores.push(score);
  }
  return { corpus: numpyMean(scores), perImage };
}
