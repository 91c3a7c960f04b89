import { seededRandom } from "../random.ts";

/**
 * Strengths of caption sources from pairwise votes: Bradley–Terry (ties counted as half a win each
 * way, as Chatbot Arena's MLE does), Davidson's model where ties are a third outcome with their own
 * parameter, and bootstrap intervals that resample whole units (images), since votes on one image
 * are not independent.
 */
export interface Comparison {
  /** Source indices, 0 … sources-1. */
  a: number;
  b: number;
  outcome: "a" | "b" | "tie";
  /** What the bootstrap resamples (the image); comparisons of one unit stay together. */
  unit?: string;
}

export interface Strengths {
  /** Log-strength per source, centred on mean 0; null where the data do not identify it (a source that never wins, or never loses). */
  scores: (number | null)[];
  /** The same on the Elo-like scale leaderboards use: 1000 + 400·log10(strength). */
  elo: (number | null)[];
  iterations: number;
  converged: boolean;
}

const MAX_ITERATIONS = 100_000;
const TOLERANCE = 1e-12;

type Tally = ReturnType<typeof tally>;

function tally(sources: number, comparisons: readonly Comparison[]) {
  const games = Array.from({ length: sources }, () => new Float64Array(sources));
  const wins = new Float64Array(sources); // strict wins
  const ties = new Float64Array(sources); // ties each source took part in
  let tieTotal = 0;
  for (const c of comparisons) {
    if (c.a === c.b) continue;
    games[c.a][c.b] += 1;
    games[c.b][c.a] += 1;
    if (c.outcome === "a") wins[c.a] += 1;
    else if (c.outcome === "b") wins[c.b] += 1;
    else {
      ties[c.a] += 1;
      ties[c.b] += 1;
      tieTotal += 1;
    }
  }
  return { games, wins, ties, tieTotal };
}

/** Sources whose strength is finite: some credit (a win, or a tie counted as half) and some loss. */
function identifiable(sources: number, t: Tally, tiesCount: boolean): boolean[] {
  return Array.from({ length: sources }, (_, i) => {
    const played = t.games[i].reduce((a, b) => a + b, 0);
    const credit = t.wins[i] + (tiesCount ? t.ties[i] / 2 : 0);
    const lost = played - t.wins[i] - t.ties[i] + (tiesCount ? t.ties[i] / 2 : 0);
    return played > 0 && credit > 0 && lost > 0;
  });
}

/**
 * The comparisons among sources the data can place, and which those are: leaving a source out
 * changes the others' records, so this repeats until nothing more is left out.
 */
function fitSet(sources: number, comparisons: readonly Comparison[]) {
  let current = comparisons;
  let ok = new Array<boolean>(sources).fill(true);
  for (;;) {
    const t = tally(sources, current);
    const next = identifiable(sources, t, true).map((v, i) => v && ok[i]);
    if (next.every((v, i) => v === ok[i])) return { t, ok };
    ok = next;
    current = current.filter((c) => ok[c.a] && ok[c.b]);
  }
}

function centred(logs: number[], ok: boolean[]): Pick<Strengths, "scores" | "elo"> {
  const finite = logs.filter((_, i) => ok[i]);
  const mean = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : 0;
  const scores = logs.map((l, i) => (ok[i] ? l - mean : null));
  return { scores, elo: scores.map((s) => (s === null ? null : 1000 + (400 * s) / Math.LN10)) };
}

/**
 * Bradley–Terry maximum likelihood with ties as half a win each way, by the MM algorithm (Hunter,
 * 2004): p_i ← w_i / Σ_j n_ij / (p_i + p_j). Sources the data cannot place get a null score and
 * are left out of the fit.
 */
export function bradleyTerry(sources: number, comparisons: readonly Comparison[]): Strengths {
  const { t, ok } = fitSet(sources, comparisons);
  return maximise(sources, t, ok);
}

/** The MM iterations of `bradleyTerry` on a tally, shared with the tallied bootstrap so both give the same numbers. */
function maximise(sources: number, t: Tally, ok: boolean[]): Strengths {
  const credit = Array.from({ length: sources }, (_, i) => t.wins[i] + t.ties[i] / 2);
  const p = new Float64Array(sources).fill(1);
  let iterations = 0;
  let converged = false;
  while (iterations < MAX_ITERATIONS && !converged) {
    iterations++;
    let change = 0;
    for (let i = 0; i < sources; i++) {
      if (!ok[i]) continue;
      let denominator = 0;
      for (let j = 0; j < sources; j++) if (j !== i && ok[j] && t.games[i][j] > 0) denominator += t.games[i][j] / (p[i] + p[j]);
      const next = denominator > 0 ? credit[i] / denominator : p[i];
      change = Math.max(change, Math.abs(Math.log(next) - Math.log(p[i])));
      p[i] = next;
    }
    normalise(p, ok);
    converged = change < TOLERANCE;
  }
  return { ...centred(Array.from(p, Math.log), ok), iterations, converged };
}

