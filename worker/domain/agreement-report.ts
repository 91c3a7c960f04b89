import { counterTotals } from "./counter-totals.ts";
import type { CounterRow } from "./progress-report.ts";

const FIELDS = ["bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider_d", "edit_distance"] as const;

/**
 * The overlap sample's agreement, from the sums each consolidation added (domain/region-agreement.ts):
 * mean text similarity of each annotator's region texts to the others', by thing and stuff; the
 * mean Krippendorff α over images; and a member × member matrix of raw agreement on the per-region
 * action and mean Cohen's κ. Pure.
 */
export function agreementReport(rows: readonly CounterRow[]) {
  const t = counterTotals(rows);
  const sum = (metric: string, dim = "") => t.get(metric, dim);
  const kind = (k: "thing" | "stuff") => {
    const n = sum("agree_n", k);
    return { texts: n, ...Object.fromEntries(FIELDS.map((f) => [f, n > 0 ? sum(`agree_${f}`, k) / n : null])) } as { texts: number } & Record<(typeof FIELDS)[number], number | null>;
  };
  const dims = [...t.dims("agree_pair_images")].sort();
  const matrix = dims.map((dim) => {
    const [a, b] = dim.split("|");
    const shared = sum("agree_pair_shared", dim);
    const kappas = sum("agree_pair_kappa_n", dim);
    return {
      a,
      b,
      images: sum("agree_pair_images", dim),
      shared_regions: shared,
      raw_agreement: shared > 0 ? sum("agree_pair_same", dim) / shared : null,
      kappa_mean: kappas > 0 ? sum("agree_pair_kappa_sum", dim) / kappas : null,
      kappa_images: kappas,
    };
  });
  const alphas = sum("agree_alpha_n");
  return {
    images: sum("agree_images"),
    alpha_mean: alphas > 0 ? sum("agree_alpha_sum") / alphas : null,
    thing: kind("thing"),
    stuff: kind("stuff"),
    members: [...new Set(matrix.flatMap((m) => [m.a, m.b]))].sort(),
    matrix,
  };
}
