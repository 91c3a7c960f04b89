import { sourcePairs } from "./study-plan.ts";
import { fleissKappa, krippendorffAlpha } from "./stats/agreement.ts";
import { bootstrapBradleyTerryTallied, bradleyTerry, davidson, type Comparison } from "./stats/paired-comparison.ts";
import { binomialTest, wilson, type Interval } from "./stats/proportions.ts";

/**
 * A pairwise study's results, in the API's snake_case so a route returns them as they are. Only
 * regular ("pair") votes of the counted voters measure the sources: gold votes check voters and
 * repeats measure their consistency, and either would bias a source's record.
 */

export interface StudyVoteRecord {
  pairId: string;
  imageId: string;
  kind: "pair" | "gold" | "repeat";
  /** The pair's sources in plan order (gold pairs may name a planted source, "planted:final"). */
  a: string;
  b: string;
  /** Which of a and b was on the left. */
  left: string;
  /** null: a tie. */
  winner: string | null;
  voter: string;
  reasons: { source: string; code: string }[];
  /** Active time as the client measured it. */
  activeMs: number | null;
  /** Lease to vote, as the server saw it. */
  durationMs: number;
  goldAnswer: string | null;
  /** For a repeat: the pair it repeats. */
  repeatOf: string | null;
}

export interface ResultsInput {
  sources: string[];
  k: number;
  allowTies: boolean;
  pairsPlanned: number;
  votes: StudyVoteRecord[];
  excluded: Set<string>;
  /** true: the "all voters" view, excluded voters counted too. */
  includeExcluded: boolean;
  qc: { maxGoldFailShare: number; minGoldVotes: number; minMedianSeconds: number };
  resamples: number;
  seed: number;
}

export interface PairResult {
  a: string;
  b: string;
  /** Votes for a. */
  wins: number;
  ties: number;
  /** Votes for b. */
  losses: number;
  n: number;
  /** wins / (wins + losses), Wilson 95 %. */
  win_rate: Interval | null;
  /** (wins + ties/2) / n, Wilson 95 % with a half-integer count. */
  win_rate_ties_half: Interval | null;
  /** Exact two-sided sign test of wins against losses. */
  sign_test_p: number | null;
}

export interface SourceStrength {
  source: string;
  /** Centred log-strength; null where the votes cannot place the source. */
  score: number | null;
  elo: number | null;
  /** Bootstrap 95 % interval of `score`. */
  low: number | null;
  high: number | null;
  /** The same interval on the Elo scale. */
  elo_low: number | null;
  elo_high: number | null;
}

export interface VoterRow {
  voter: string;
  excluded: boolean;
  /** Regular votes. */
  votes: number;
  gold_votes: number;
  /** A tie on a gold pair is wrong: gold pairs have an answer. */
  gold_correct: number;
  gold_accuracy: number | null;
  /** Repeat votes whose first vote is on record. */
  repeats: number;
  /** Repeats that differ from the first vote (a tie against a choice counts). */
  flips: number;
  flip_rate: number | null;
  /** Median time per regular or gold vote: the client's active time where it sent one, else lease to vote. */
  median_seconds: number | null;
  /** Share of its regular votes that match the unique plurality of the other counted voters on the pair. */
  majority_agreement: number | null;
  flags: ("gold" | "fast")[];
}

export interface StudyResults {
  voters: "included" | "all";
  votes_counted: number;
  coverage: { pairs_planned: number; pairs_with_k_votes: number; share: number | null; votes: number };
  pairs: PairResult[];
  bradley_terry: { sources: SourceStrength[]; resamples: number; seed: number; converged: boolean };
  davidson: { tie: number; sources: { source: string; score: number | null }[] } | null;
  position_bias: { left_votes: number; decided_votes: number; share_left: Interval | null; p: number | null };
  agreement: { fleiss_kappa: number | null; fleiss_pairs: number; krippendorff_alpha: number | null };
  reasons: { source: string; code: string; count: number }[];
  voters_table: VoterRow[];
}

/** Categories of a vote as the pair sees it, so agreement is comparable across pairs. */
type Category = "a" | "b" | "tie";