function normalise(p: Float64Array, ok: boolean[]): void {
  let logSum = 0;
  let count = 0;
  for (let i = 0; i < p.length; i++) if (ok[i]) (logSum += Math.log(p[i])), count++;
  const scale = Math.exp(logSum / Math.max(1, count));
  for (let i = 0; i < p.length; i++) if (ok[i]) p[i] /= scale;
}

export interface DavidsonFit extends Strengths {
  /** Davidson's tie parameter ν: P(tie | i, j) ∝ ν·√(π_i π_j). 0 when nobody tied. */
  tie: number;
}

/**
 * Davidson's (1970) extension for ties: P(i ≻ j) = π_i / D, P(tie) = ν√(π_i π_j) / D, with
 * D = π_i + π_j + ν√(π_i π_j); maximum likelihood by the fixed point of its score equations.
 */
export function davidson(sources: number, comparisons: readonly Comparison[]): DavidsonFit {
  const { t, ok } = fitSet(sources, comparisons);
  const pi = new Float64Array(sources).fill(1);
  const played = t.games.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0) / 2;
  const pairs = played - t.tieTotal;
  let nu = t.tieTotal > 0 ? t.tieTotal / Math.max(1, pairs) : 0;
  let iterations = 0;
  let converged = false;
  while (iterations < MAX_ITERATIONS && !converged) {
    iterations++;
    let change = 0;
    for (let i = 0; i < sources; i++) {
      if (!ok[i]) continue;
      let denominator = 0;
      for (let j = 0; j < sources; j++) {
        if (j === i || !ok[j] || t.games[i][j] === 0) continue;
        const root = Math.sqrt(pi[i] * pi[j]);
        denominator += (t.games[i][j] * (1 + (nu / 2) * Math.sqrt(pi[j] / pi[i]))) / (pi[i] + pi[j] + nu * root);
      }
      const next = denominator > 0 ? (t.wins[i] + t.ties[i] / 2) / denominator : pi[i];
      change = Math.max(change, Math.abs(Math.log(next) - Math.log(pi[i])));
      pi[i] = next;
    }
    normalise(pi, ok);
    if (t.tieTotal > 0) {
      let s = 0;
      for (let i = 0; i < sources; i++) {
        for (let j = i + 1; j < sources; j++) {
          if (!ok[i] || !ok[j] || t.games[i][j] === 0) continue;
          const root = Math.sqrt(pi[i] * pi[j]);
          s += (t.games[i][j] * root) / (pi[i] + pi[j] + nu * root);
        }
      }
      const next = s > 0 ? t.tieTotal / s : nu;
      change = Math.max(change, Math.abs(next - nu));
      nu = next;
    }
    converged = change < TOLERANCE;
  }
  return { ...centred(Array.from(pi, Math.log), ok), tie: nu, iterations, converged };
}

export interface BootstrapIntervals {
  /** 2.5 % and 97.5 % percentiles of each source's score over the resamples (null: not identified often enough). */
  scores: ({ low: number; high: number } | null)[];
  resamples: number;
  /** Resamples in which a source could not be placed (left out of its interval). */
  degenerate: number[];
}

/**
 * Percentile bootstrap of Bradley–Terry scores, resampling units (images) with replacement, from a
 * seed: the same data and seed give the same intervals.
 */
export function bootstrapBradleyTerry(sources: number, comparisons: readonly Comparison[], resamples: number, seed: number): BootstrapIntervals {
  const byUnit = new Map<string, Comparison[]>();
  comparisons.forEach((c, i) => {
    const key = c.unit ?? `#${i}`;
    const list = byUnit.get(key);
    if (list) list.push(c);
    else byUnit.set(key, [c]);
  });
  const units = [...byUnit.values()];
  const random = seededRandom(seed);
  const draws: number[][] = Array.from({ length: sources }, () => []);
  const degenerate = new Array<number>(sources).fill(0);
  for (let r = 0; r < resamples; r++) {
    const sample: Comparison[] = [];
    for (let u = 0; u < units.length; u++) for (const c of units[Math.floor(random() * units.length)]) sample.push(c);
    const fit = bradleyTerry(sources, sample);
    fit.scores.forEach((s, i) => (s === null ? degenerate[i]++ : draws[i].push(s)));
  }
  return {
    scores: draws.map((d) => (d.length >= Math.max(1, resamples / 2) ? { low: percentile(d, 0.025), high: percentile(d, 0.975) } : null)),
    resamples,
    degenerate,
  };
}

