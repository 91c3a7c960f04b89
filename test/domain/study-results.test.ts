/**
 * Study results on a dataset small enough to work by hand: the expected tallies, intervals, tests,
 * agreement and voter checks below are computed in this file from the listed votes, by formulas
 * written here, not read off the implementation.
 */
import type { z } from "@hono/zod-openapi";
import { describe, expect, expectTypeOf, it } from "vitest";
import { StudyResultsSchema } from "../../schema/api/study-results.ts";
import { parseCsv, toCsv } from "../../worker/domain/csv.ts";
import { seededRandom } from "../../worker/domain/random.ts";
import { bootstrapBradleyTerry, bootstrapBradleyTerryTallied, type Comparison } from "../../worker/domain/stats/paired-comparison.ts";
import { resultsTables, studyResults, type ResultsInput, type StudyResults, type StudyVoteRecord } from "../../worker/domain/study-results.ts";

const Z = 1.959963984540054;

/** Wilson's interval as the two roots of (p̂ − p)² = z² p (1 − p) / n. */
function wilsonRoots(k: number, n: number) {
  const p = k / n;
  const qa = 1 + (Z * Z) / n;
  const qb = -(2 * p + (Z * Z) / n);
  const qc = p * p;
  const root = Math.sqrt(qb * qb - 4 * qa * qc);
  return { estimate: p, low: Math.max(0, (-qb - root) / (2 * qa)), high: Math.min(1, (-qb + root) / (2 * qa)) };
}

function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/** The exact two-sided sign test: every outcome no likelier than k, which for p = ½ is both tails from min(k, n − k). */
function signTest(k: number, n: number): number {
  const tail = Math.min(k, n - k);
  if (2 * tail === n) return 1;
  let sum = 0;
  for (let i = 0; i <= tail; i++) sum += choose(n, i);
  return Math.min(1, (2 * sum) / 2 ** n);
}

/** Fleiss' κ as textbooks write it: P̄ = mean over units of (Σ n_ij² − n) / (n (n − 1)), P_e = Σ p_j². */
function textbookFleiss(rows: number[][]): number {
  const n = rows[0].reduce((a, b) => a + b, 0);
  const pbar = rows.reduce((s, r) => s + (r.reduce((q, x) => q + x * x, 0) - n) / (n * (n - 1)), 0) / rows.length;
  const pe = rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / (rows.length * n)).reduce((s, p) => s + p * p, 0);
  return (pbar - pe) / (1 - pe);
}

/** Nominal α from pairable units: 1 − (n − 1) Σ_u Σ_{i≠j} [v_i ≠ v_j] / (m_u − 1) / Σ_{c≠k} n_c n_k. */
function textbookAlpha(units: string[][]): number {
  const pairable = units.filter((u) => u.length >= 2);
  const n = pairable.reduce((s, u) => s + u.length, 0);
  let observed = 0;
  for (const u of pairable) {
    let differ = 0;
    for (let i = 0; i < u.length; i++) for (let j = 0; j < u.length; j++) if (i !== j && u[i] !== u[j]) differ++;
    observed += differ / (u.length - 1);
  }
  const nc = new Map<string, number>();
  for (const v of pairable.flat()) nc.set(v, (nc.get(v) ?? 0) + 1);
  let expected = 0;
  for (const [c, x] of nc) for (const [k, y] of nc) if (c !== k) expected += x * y;
  return 1 - ((n - 1) * observed) / expected;
}

// Sources A, B, C; pairs p1–p6 over two images; voters v1–v4, v4 excluded by the lead.
const PAIRS: Record<string, { imageId: string; a: string; b: string }> = {
  p1: { imageId: "img1", a: "A", b: "B" },
  p2: { imageId: "img1", a: "A", b: "C" },
  p3: { imageId: "img1", a: "B", b: "C" },
  p4: { imageId: "img2", a: "A", b: "B" },
  p5: { imageId: "img2", a: "A", b: "C" },
  p6: { imageId: "img2", a: "B", b: "C" },
  g1: { imageId: "img9", a: "B", b: "A" },
  g2: { imageId: "img8", a: "A", b: "planted:A" },
};

type Extra = Partial<Pick<StudyVoteRecord, "reasons" | "activeMs" | "durationMs" | "kind" | "repeatOf" | "a" | "b">>;

