/**
 * The study statistics against published values: Krippendorff's own worked example, Fleiss' κ as
 * Wikipedia works it, R's binom.test, textbook Wilson intervals, and Bradley–Terry / Davidson
 * fits against closed forms and an independent Newton–Raphson MLE.
 */
import { describe, expect, it } from "vitest";
import { cohenKappa, fleissKappa, krippendorffAlpha } from "../../worker/domain/stats/agreement.ts";
import { bootstrapBradleyTerry, bradleyTerry, davidson, percentile, type Comparison } from "../../worker/domain/stats/paired-comparison.ts";
import { binomialPmf, binomialTest, wilson } from "../../worker/domain/stats/proportions.ts";

describe("Krippendorff's α", () => {
  // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the example with missing
  // values: 4 observers × 12 units; α = 0.743 (nominal), 0.815 (ordinal), 0.849 (interval), 0.797 (ratio).
  const _ = null;
  const data = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
  ];
  it.each([
    ["nominal", 0.743],
    ["ordinal", 0.815],
    ["interval", 0.849],
    ["ratio", 0.797],
  ] as const)("%s: %s", (level, published) => {
    expect(krippendorffAlpha(data, level)).toBeCloseTo(published, 3);
  });
  it("is 1 under perfect agreement and ignores units rated once", () => {
    expect(krippendorffAlpha([["a", "b", "c", "x"], ["a", "b", "c", null]], "nominal")).toBe(1);
  });
});

describe("Fleiss' κ", () => {
  // Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories; κ = 0.210.
  const table = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
  ];
  it("matches the worked example", () => expect(fleissKappa(table)).toBeCloseTo(0.21, 3));
  it("refuses rows with different numbers of ratings", () => expect(() => fleissKappa([[1, 1], [2, 1]])).toThrow(RangeError));
});

describe("Cohen's κ", () => {
  // Cohen's κ on Wikipedia's example: 50 items, yes/yes 20, yes/no 5, no/yes 10, no/no 15 → κ = 0.4.
  const a = [...Array(20).fill("yes"), ...Array(5).fill("yes"), ...Array(10).fill("no"), ...Array(15).fill("no")];
  const b = [...Array(20).fill("yes"), ...Array(5).fill("no"), ...Array(10).fill("yes"), ...Array(15).fill("no")];
  it("matches the worked example", () => expect(cohenKappa(a, b)).toBeCloseTo(0.4, 10));
});

describe("proportions", () => {
  it("the exact two-sided sign test: 37 wins, 23 losses → p = 0.0925 (R: binom.test(37, 60))", () => {
    expect(binomialTest(37, 60)).toBeCloseTo(0.0925, 4);
    expect(binomialTest(30, 60)).toBeCloseTo(1, 10);
    // Asymmetric p: the outcomes no likelier than the observed one, on both sides (R's rule).
    let expected = 0;
    for (let k = 0; k <= 20; k++) if (binomialPmf(k, 20, 0.3) <= binomialPmf(10, 20, 0.3)) expected += binomialPmf(k, 20, 0.3);
    expect(binomialTest(10, 20, 0.3)).toBeCloseTo(expected, 12);
    expect(binomialTest(10, 20, 0.3)).toBeLessThan(2 * [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20].reduce((s, k) => s + binomialPmf(k, 20, 0.3), 0));
  });
  it("binomial probabilities sum to one", () => {
    let total = 0;
    for (let k = 0; k <= 200; k++) total += binomialPmf(k, 200, 0.37);
    expect(total).toBeCloseTo(1, 12);
  });
  it("Wilson intervals: 81 of 263 → [0.255, 0.366] (Wilson 1927 as Newcombe 1998 tabulates, method 3)", () => {
    const w = wilson(81, 263);
    expect(w.low).toBeCloseTo(0.2553, 4);
    expect(w.high).toBeCloseTo(0.3662, 4);
    expect(wilson(0, 10).low).toBe(0);
    expect(wilson(0, 10).high).toBeCloseTo(0.2775, 4);
  });
});

