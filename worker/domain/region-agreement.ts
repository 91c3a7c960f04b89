import { bleu, ciderD, rougeL, tokenize } from "./caption-metrics.ts";
import { wordEditDistance } from "./edit-effort.ts";
import { cohenKappa, krippendorffAlpha } from "./stats/agreement.ts";

/**
 * How much the round-1 annotators of one image agreed, computed when the image consolidates (the
 * overlap sample has several per image): each annotator's text of each region scored against the
 * others' texts as references (BLEU-1…4, ROUGE-L, CIDEr-D as pycocoevalcap computes them; mean word
 * edit distance), split by thing and stuff; per pair of annotators, Cohen's κ on the per-region
 * action where they share enough regions; Krippendorff's α (nominal) on the actions over everyone.
 * Pure.
 */
export interface AnnotatorRegions {
  subject: string;
  regions: { segmentId: number; action: "accepted" | "edited" | "rewritten" | "skipped"; text: string | null }[];
}

export interface KindScores {
  /** (region, annotator) texts scored: every sum below is over these. */
  n: number;
  bleu1: number;
  bleu2: number;
  bleu3: number;
  bleu4: number;
  rouge_l: number;
  cider_d: number;
  edit_distance: number;
}

export interface PairAgreement {
  a: string;
  b: string;
  /** Regions both acted on. */
  shared: number;
  /** Of those, regions where both took the same action. */
  same: number;
  /** Cohen's κ on the actions; null below `MIN_SHARED` shared regions or when it is undefined. */
  kappa: number | null;
}

/** One annotator's share of the image: how close their texts came to the others' and to the consolidated ones. */
export interface PersonAgreement {
  subject: string;
  /** Their region texts scored against the others' (sums, over `n`). */
  n: number;
  bleu4: number;
  rouge_l: number;
  /** Regions with a consolidated text, and of those, how many ended up with exactly their text. */
  consolidated: number;
  consolidated_same: number;
}

export interface ImageAgreement {
  annotators: string[];
  people: PersonAgreement[];
  kinds: { thing: KindScores; stuff: KindScores };
  pairs: PairAgreement[];
  alpha: number | null;
}

/** Shared regions a pair needs before its κ means anything. */
export const MIN_SHARED = 5;

const empty = (): KindScores => ({ n: 0, bleu1: 0, bleu2: 0, bleu3: 0, bleu4: 0, rouge_l: 0, cider_d: 0, edit_distance: 0 });

export function imageAgreement(subs: readonly AnnotatorRegions[], isThing: (segmentId: number) => boolean, consolidated: ReadonlyMap<number, string | null> = new Map()): ImageAgreement {
  const annotators = [...new Set(subs.map((s) => s.subject))].sort();
  const kinds = { thing: empty(), stuff: empty() };
  const people = new Map(annotators.map((a) => [a, { subject: a, n: 0, bleu4: 0, rouge_l: 0, consolidated: 0, consolidated_same: 0 }]));
  // Every (region, annotator) text with references from the others: one "image" each in the metrics' corpus.
  const segments = [...new Set(subs.flatMap((s) => s.regions.map((r) => r.segmentId)))].sort((x, y) => x - y);
  const gts = new Map<string, string[][]>();
  const res = new Map<string, string[]>();
  const meta = new Map<string, { kind: "thing" | "stuff"; distance: number }>();
  for (const segmentId of segments) {
    const texts = subs
      .map((s) => ({ subject: s.subject, text: s.regions.find((r) => r.segmentId === segmentId && r.action !== "skipped")?.text ?? null }))
      .filter((t): t is { subject: string; text: string } => t.text !== null && t.text.trim() !== "");
    if (texts.length < 2) continue;
    for (const t of texts) {
      const others = texts.filter((o) => o.subject !== t.subject);
      const candidate = tokenize(t.text);
      const references = others.map((o) => tokenize(o.text)).filter((r) => r.length > 0);
      if (candidate.length === 0 || references.length === 0) continue;
      const id = `${segmentId}:${t.subject}`;
      gts.set(id, references);
      res.set(id, candidate);
      meta.set(id, {
        kind: isThing(segmentId) ? "thing" : "stuff",
        distance: others.reduce((s, o) => s + wordEditDistance(t.text, o.text), 0) / others.length,
      });
    }
  }
  if (res.size > 0) {
    const b = bleu(gts, res);
    const c = ciderD(gts, res);
    for (const [id, candidate] of res) {
      const k = kinds[meta.get(id)!.kind];
      const [b1, b2, b3, b4] = b.perImage[id];
      k.n += 1;
      k.bleu1 += b1;
      k.bleu2 += b2;
      k.bleu3 += b3;
      k.bleu4 += b4;
      const rouge = rougeL(candidate, gts.get(id)!);
      k.rouge_l += rouge;
      k.cider_d += c.perImage[id];
      k.edit_distance += meta.get(id)!.distance;
      const person = people.get(id.slice(id.indexOf(":") + 1))!;
      person.n += 1;
      person.bleu4 += b4;
      person.rouge_l += rouge;
    }
  }
  for (const s of subs) {
    const person = people.get(s.subject)!;
    for (const r of s.regions) {
      const final = consolidated.get(r.segmentId);
      if (final === undefined || final === null || r.action === "skipped") continue;
      person.consolidated += 1;
      if (r.text === final) person.consolidated_same += 1;
    }
  }

  const actionOf = (s: AnnotatorRegions, segmentId: number) => s.regions.find((r) => r.segmentId === segmentId)?.action ?? null;
  const bySubject = new Map(subs.map((s) => [s.subject, s]));
  const pairs: PairAgreement[] = [];
  for (let i = 0; i < annotators.length; i++) {
    for (let j = i + 1; j < annotators.length; j++) {
      const x = segments.map((g) => actionOf(bySubject.get(annotators[i])!, g));
      const y = segments.map((g) => actionOf(bySubject.get(annotators[j])!, g));
      const both = x.map((v, n) => [v, y[n]] as const).filter(([u, v]) => u !== null && v !== null);
      const kappa = both.length >= MIN_SHARED ? cohenKappa(x, y) : null;
      pairs.push({ a: annotators[i], b: annotators[j], shared: both.length, same: both.filter(([u, v]) => u === v).length, kappa: kappa !== null && Number.isFinite(kappa) ? kappa : null });
    }
  }
  const alpha = annotators.length >= 2 ? krippendorffAlpha(annotators.map((a) => segments.map((g) => actionOf(bySubject.get(a)!, g))), "nominal") : null;
  return { annotators, people: [...people.values()], kinds, pairs, alpha: alpha !== null && Number.isFinite(alpha) ? alpha : null };
}