function vote(pairId: string, voter: string, winner: string | null, left: string, extra: Extra = {}): StudyVoteRecord {
  const p = PAIRS[pairId];
  const kind = extra.kind ?? (pairId.startsWith("g") ? "gold" : "pair");
  return {
    pairId,
    imageId: p.imageId,
    kind,
    a: p.a,
    b: p.b,
    left,
    winner,
    voter,
    reasons: [],
    activeMs: null,
    durationMs: 60_000,
    goldAnswer: kind === "gold" ? (pairId === "g1" ? "B" : "A") : null,
    repeatOf: null,
    ...extra,
  };
}

const t = (activeMs: number) => ({ activeMs });
const VOTES: StudyVoteRecord[] = [
  // v1: times 3, 5, 4, 6, 2, 7 s on its pairs, 8 and 1 s (server-side) on gold: median 4.5.
  vote("p1", "v1", "A", "A", { ...t(3000), reasons: [{ source: "A", code: "detail" }, { source: "B", code: "hallucination" }] }),
  vote("p2", "v1", "A", "C", t(5000)),
  vote("p3", "v1", "B", "B", t(4000)),
  vote("p4", "v1", "A", "A", t(6000)),
  vote("p5", "v1", null, "A", t(2000)),
  vote("p6", "v1", "C", "C", t(7000)),
  vote("g1", "v1", "B", "A", { durationMs: 8000, reasons: [{ source: "A", code: "hallucination" }] }),
  vote("g2", "v1", "A", "planted:A", { durationMs: 1000 }),
  // Repeats: p1 the same (A), p5 flipped (tie → A); if they counted, A would gain on C. Their long times must not reach the median.
  vote("p1", "v1", "A", "B", { kind: "repeat", repeatOf: "p1", activeMs: 20_000 }),
  vote("p5", "v1", "A", "C", { kind: "repeat", repeatOf: "p5", activeMs: 30_000 }),

  // v2: fast (1 s), fails both gold pairs (a tie on gold is wrong).
  vote("p1", "v2", "A", "B", { ...t(1000), reasons: [{ source: "B", code: "hallucination" }] }),
  vote("p2", "v2", "C", "A", t(1000)),
  vote("p3", "v2", "B", "C", t(1000)),
  vote("p4", "v2", "A", "A", t(1000)),
  vote("p5", "v2", "A", "C", { ...t(1000), reasons: [{ source: "A", code: "grounding" }] }),
  vote("g1", "v2", "A", "B", t(1500)),
  vote("g2", "v2", null, "A", t(1500)),
  vote("p2", "v2", "C", "C", { kind: "repeat", repeatOf: "p2", activeMs: 1000 }),

  // v3: no client time (server time 5 s); one gold pair, right, too few to flag; its p6 vote stored the other way round.
  vote("p1", "v3", null, "A", { durationMs: 5000 }),
  vote("p2", "v3", "A", "A", { durationMs: 5000, reasons: [{ source: "C", code: "hallucination" }, { source: "A", code: "grounding" }] }),
  vote("p3", "v3", "C", "B", { durationMs: 5000 }),
  vote("p5", "v3", "A", "C", { durationMs: 5000 }),
  vote("p6", "v3", "C", "B", { durationMs: 5000, a: "C", b: "B" }),
  vote("g1", "v3", "B", "B", { durationMs: 5000 }),
  // A repeat of a pair v3 never voted on: nothing to compare it with.
  vote("p4", "v3", "B", "A", { kind: "repeat", repeatOf: "p4", durationMs: 5000 }),

  // v4, excluded: 2 s, fails gold, votes against the others.
  vote("p1", "v4", "B", "A", { ...t(2000), reasons: [{ source: "A", code: "hallucination" }] }),
  vote("p2", "v4", "C", "C", t(2000)),
  vote("p4", "v4", "B", "B", t(2000)),
  vote("p5", "v4", "A", "A", t(2000)),
  vote("g1", "v4", "A", "A", t(2000)),
  vote("g2", "v4", "planted:A", "A", t(2000)),
];

function input(over: Partial<ResultsInput> = {}): ResultsInput {
  return {
    sources: ["A", "B", "C"],
    k: 3,
    allowTies: true,
    pairsPlanned: 6,
    votes: VOTES,
    excluded: new Set(["v4"]),
    includeExcluded: false,
    qc: { maxGoldFailShare: 0.5, minGoldVotes: 2, minMedianSeconds: 3 },
    resamples: 200,
    seed: 9,
    ...over,
  };
}