/**
 * `bootstrapBradleyTerry`'s intervals, the same numbers from the same data and seed, without
 * building and re-tallying each resample's comparison list (which dominates its time at thousands
 * of votes): every unit is tallied once into pairwise counts, and a resample adds up the counts of
 * the units it draws. Units are drawn in the same order from the same stream, and the counts are
 * integers, so every resample's tally, and hence its fit, is exactly the one the slow path builds.
 */
export function bootstrapBradleyTerryTallied(sources: number, comparisons: readonly Comparison[], resamples: number, seed: number): BootstrapIntervals {
  const cells = sources * sources;
  // Per unit: count per cell; cells < sources² are wins of row over column, the rest ties (row < column).
  const unitIndex = new Map<string, number>();
  const unitCounts: Map<number, number>[] = [];
  comparisons.forEach((c, i) => {
    const key = c.unit ?? `#${i}`;
    let u = unitIndex.get(key);
    // Registered even for a self-comparison, which counts for nothing: the units must be the slow path's, in its order.
    if (u === undefined) unitIndex.set(key, (u = unitCounts.push(new Map()) - 1));
    if (c.a === c.b) return;
    const counts = unitCounts[u];
    const cell = c.outcome === "a" ? c.a * sources + c.b : c.outcome === "b" ? c.b * sources + c.a : cells + Math.min(c.a, c.b) * sources + Math.max(c.a, c.b);
    counts.set(cell, (counts.get(cell) ?? 0) + 1);
  });
  // Units with the same counts are interchangeable in a resample, so a resample only counts how
  // often it drew each kind of unit: with a few sources and votes per image there are few kinds.
  const kindIndex = new Map<string, number>();
  const kinds: Int32Array[] = [];
  const kindOf = Int32Array.from(unitCounts, (m) => {
    const cellsCounts = Int32Array.from([...m].sort((x, y) => x[0] - y[0]).flat());
    const key = cellsCounts.join(",");
    let k = kindIndex.get(key);
    if (k === undefined) kindIndex.set(key, (k = kinds.push(cellsCounts) - 1));
    return k;
  });
  const random = seededRandom(seed);
  const counts = new Float64Array(2 * cells);
  const drawn = new Float64Array(kinds.length);
  const draws: number[][] = Array.from({ length: sources }, () => []);
  const degenerate = new Array<number>(sources).fill(0);
  for (let r = 0; r < resamples; r++) {
    resample(kindOf, kinds, random, drawn, counts);
    const { t, ok } = fitSetOfCounts(sources, counts);
    maximise(sources, t, ok).scores.forEach((s, i) => (s === null ? degenerate[i]++ : draws[i].push(s)));
  }
  return {
    scores: draws.map((d) => (d.length >= Math.max(1, resamples / 2) ? { low: percentile(d, 0.025), high: percentile(d, 0.975) } : null)),
    resamples,
    degenerate,
  };
}

/** One resample's pairwise counts. A function of its own, so the engine optimises this hot loop early. */
function resample(kindOf: Int32Array, kinds: readonly Int32Array[], random: () => number, drawn: Float64Array, counts: Float64Array): void {
  const n = kindOf.length;
  drawn.fill(0);
  for (let u = 0; u < n; u++) drawn[kindOf[Math.floor(random() * n)]]++;
  counts.fill(0);
  for (let k = 0; k < kinds.length; k++) {
    const kind = kinds[k];
    for (let e = 0; e < kind.length; e += 2) counts[kind[e]] += drawn[k] * kind[e + 1];
  }
}

/** `fitSet` over pairwise counts: leaving a source out drops its games from the others' records. */
function fitSetOfCounts(sources: number, counts: Float64Array) {
  const cells = sources * sources;
  let ok = new Array<boolean>(sources).fill(true);
  for (;;) {
    const t: Tally = { games: Array.from({ length: sources }, () => new Float64Array(sources)), wins: new Float64Array(sources), ties: new Float64Array(sources), tieTotal: 0 };
    for (let i = 0; i < sources; i++) {
      for (let j = 0; j < sources; j++) {
        if (i === j || !ok[i] || !ok[j]) continue;
        const tied = counts[cells + Math.min(i, j) * sources + Math.max(i, j)];
        t.games[i][j] = counts[i * sources + j] + counts[j * sources + i] + tied;
        t.wins[i] += counts[i * sources + j];
        t.ties[i] += tied;
        if (i < j) t.tieTotal += tied;
      }
    }
    const next = identifiable(sources, t, true).map((v, i) => v && ok[i]);
    if (next.every((v, i) => v === ok[i])) return { t, ok };
    ok = next;
  }
}

/** Linear interpolation between order statistics (the usual "type 7" definition). */
export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}
