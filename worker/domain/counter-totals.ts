import type { CounterRow } from "./progress-report.ts";

/**
 * Counter totals (the rows with no day) indexed once by metric and dimension: a report then looks
 * each figure up instead of filtering every row for every figure, which at 118K images (tens of
 * thousands of counter rows, thousands of figures) is the difference between milliseconds and a minute.
 */
export function counterTotals(rows: readonly CounterRow[]) {
  const totals = new Map<string, number>();
  const dims = new Map<string, string[]>();
  for (const r of rows) {
    if (r.day !== "") continue;
    const k = `${r.metric}\u0000${r.dim}`;
    const had = totals.get(k);
    totals.set(k, (had ?? 0) + r.value);
    if (had === undefined) {
      const list = dims.get(r.metric);
      if (list) list.push(r.dim);
      else dims.set(r.metric, [r.dim]);
    }
  }
  return {
    get: (metric: string, dim = "") => totals.get(`${metric}\u0000${dim}`) ?? 0,
    /** The dimensions a metric has totals for. */
    dims: (metric: string): readonly string[] => dims.get(metric) ?? [],
  };
}