function expectPair(actual: StudyResults["pairs"][number], a: string, b: string, wins: number, ties: number, losses: number) {
  const n = wins + ties + losses;
  expect(actual).toMatchObject({ a, b, wins, ties, losses, n });
  const close = (x: { estimate: number; low: number; high: number } | null, y: ReturnType<typeof wilsonRoots>) => {
    expect(x).not.toBeNull();
    expect(x!.estimate).toBeCloseTo(y.estimate, 12);
    expect(x!.low).toBeCloseTo(y.low, 10);
    expect(x!.high).toBeCloseTo(y.high, 10);
  };
  close(actual.win_rate, wilsonRoots(wins, wins + losses));
  close(actual.win_rate_ties_half, wilsonRoots(wins + ties / 2, n));
  expect(actual.sign_test_p).toBeCloseTo(signTest(wins, wins + losses), 12);
}

function numbersIn(value: unknown, out: number[] = []): number[] {
  if (typeof value === "number") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => numbersIn(v, out));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => numbersIn(v, out));
  return out;
}

describe("studyResults, included voters", () => {
  const r = studyResults(input());

  it("counts only the regular votes of the included voters", () => {
    expect(r.voters).toBe("included");
    // v1: 6, v2: 5, v3: 5.
    expect(r.votes_counted).toBe(16);
    // Votes per pair: p1 3, p2 3, p3 3, p4 2, p5 3, p6 2.
    expect(r.coverage).toEqual({ pairs_planned: 6, pairs_with_k_votes: 4, share: 4 / 6, votes: 16 });
  });

  it("tallies each source pair with wins for the first source, and its intervals and sign test", () => {
    expect(r.pairs.map((p) => `${p.a}|${p.b}`)).toEqual(["A|B", "A|C", "B|C"]);
    // A|B: p1 A, A, tie; p4 A, A.   A|C: p2 A, C, A; p5 tie, A, A.   B|C: p3 B, B, C; p6 C, C.
    expectPair(r.pairs[0], "A", "B", 4, 1, 0);
    expectPair(r.pairs[1], "A", "C", 4, 1, 1);
    expectPair(r.pairs[2], "B", "C", 2, 0, 3);
    expect(r.pairs[0].sign_test_p).toBeCloseTo(0.125, 12);
    expect(r.pairs[1].sign_test_p).toBeCloseTo(12 / 32, 12);
  });

  it("measures position bias over decided votes", () => {
    // Left side won: p1 v1; p2 v3; p3 v1; p4 v1, v2; p6 v1 — 6 of 14 decided votes.
    expect(r.position_bias.left_votes).toBe(6);
    expect(r.position_bias.decided_votes).toBe(14);
    const w = wilsonRoots(6, 14);
    expect(r.position_bias.share_left!.estimate).toBeCloseTo(w.estimate, 12);
    expect(r.position_bias.share_left!.low).toBeCloseTo(w.low, 10);
    expect(r.position_bias.share_left!.high).toBeCloseTo(w.high, 10);
    expect(r.position_bias.p).toBeCloseTo((2 * (1 + 14 + 91 + 364 + 1001 + 2002 + 3003)) / 16384, 12);
  });

  it("computes Fleiss' κ over the pairs with exactly k votes and Krippendorff's α over all voted pairs", () => {
    // Pairs with 3 votes, columns a / b / tie: p1 [2,0,1], p2 [2,1,0], p3 [2,1,0], p5 [2,0,1]; κ = (1/3 − 1/2) / (1/2).
    expect(r.agreement.fleiss_pairs).toBe(4);
    expect(r.agreement.fleiss_kappa).toBeCloseTo(textbookFleiss([[2, 0, 1], [2, 1, 0], [2, 1, 0], [2, 0, 1]]), 12);
    expect(r.agreement.fleiss_kappa).toBeCloseTo(-1 / 3, 12);
    const units = [["a", "a", "tie"], ["a", "b", "a"], ["a", "a", "b"], ["a", "a"], ["tie", "a", "a"], ["b", "b"]];
    expect(r.agreement.krippendorff_alpha).toBeCloseTo(textbookAlpha(units), 12);
  });

  it("fits Bradley–Terry on the counted votes: the fitted wins equal the observed (ties half)", () => {
    const scores = r.bradley_terry.sources.map((s) => s.score!);
    expect(r.bradley_terry.sources.map((s) => s.source)).toEqual(["A", "B", "C"]);
    expect(r.bradley_terry.converged).toBe(true);
    expect(scores.reduce((x, y) => x + y, 0)).toBeCloseTo(0, 10);
    // Games and credit per source from the tallies above: A–B 5 games (A 4.5), A–C 6 (A 4.5), B–C 5 (B 2).
    const games = [[0, 5, 6], [5, 0, 5], [6, 5, 0]];
    const credit = [4.5 + 4.5, 0.5 + 2, 1.5 + 3];
    const p = scores.map(Math.exp);
    for (let i = 0; i < 3; i++) {
      let expectedWins = 0;
      for (let j = 0; j < 3; j++) if (j !== i) expectedWins += (games[i][j] * p[i]) / (p[i] + p[j]);
      expect(expectedWins).toBeCloseTo(credit[i], 8);
    }
    r.bradley_terry.sources.forEach((s) => expect(s.elo).toBeCloseTo(1000 + (400 * s.score!) / Math.LN10, 10));
    expect(r.bradley_terry).toMatchObject({ resamples: 200, seed: 9 });
    for (const s of r.bradley_terry.sources) if (s.low !== null) expect(s.low).toBeLessThanOrEqual(s.high!);
  });

  it("fits Davidson's model when ties are allowed and some voter tied", () => {
    expect(r.davidson).not.toBeNull();
    expect(r.davidson!.tie).toBeGreaterThan(0);
    expect(studyResults(input({ allowTies: false })).davidson).toBeNull();
  });

  it("counts reasons of counted regular votes, by source order then count", () => {
    expect(r.reasons).toEqual([
      { source: "A", code: "grounding", count: 2 },
      { source: "A", code: "detail", count: 1 },
      { source: "B", code: "hallucination", count: 2 },
      { source: "C", code: "hallucination", count: 1 },
    ]);
  });

  it("checks every voter, the excluded one too: gold, flips, time, agreement with the others, flags", () => {
    expect(r.voters_table).toEqual([
      // Majority of the others: p4 A (agree), p5 A (v1 tied: disagree), p6 C (agree); p1–p3 the others split.
      { voter: "v1", excluded: false, votes: 6, gold_votes: 2, gold_correct: 2, gold_accuracy: 1, repeats: 2, flips: 1, flip_rate: 0.5, median_seconds: 4.5, majority_agreement: 2 / 3, flags: [] },
      // p2: others A (v2 C, disagree); p4: others A (agree); p1, p3, p5 split.
      { voter: "v2", excluded: false, votes: 5, gold_votes: 2, gold_correct: 0, gold_accuracy: 0, repeats: 1, flips: 0, flip_rate: 0, median_seconds: 1, majority_agreement: 1 / 2, flags: ["gold", "fast"] },
      // p1: others A (v3 tie); p3: others B (v3 C); p6: others C (agree); p2, p5 split.
      { voter: "v3", excluded: false, votes: 5, gold_votes: 1, gold_correct: 1, gold_accuracy: 1, repeats: 0, flips: 0, flip_rate: null, median_seconds: 5, majority_agreement: 1 / 3, flags: [] },
      // Against v1–v3: p1 A, p2 A, p4 A disagree; p5 A agrees.
      { voter: "v4", excluded: true, votes: 4, gold_votes: 2, gold_correct: 0, gold_accuracy: 0, repeats: 0, flips: 0, flip_rate: null, median_seconds: 2, majority_agreement: 1 / 4, flags: ["gold", "fast"] },
    ]);
  });

  it("has no NaN or infinity anywhere, and parses with the API schema unchanged", () => {
    for (const x of numbersIn(r)) expect(Number.isFinite(x)).toBe(true);
    const json = JSON.parse(JSON.stringify(r));
    expect(json).toEqual(r);
    // zod drops keys it does not know: equality means the schema names every field.
    expect(StudyResultsSchema.parse(json)).toEqual(r);
    expectTypeOf<z.infer<typeof StudyResultsSchema>>().toEqualTypeOf<StudyResults>();
  });
});

