/**
 * Agreement between raters, as content-analysis and annotation papers report it: Fleiss' κ (many
 * raters, each unit rated by the same number), Cohen's κ (two raters), and Krippendorff's α (any
 * number of raters, missing ratings allowed, four levels of measurement).
 */

/**
 * Fleiss' κ from a units × categories table of counts (each row: how many raters chose each
 * category for that unit; every row must sum to the same number of raters, at least 2).
 */
export function fleissKappa(table: readonly (readonly number[])[]): number {
  if (table.length === 0) return NaN;
  const raters = table[0].reduce((a, b) => a + b, 0);
  if (raters < 2 || table.some((row) => row.reduce((a, b) => a + b, 0) !== raters)) throw new RangeError("every unit needs the same number of ratings, at least 2");
  const units = table.length;
  const categories = table[0].length;
  const share = Array.from({ length: categories }, (_, j) => table.reduce((sum, row) => sum + row[j], 0) / (units * raters));
  const perUnit = table.map((row) => (row.reduce((sum, n) => sum + n * n, 0) - raters) / (raters * (raters - 1)));
  const observed = perUnit.reduce((a, b) => a + b, 0) / units;
  const chance = share.reduce((sum, p) => sum + p * p, 0);
  return chance === 1 ? 1 : (observed - chance) / (1 - chance);
}

/** Cohen's κ of two raters' labels on the same units (pairs with a missing label are left out). */
export function cohenKappa<T>(a: readonly (T | null)[], b: readonly (T | null)[]): number {
  const pairs: [T, T][] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== null && b[i] !== null) pairs.push([a[i] as T, b[i] as T]);
  if (pairs.length === 0) return NaN;
  const n = pairs.length;
  const agree = pairs.filter(([x, y]) => x === y).length / n;
  const countA = new Map<T, number>();
  const countB = new Map<T, number>();
  for (const [x, y] of pairs) {
    countA.set(x, (countA.get(x) ?? 0) + 1);
    countB.set(y, (countB.get(y) ?? 0) + 1);
  }
  let chance = 0;
  for (const [label, na] of countA) chance += (na / n) * ((countB.get(label) ?? 0) / n);
  return chance === 1 ? 1 : (agree - chance) / (1 - chance);
}

export type AlphaLevel = "nominal" | "ordinal" | "interval" | "ratio";

/**
 * Krippendorff's α over a raters × units matrix of values (null: missing), following Krippendorff
 * (2011), "Computing Krippendorff's Alpha-Reliability": the coincidence matrix over pairable
 * values (units with at least two), observed against expected disagreement under the level's
 * difference function. Ordinal and nominal values may be any values; interval and ratio numbers.
 */
export function krippendorffAlpha(ratings: readonly (readonly (number | string | null)[])[], level: AlphaLevel = "nominal"): number {
  const unitCount = Math.max(0, ...ratings.map((r) => r.length));
  const values: (number | string)[] = [];
  const units: (number | string)[][] = [];
  for (let u = 0; u < unitCount; u++) {
    const unit = ratings.map((r) => r[u]).filter((v): v is number | string => v !== null && v !== undefined);
    if (unit.length >= 2) units.push(unit);
  }
  for (const unit of units) for (const v of unit) if (!values.includes(v)) values.push(v);
  if (level !== "nominal") values.sort((x, y) => Number(x) - Number(y));
  const index = new Map(values.map((v, i) => [v, i]));
  const k = values.length;
  const o = Array.from({ length: k }, () => new Float64Array(k));
  for (const unit of units) {
    const m = unit.length;
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (i !== j) o[index.get(unit[i])!][index.get(unit[j])!] += 1 / (m - 1);
  }
  const nc = o.map((row) => row.reduce((a, b) => a + b, 0));
  const n = nc.reduce((a, b) => a + b, 0);
  if (n === 0) return NaN;
  const delta = differenceFunction(level, values, nc);
  let observed = 0;
  let expected = 0;
  for (let c = 0; c < k; c++) {
    for (let d = 0; d < k; d++) {
      const dd = delta(c, d);
      observed += o[c][d] * dd;
      expected += nc[c] * nc[d] * dd;
    }
  }
  if (expected === 0) return 1;
  return 1 - ((n - 1) * observed) / expected;
}

function differenceFunction(level: AlphaLevel, values: readonly (number | string)[], nc: readonly number[]): (c: number, k: number) => number {
  switch (level) {
    case "nominal":
      return (c, k) => (c === k ? 0 : 1);
    case "interval":
      return (c, k) => (Number(values[c]) - Number(values[k])) ** 2;
    case "ratio":
      return (c, k) => {
        const a = Number(values[c]);
        const b = Number(values[k]);
        return a + b === 0 ? 0 : ((a - b) / (a + b)) ** 2;
      };
    case "ordinal":
      return (c, k) => {
        const [lo, hi] = c < k ? [c, k] : [k, c];
        let sum = 0;
        for (let g = lo; g <= hi; g++) sum += nc[g];
        return (sum - (nc[c] + nc[k]) / 2) ** 2;
      };
  }
}