/** An independent MLE of Bradley–Terry with ties as half: Newton–Raphson on θ with θ_0 = 0. */
function newtonBradleyTerry(sources: number, comparisons: Comparison[]): number[] {
  const n = Array.from({ length: sources }, () => new Array<number>(sources).fill(0));
  const w = new Array<number>(sources).fill(0);
  for (const c of comparisons) {
    n[c.a][c.b]++;
    n[c.b][c.a]++;
    if (c.outcome === "a") w[c.a]++;
    else if (c.outcome === "b") w[c.b]++;
    else (w[c.a] += 0.5), (w[c.b] += 0.5);
  }
  const theta = new Array<number>(sources).fill(0);
  for (let iter = 0; iter < 100; iter++) {
    const free = sources - 1;
    const g = new Array<number>(free).fill(0);
    const h = Array.from({ length: free }, () => new Array<number>(free).fill(0));
    for (let i = 1; i < sources; i++) {
      g[i - 1] = w[i];
      for (let j = 0; j < sources; j++) {
        if (j === i || n[i][j] === 0) continue;
        const p = 1 / (1 + Math.exp(theta[j] - theta[i]));
        g[i - 1] -= n[i][j] * p;
        h[i - 1][i - 1] -= n[i][j] * p * (1 - p);
        if (j > 0) h[i - 1][j - 1] += n[i][j] * p * (1 - p);
      }
    }
    // Solve h·d = -g by Gaussian elimination.
    const m = h.map((row, r) => [...row, -g[r]]);
    for (let col = 0; col < free; col++) {
      let pivot = col;
      for (let r = col + 1; r < free; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
      [m[col], m[pivot]] = [m[pivot], m[col]];
      for (let r = 0; r < free; r++) {
        if (r === col) continue;
        const f = m[r][col] / m[col][col];
        for (let k = col; k <= free; k++) m[r][k] -= f * m[col][k];
      }
    }
    for (let i = 1; i < sources; i++) theta[i] += m[i - 1][free] / m[i - 1][i - 1];
  }
  const mean = theta.reduce((a, b) => a + b, 0) / sources;
  return theta.map((t) => t - mean);
}

function votes(spec: [number, number, number, number, number][]): Comparison[] {
  // [a, b, wins of a, wins of b, ties]
  const out: Comparison[] = [];
  let unit = 0;
  for (const [a, b, wa, wb, t] of spec) {
    for (let i = 0; i < wa; i++) out.push({ a, b, outcome: "a", unit: `u${unit++ % 37}` });
    for (let i = 0; i < wb; i++) out.push({ a, b, outcome: "b", unit: `u${unit++ % 37}` });
    for (let i = 0; i < t; i++) out.push({ a, b, outcome: "tie", unit: `u${unit++ % 37}` });
  }
  return out;
}

describe("Bradley–Terry", () => {
  it("two sources: the strength ratio is (wins + ties/2) / (losses + ties/2)", () => {
    const fit = bradleyTerry(2, votes([[0, 1, 30, 10, 8]]));
    expect(fit.converged).toBe(true);
    expect(fit.scores[0]! - fit.scores[1]!).toBeCloseTo(Math.log(34 / 14), 10);
  });
  it("equals an independent Newton–Raphson MLE to 1e-6 on four sources", () => {
    const data = votes([
      [0, 1, 12, 7, 3],
      [0, 2, 9, 9, 2],
      [0, 3, 15, 4, 1],
      [1, 2, 6, 10, 4],
      [1, 3, 11, 5, 0],
      [2, 3, 13, 6, 2],
    ]);
    const fit = bradleyTerry(4, data);
    const reference = newtonBradleyTerry(4, data);
    fit.scores.forEach((s, i) => expect(Math.abs(s! - reference[i])).toBeLessThan(1e-6));
    expect(fit.elo[0]! - fit.elo[1]!).toBeCloseTo((400 / Math.LN10) * (reference[0] - reference[1]), 6);
  });
  it("leaves out a source that never wins, and fits the rest", () => {
    const fit = bradleyTerry(3, votes([[0, 1, 5, 5, 0], [0, 2, 6, 0, 0], [1, 2, 4, 0, 0]]));
    expect(fit.scores[2]).toBeNull();
    expect(fit.scores[0]).toBeCloseTo(0, 10);
  });
  it("bootstrap intervals by unit are reproducible from the seed and cover the estimate", () => {
    const data = votes([[0, 1, 40, 20, 10], [0, 2, 30, 30, 5], [1, 2, 20, 35, 5]]);
    const a = bootstrapBradleyTerry(3, data, 200, 7);
    const b = bootstrapBradleyTerry(3, data, 200, 7);
    expect(a).toEqual(b);
    const fit = bradleyTerry(3, data);
    a.scores.forEach((ci, i) => {
      expect(ci!.low).toBeLessThan(fit.scores[i]!);
      expect(ci!.high).toBeGreaterThan(fit.scores[i]!);
    });
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
  });
});

describe("Davidson's tie model", () => {
  it("two sources: π₁/π₂ = wins/losses and ν = ties/√(wins·losses), the frequencies it must reproduce", () => {
    const fit = davidson(2, votes([[0, 1, 30, 10, 8]]));
    expect(fit.converged).toBe(true);
    expect(fit.scores[0]! - fit.scores[1]!).toBeCloseTo(Math.log(30 / 10), 8);
    expect(fit.tie).toBeCloseTo(8 / Math.sqrt(300), 8);
  });
  it("its score equations vanish at the fit on four sources", () => {
    const data = votes([[0, 1, 12, 7, 3], [0, 2, 9, 9, 2], [0, 3, 15, 4, 1], [1, 2, 6, 10, 4], [1, 3, 11, 5, 0], [2, 3, 13, 6, 2]]);
    const fit = davidson(4, data);
    const pi = fit.scores.map((s) => Math.exp(s!));
    const loglik = (p: number[], nu: number) =>
      data.reduce((sum, c) => {
        const d = p[c.a] + p[c.b] + nu * Math.sqrt(p[c.a] * p[c.b]);
        return sum + Math.log((c.outcome === "a" ? p[c.a] : c.outcome === "b" ? p[c.b] : nu * Math.sqrt(p[c.a] * p[c.b])) / d);
      }, 0);
    const h = 1e-6;
    const base = loglik(pi, fit.tie);
    for (let i = 0; i < 4; i++) {
      const bumped = pi.map((p, j) => (j === i ? p * Math.exp(h) : p));
      expect(Math.abs((loglik(bumped, fit.tie) - base) / h)).toBeLessThan(1e-4);
    }
    expect(Math.abs((loglik(pi, fit.tie + h) - base) / h)).toBeLessThan(1e-4);
  });
});