describe("studyResults, all voters", () => {
  const r = studyResults(input({ includeExcluded: true }));

  it("adds the excluded voter's votes", () => {
    expect(r.voters).toBe("all");
    expect(r.votes_counted).toBe(20);
    // p1 4, p2 4, p3 3, p4 3, p5 4, p6 2.
    expect(r.coverage).toEqual({ pairs_planned: 6, pairs_with_k_votes: 5, share: 5 / 6, votes: 20 });
    // v4: p1 B, p2 C, p4 B, p5 A.
    expectPair(r.pairs[0], "A", "B", 4, 1, 2);
    expectPair(r.pairs[1], "A", "C", 5, 1, 2);
    expectPair(r.pairs[2], "B", "C", 2, 0, 3);
    // Exactly 3 votes now: p3 [2,1,0] and p4 [2,1,0]; κ = (1/3 − 5/9) / (4/9).
    expect(r.agreement.fleiss_pairs).toBe(2);
    expect(r.agreement.fleiss_kappa).toBeCloseTo(-1 / 2, 12);
    expect(r.reasons).toContainEqual({ source: "A", code: "hallucination", count: 1 });
  });

  it("measures each voter against all the others, the excluded one included", () => {
    // v1 against v2–v4: p2 C (disagree), p5 A (disagree), p6 C (agree); p1, p3, p4 split.
    expect(r.voters_table.find((v) => v.voter === "v1")!.majority_agreement).toBeCloseTo(1 / 3, 12);
    expect(r.voters_table.find((v) => v.voter === "v4")!.excluded).toBe(true);
  });
});