function categoryOf(v: StudyVoteRecord): Category {
  return v.winner === null ? "tie" : v.winner === v.a ? "a" : "b";
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function studyResults(input: ResultsInput): StudyResults {
  const { sources } = input;
  const index = new Map(sources.map((s, i) => [s, i]));
  const counted = (voter: string) => input.includeExcluded || !input.excluded.has(voter);
  // Every regular vote is checked, counted or not: the voters table compares excluded voters' votes too.
  const votes = input.votes.filter((v) => v.kind === "pair").map((v) => oriented(v, index)).filter((v) => counted(v.voter));
  const byPair = groupBy(votes, (v) => v.pairId);
  const full = [...byPair.values()].filter((list) => list.length >= input.k).length;

  return {
    voters: input.includeExcluded ? "all" : "included",
    votes_counted: votes.length,
    coverage: {
      pairs_planned: input.pairsPlanned,
      pairs_with_k_votes: full,
      share: input.pairsPlanned > 0 ? full / input.pairsPlanned : null,
      votes: votes.length,
    },
    pairs: pairResults(sources, votes),
    ...strengths(input, votes, index),
    position_bias: positionBias(votes),
    agreement: agreement(input, byPair),
    reasons: reasonCounts(sources, votes),
    voters_table: voterTable(input, byPair),
  };
}

/**
 * A regular vote with a before b in study order, whichever way round its pair was stored, and its
 * winner checked: a vote for a source the pair does not have is a bug upstream, not data.
 */
function oriented(v: StudyVoteRecord, index: Map<string, number>): StudyVoteRecord {
  const ia = index.get(v.a);
  const ib = index.get(v.b);
  if (ia === undefined || ib === undefined || ia === ib) throw new RangeError(`vote on pair ${v.pairId}: ${v.a} vs ${v.b} is not a pair of this study's sources`);
  if (v.winner !== null && v.winner !== v.a && v.winner !== v.b) throw new RangeError(`vote on pair ${v.pairId}: winner ${v.winner} is neither ${v.a} nor ${v.b}`);
  if (v.left !== v.a && v.left !== v.b) throw new RangeError(`vote on pair ${v.pairId}: left side ${v.left} is neither ${v.a} nor ${v.b}`);
  return ia < ib ? v : { ...v, a: v.b, b: v.a };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

function pairResults(sources: readonly string[], votes: readonly StudyVoteRecord[]): PairResult[] {
  const tallies = new Map(sourcePairs(sources).map(([a, b]) => [`${a}\u0000${b}`, { a, b, wins: 0, ties: 0, losses: 0 }]));
  for (const v of votes) {
    const t = tallies.get(`${v.a}\u0000${v.b}`)!;
    if (v.winner === null) t.ties++;
    else if (v.winner === v.a) t.wins++;
    else t.losses++;
  }
  return [...tallies.values()].map((t) => {
    const decided = t.wins + t.losses;
    const n = decided + t.ties;
    return {
      ...t,
      n,
      win_rate: decided > 0 ? wilson(t.wins, decided) : null,
      win_rate_ties_half: n > 0 ? wilson(t.wins + t.ties / 2, n) : null,
      sign_test_p: decided > 0 ? binomialTest(t.wins, decided) : null,
    };
  });
}

function strengths(input: ResultsInput, votes: readonly StudyVoteRecord[], index: Map<string, number>): Pick<StudyResults, "bradley_terry" | "davidson"> {
  const { sources } = input;
  // The image is the unit the bootstrap resamples: votes on one image share its captions and are not independent.
  const comparisons: Comparison[] = votes.map((v) => ({ a: index.get(v.a)!, b: index.get(v.b)!, outcome: categoryOf(v), unit: v.imageId }));
  const fit = bradleyTerry(sources.length, comparisons);
  const boot = bootstrapBradleyTerryTallied(sources.length, comparisons, input.resamples, input.seed);
  const elo = (s: number | undefined) => (s === undefined ? null : 1000 + (400 * s) / Math.LN10);
  const tied = comparisons.some((c) => c.outcome === "tie");
  const dav = input.allowTies && tied ? davidson(sources.length, comparisons) : null;
  return {
    bradley_terry: {
      sources: sources.map((source, i) => ({
        source,
        score: fit.scores[i],
        elo: fit.elo[i],
        low: boot.scores[i]?.low ?? null,
        high: boot.scores[i]?.high ?? null,
        elo_low: elo(boot.scores[i]?.low),
        elo_high: elo(boot.scores[i]?.high),
      })),
      resamples: input.resamples,
      seed: input.seed,
      converged: fit.converged,
    },
    davidson: dav && Number.isFinite(dav.tie) ? { tie: dav.tie, sources: sources.map((source, i) => ({ source, score: dav.scores[i] })) } : null,
  };
}

function positionBias(votes: readonly StudyVoteRecord[]): StudyResults["position_bias"] {
  const decided = votes.filter((v) => v.winner !== null);
  const left = decided.filter((v) => v.winner === v.left).length;
  return {
    left_votes: left,
    decided_votes: decided.length,
    share_left: decided.length > 0 ? wilson(left, decided.length) : null,
    p: decided.length > 0 ? binomialTest(left, decided.length) : null,
  };
}

/**
 * Fleiss' κ needs the same number of votes on every unit, so it takes the pairs with exactly k;
 * Krippendorff's α takes missing votes, so it takes every voted pair. Both are null rather than the
 * libraries' conventions when they are undefined: no pair to judge, or every vote alike (κ and α are
 * 0/0 there, and reporting "perfect agreement" for a study whose voters all pressed one button
 * would mislead).
 */
function agreement(input: ResultsInput, byPair: Map<string, StudyVoteRecord[]>): StudyResults["agreement"] {
  const units = [...byPair.values()];
  const full = units.filter((list) => list.length === input.k);
  // A tie column of zeros changes no term of κ, so it is kept even when the study has no ties.
  const table = full.map(categoryCounts);
  const seen = [0, 1, 2].filter((c) => table.some((row) => row[c] > 0)).length;
  const fleiss = input.k >= 2 && seen > 1 ? finite(fleissKappa(table)) : null;

  const row = new Map<string, number>();
  for (const list of units) for (const v of list) if (!row.has(v.voter)) row.set(v.voter, row.size);
  const ratings: (Category | null)[][] = Array.from(row.keys(), () => new Array<Category | null>(units.length).fill(null));
  const pairable = new Set<Category>();
  units.forEach((list, u) => {
    const values: Category[] = [];
    for (const v of list) {
      const r = ratings[row.get(v.voter)!];
      // One coder, one value per unit: a duplicate vote by the same voter keeps its first.
      if (r[u] === null) values.push((r[u] = categoryOf(v)));
    }
    if (values.length >= 2) for (const c of values) pairable.add(c);
  });
  const alpha = pairable.size > 1 ? finite(krippendorffAlpha(ratings, "nominal")) : null;
  return { fleiss_kappa: fleiss, fleiss_pairs: full.length, krippendorff_alpha: alpha };
}

/** Votes for a, for b, and ties. */
function categoryCounts(list: readonly StudyVoteRecord[]): [number, number, number] {
  const counts: [number, number, number] = [0, 0, 0];
  for (const v of list) counts[v.winner === null ? 2 : v.winner === v.a ? 0 : 1]++;
  return counts;
}

function reasonCounts(sources: readonly string[], votes: readonly StudyVoteRecord[]): StudyResults["reasons"] {
  const counts = new Map<string, { source: string; code: string; count: number }>();
  for (const v of votes) {
    for (const r of v.reasons) {
      const key = `${r.source}\u0000${r.code}`;
      const entry = counts.get(key);
      if (entry) entry.count++;
      else counts.set(key, { source: r.source, code: r.code, count: 1 });
    }
  }
  const rank = (s: string) => {
    const i = sources.indexOf(s);
    return i < 0 ? sources.length : i;
  };
  return [...counts.values()].sort(
    (x, y) => rank(x.source) - rank(y.source) || (x.source < y.source ? -1 : x.source > y.source ? 1 : 0) || y.count - x.count || (x.code < y.code ? -1 : x.code > y.code ? 1 : 0),
  );
}

/** Every voter with a vote of any kind, excluded or not, so a lead can see whom to exclude or bring back. */
function voterTable(input: ResultsInput, byPair: Map<string, StudyVoteRecord[]>): VoterRow[] {
  const { qc } = input;
  const choice = (v: StudyVoteRecord) => v.winner ?? "\u0000tie";
  return [...groupBy(input.votes, (v) => v.voter)]
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([voter, list]) => {
      const regular = list.filter((v) => v.kind === "pair");
      const gold = list.filter((v) => v.kind === "gold");
      const correct = gold.filter((v) => v.winner !== null && v.winner === v.goldAnswer).length;
      const first = new Map<string, string>();
      for (const v of regular) if (!first.has(v.pairId)) first.set(v.pairId, choice(v));
      const repeats = list.filter((v) => v.kind === "repeat" && first.has(v.repeatOf ?? v.pairId));
      const flips = repeats.filter((v) => choice(v) !== first.get(v.repeatOf ?? v.pairId)).length;
      const seconds = median([...regular, ...gold].map((v) => (v.activeMs ?? v.durationMs) / 1000));
      const failShare = gold.length > 0 ? (gold.length - correct) / gold.length : 0;
      const flags: VoterRow["flags"] = [];
      if (gold.length >= qc.minGoldVotes && gold.length > 0 && failShare > qc.maxGoldFailShare) flags.push("gold");
      if (seconds !== null && seconds < qc.minMedianSeconds) flags.push("fast");
      return {
        voter,
        excluded: input.excluded.has(voter),
        votes: regular.length,
        gold_votes: gold.length,
        gold_correct: correct,
        gold_accuracy: gold.length > 0 ? correct / gold.length : null,
        repeats: repeats.length,
        flips,
        flip_rate: repeats.length > 0 ? flips / repeats.length : null,
        median_seconds: seconds,
        majority_agreement: majorityAgreement(voter, regular, byPair),
        flags,
      };
    });
}

/** Pairs where the others tie for the most votes have no majority to agree with, and are left out. */
function majorityAgreement(voter: string, regular: readonly StudyVoteRecord[], byPair: Map<string, StudyVoteRecord[]>): number | null {
  let judged = 0;
  let agreed = 0;
  for (const v of regular) {
    const others = (byPair.get(v.pairId) ?? []).filter((o) => o.voter !== voter);
    if (others.length === 0) continue;
    const counts = categoryCounts(others);
    const top = Math.max(...counts);
    if (counts.filter((n) => n === top).length > 1) continue;
    judged++;
    // Sources, not sides: `others` are in study order, this voter's own record may not be.
    const own = v.winner === null ? 2 : v.winner === others[0].a ? 0 : 1;
    if (counts[own] === top) agreed++;
  }
  return judged > 0 ? agreed / judged : null;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export type ResultsTable = { header: string[]; rows: (string | number | null)[][] };

/** The results as flat tables, for CSV downloads. */
export function resultsTables(r: StudyResults): Record<"pairs" | "sources" | "voters" | "reasons", ResultsTable> {
  const davidsonScore = new Map(r.davidson?.sources.map((s) => [s.source, s.score]) ?? []);
  return {
    pairs: {
      header: ["a", "b", "wins", "ties", "losses", "n", "win_rate", "win_rate_low", "win_rate_high", "win_rate_ties_half", "win_rate_ties_half_low", "win_rate_ties_half_high", "sign_test_p"],
      rows: r.pairs.map((p) => [p.a, p.b, p.wins, p.ties, p.losses, p.n, ...interval(p.win_rate), ...interval(p.win_rate_ties_half), p.sign_test_p]),
    },
    sources: {
      header: ["source", "score", "elo", "low", "high", "elo_low", "elo_high", "davidson_score"],
      rows: r.bradley_terry.sources.map((s) => [s.source, s.score, s.elo, s.low, s.high, s.elo_low, s.elo_high, davidsonScore.get(s.source) ?? null]),
    },
    voters: {
      header: ["voter", "excluded", "votes", "gold_votes", "gold_correct", "gold_accuracy", "repeats", "flips", "flip_rate", "median_seconds", "majority_agreement", "flags"],
      rows: r.voters_table.map((v) => [
        v.voter,
        String(v.excluded),
        v.votes,
        v.gold_votes,
        v.gold_correct,
        v.gold_accuracy,
        v.repeats,
        v.flips,
        v.flip_rate,
        v.median_seconds,
        v.majority_agreement,
        v.flags.join(" "),
      ]),
    },
    reasons: { header: ["source", "code", "count"], rows: r.reasons.map((x) => [x.source, x.code, x.count]) },
  };
}

function interval(i: Interval | null): [number | null, number | null, number | null] {
  return i ? [i.estimate, i.low, i.high] : [null, null, null];
}
