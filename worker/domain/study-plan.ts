import { seededRandom } from "./random.ts";
import { unitHash } from "./stable-hash.ts";

/**
 * The plan of a pairwise study: which images, which source pairs, in which queue order, and the
 * gold pairs that check the voters. Pure and seeded, so a study can be re-planned and audited.
 */

export interface PlanInput {
  /** 32-bit unsigned. */
  seed: number;
  /** Study sources in study order, at least two. */
  sources: string[];
  /** Images that have a caption from every source, in any order. */
  candidates: string[];
  /** null: every candidate; else a seeded sample of min(sample, candidates) of them. */
  sample: number | null;
  /** Pairs a lead marked: `better` is the right answer. */
  goldMarked: { imageId: string; better: string; worse: string }[];
  /** A source's caption against a copy of it with one planted error. */
  goldPlanted: { imageId: string; from: string }[];
}

export interface PlannedPair {
  position: number;
  imageId: string;
  a: string;
  b: string;
  kind: "pair" | "gold";
  goldAnswer: string | null;
}

export interface StudyPlan {
  images: string[];
  pairs: PlannedPair[];
  gold: PlannedPair[];
}

/** The name of the corrupted side of a planted-error gold pair. */
export function plantedSource(from: string): string {
  return `planted:${from}`;
}

/** Every unordered pair of sources, each as [earlier, later] in study order. */
export function sourcePairs(sources: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < sources.length; i++) for (let j = i + 1; j < sources.length; j++) out.push([sources[i], sources[j]]);
  return out;
}

export function planStudy(input: PlanInput): StudyPlan {
  validate(input);
  const random = seededRandom(input.seed);
  // Sorted (and de-duplicated) first, so the plan depends on the set of candidates, not on the order a query returned them in.
  const sorted = [...new Set(input.candidates)].sort();
  const images = input.sample === null ? sorted : sampleWithoutReplacement(sorted, input.sample, random).sort();
  const combos = sourcePairs(input.sources);
  const regular = images.flatMap((imageId) => combos.map(([a, b]) => ({ imageId, a, b })));
  shuffle(regular, random);
  const pairs: PlannedPair[] = regular.map((p, position) => ({ position, ...p, kind: "pair", goldAnswer: null }));
  const gold: PlannedPair[] = [
    ...input.goldMarked.map((g) => ({ imageId: g.imageId, a: g.better, b: g.worse, goldAnswer: g.better })),
    ...input.goldPlanted.map((g) => ({ imageId: g.imageId, a: g.from, b: plantedSource(g.from), goldAnswer: g.from })),
  ].map((g, i) => ({ position: pairs.length + i, ...g, kind: "gold" }));
  return { images, pairs, gold };
}

function validate(input: PlanInput): void {
  const { sources } = input;
  if (sources.length < 2) throw new RangeError(`a study needs at least 2 sources, got ${sources.length}`);
  const known = new Set(sources);
  if (known.size !== sources.length) throw new RangeError(`duplicate source: ${sources.find((s, i) => sources.indexOf(s) !== i)}`);
  if (input.sample !== null && !(Number.isInteger(input.sample) && input.sample >= 0)) throw new RangeError(`sample must be a non-negative integer or null, got ${input.sample}`);
  for (const g of input.goldMarked) {
    for (const s of [g.better, g.worse]) if (!known.has(s)) throw new RangeError(`gold pair on ${g.imageId}: ${s} is not a source of this study`);
    if (g.better === g.worse) throw new RangeError(`gold pair on ${g.imageId}: better and worse are both ${g.better}`);
  }
  for (const g of input.goldPlanted) if (!known.has(g.from)) throw new RangeError(`planted gold pair on ${g.imageId}: ${g.from} is not a source of this study`);
}

/** Fisher–Yates in place. */
function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

/** The first `count` of a partial Fisher–Yates: a uniform sample without replacement, in O(count). */
function sampleWithoutReplacement<T>(items: readonly T[], count: number, random: () => number): T[] {
  const pool = [...items];
  const m = Math.min(count, pool.length);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, m);
}

/**
 * Whether a voter is asked to vote again on a pair it voted on (to measure flips). A hash rather
 * than a stream, so the answer for one (voter, pair) does not depend on what else was asked or in
 * which order claims arrived.
 */
export function isRepeatChosen(seed: number, voter: string, pairPosition: number, share: number): boolean {
  return unitHash(`${seed >>> 0}:${voter}:${pairPosition}`) < share;
}