describe("studyResults, edge cases", () => {
  it("gives nulls, not NaN, for a study with no votes", () => {
    const r = studyResults(input({ votes: [], pairsPlanned: 0 }));
    expect(r.coverage).toEqual({ pairs_planned: 0, pairs_with_k_votes: 0, share: null, votes: 0 });
    expect(r.pairs.every((p) => p.win_rate === null && p.win_rate_ties_half === null && p.sign_test_p === null)).toBe(true);
    expect(r.position_bias).toEqual({ left_votes: 0, decided_votes: 0, share_left: null, p: null });
    expect(r.agreement).toEqual({ fleiss_kappa: null, fleiss_pairs: 0, krippendorff_alpha: null });
    expect(r.bradley_terry.sources.every((s) => s.score === null && s.low === null)).toBe(true);
    expect(r.davidson).toBeNull();
    expect(r.voters_table).toEqual([]);
    expect(StudyResultsSchema.parse(r)).toEqual(r);
  });

  it("gives null agreement when every vote is alike", () => {
    const same = ["v1", "v2", "v3"].flatMap((voter) => ["p1", "p4"].map((p) => vote(p, voter, "A", "A")));
    const r = studyResults(input({ votes: same }));
    expect(r.agreement).toEqual({ fleiss_kappa: null, fleiss_pairs: 2, krippendorff_alpha: null });
  });

  it("two sources: Bradley–Terry and Davidson match their closed forms", () => {
    // X beats Y 6 times, loses 2, ties 3, one vote per image.
    const outcomes: (string | null)[] = [...Array(6).fill("X"), ...Array(2).fill("Y"), ...Array(3).fill(null)];
    const votes = outcomes.map((winner, i): StudyVoteRecord => ({
      pairId: `q${i}`,
      imageId: `i${i}`,
      kind: "pair",
      a: "X",
      b: "Y",
      left: "X",
      winner,
      voter: "v",
      reasons: [],
      activeMs: 1000,
      durationMs: 1000,
      goldAnswer: null,
      repeatOf: null,
    }));
    const r = studyResults(input({ sources: ["X", "Y"], votes, k: 1, pairsPlanned: 11 }));
    const [x, y] = r.bradley_terry.sources;
    expect(x.score! - y.score!).toBeCloseTo(Math.log(7.5 / 3.5), 8);
    expect(r.davidson!.sources[0].score! - r.davidson!.sources[1].score!).toBeCloseTo(Math.log(6 / 2), 6);
    expect(r.davidson!.tie).toBeCloseTo(3 / Math.sqrt(12), 6);
    expect(studyResults(input({ sources: ["X", "Y"], votes: votes.slice(0, 8), k: 1 })).davidson).toBeNull();
  });

  it("refuses a vote for a source its pair does not have", () => {
    expect(() => studyResults(input({ votes: [vote("p1", "v1", "C", "A")] }))).toThrow(RangeError);
  });
});

