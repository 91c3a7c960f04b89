/**
 * Interval estimates and exact tests for proportions, as a study reports them: win rates with
 * Wilson score intervals, and the exact two-sided binomial (sign) test.
 */

/** Standard normal quantile for a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

/** Wilson score interval of k successes in n trials (NaN estimate and [0, 1] when n = 0). */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (n === 0) return { estimate: NaN, low: 0, high: 1 };
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { estimate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** log C(n, k), exact enough for n in the millions (sums of logs would drift). */
function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** Lanczos approximation (g = 7, n = 9): relative error below 1e-15 on the positive reals. */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(X = k) for X ~ Binomial(n, p). */
export function binomialPmf(k: number, n: number, p: number): number {
  if (k < 0 || k > n) return 0;
  if (p === 0) return k === 0 ? 1 : 0;
  if (p === 1) return k === n ? 1 : 0;
  return Math.exp(logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p));
}

/**
 * Exact two-sided binomial test of k successes in n against p (R's binom.test): the probability of
 * every outcome no more likely than the one observed. With p = 1/2 this is the sign test.
 */
export function binomialTest(k: number, n: number, p = 0.5): number {
  if (n === 0) return 1;
  const observed = binomialPmf(k, n, p);
  // R's relative tolerance, so outcomes equally likely up to rounding count as "as extreme".
  const bound = observed * (1 + 1e-7);
  let total = 0;
  for (let i = 0; i <= n; i++) {
    const q = binomialPmf(i, n, p);
    if (q <= bound) total += q;
  }
  return Math.min(1, total);
}