describe("resultsTables", () => {
  const r = studyResults(input());
  const tables = resultsTables(r);

  it("flattens every part into rows as wide as their header", () => {
    for (const table of Object.values(tables)) for (const row of table.rows) expect(row).toHaveLength(table.header.length);
    expect(tables.pairs.rows).toHaveLength(3);
    expect(tables.sources.rows.map((x) => x[0])).toEqual(["A", "B", "C"]);
    expect(tables.voters.rows.map((x) => x[0])).toEqual(["v1", "v2", "v3", "v4"]);
    expect(tables.reasons.rows[0]).toEqual(["A", "grounding", 2]);
  });

  it("survives a CSV round trip", () => {
    const parsed = parseCsv(toCsv(tables.pairs.header, tables.pairs.rows));
    expect(parsed[0]).toEqual(tables.pairs.header);
    const ab = Object.fromEntries(parsed[0].map((h, i) => [h, parsed[1][i]]));
    expect(ab).toMatchObject({ a: "A", b: "B", wins: "4", ties: "1", losses: "0", n: "5", win_rate: "1" });
    expect(Number(ab.sign_test_p)).toBe(r.pairs[0].sign_test_p);
    const v2 = parseCsv(toCsv(tables.voters.header, tables.voters.rows))[2];
    expect(v2[0]).toBe("v2");
    expect(v2[v2.length - 1]).toBe("gold fast");
    expect(v2[tables.voters.header.indexOf("flip_rate")]).toBe("0");
    expect(parseCsv(toCsv(tables.voters.header, tables.voters.rows))[3][tables.voters.header.indexOf("flip_rate")]).toBe("");
  });
});

describe("bootstrapBradleyTerryTallied", () => {
  it("gives exactly bootstrapBradleyTerry's intervals from the same seed", () => {
    const random = seededRandom(3);
    const data: Comparison[] = [];
    for (let u = 0; u < 25; u++) {
      for (let k = 0; k < 4; k++) {
        const a = Math.floor(random() * 4);
        const b = (a + 1 + Math.floor(random() * 3)) % 4;
        const x = random();
        // Source 3 rarely wins, so some resamples cannot place it and the fit leaves it out.
        const outcome = b === 3 && x < 0.95 ? "a" : a === 3 && x < 0.95 ? "b" : x < 0.45 ? "a" : x < 0.85 ? "b" : "tie";
        data.push({ a, b, outcome, unit: `u${u}` });
      }
    }
    data.push({ a: 0, b: 1, outcome: "a" }, { a: 2, b: 2, outcome: "tie", unit: "self" }, { a: 1, b: 2, outcome: "tie" });
    for (const seed of [1, 77]) {
      const slow = bootstrapBradleyTerry(4, data, 300, seed);
      expect(bootstrapBradleyTerryTallied(4, data, 300, seed)).toEqual(slow);
      expect(slow.degenerate[3]).toBeGreaterThan(0);
    }
  });
});

describe("performance", () => {
  it("1,000 images × 5 votes, 2 sources, 1,000 resamples", () => {
    const random = seededRandom(5);
    const votes: StudyVoteRecord[] = [];
    for (let i = 0; i < 1000; i++) {
      for (let v = 0; v < 5; v++) {
        const x = random();
        votes.push({
          pairId: `pair${i}`,
          imageId: `img${i}`,
          kind: "pair",
          a: "final",
          b: "vlm:qwen",
          left: random() < 0.5 ? "final" : "vlm:qwen",
          winner: x < 0.5 ? "final" : x < 0.85 ? "vlm:qwen" : null,
          voter: `voter${(i * 5 + v) % 40}`,
          reasons: x < 0.2 ? [{ source: "vlm:qwen", code: "hallucination" }] : [],
          activeMs: 4000 + Math.floor(random() * 4000),
          durationMs: 9000,
          goldAnswer: null,
          repeatOf: null,
        });
      }
    }
    const start = performance.now();
    const r = studyResults({ ...input(), sources: ["final", "vlm:qwen"], k: 5, pairsPlanned: 1000, votes, excluded: new Set(), resamples: 1000, seed: 1 });
    const ms = performance.now() - start;
    console.log(`studyResults: 5,000 votes, 1,000 resamples: ${ms.toFixed(1)} ms`);
    expect(r.votes_counted).toBe(5000);
    expect(r.agreement.fleiss_pairs).toBe(1000);
    for (const x of numbersIn(r)) expect(Number.isFinite(x)).toBe(true);
  });
});
