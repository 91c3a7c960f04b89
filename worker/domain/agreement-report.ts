import { counterTotals } from "./counter-totals.ts";
import type { CounterRow } from "./progress-report.ts";

const FIELDS = ["bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider_d", "edit_distance"] as const;

/**
 * The overlap sample's agreement, from the sums each consolidation added (domain/region-agreement.ts):
 * mean text similarity of each annotator's region texts to the others', by thing and stuff; the
 * mean Krippendorff α over images; and a member × member matrix of raw agreement on the per-region
 * action and mean Cohen's κ. Pure.
 */
/** Members shown in the matrix by default: the most-scored ones (the matrix grows with the square). */
export const MATRIX_MEMBERS = 40;

/** The members a matrix shows: those asked for, else the `limit` scored on the most images (ties by name). */
export function matrixMembers(rows: readonly CounterRow[], limit: number, asked: readonly string[] | null): { members: string[]; total: number } {
  const t = counterTotals(rows);
  const all = [...t.dims("agree_member_images")];
  const members = asked ? asked.filter((m) => all.includes(m)) : all.sort((a, b) => t.get("agree_member_images", b) - t.get("agree_member_images", a) || a.localeCompare(b)).slice(0, limit);
  return { members: members.sort(), total: all.length };
}

/** Every "a|b" pair key among `members`, a before b as the counters keep them. */
export function pairKeys(members: readonly string[]): string[] {
  const sorted = [...members].sort();
  const out: string[] = [];
  for (let i = 0; i < sorted.length; i++) for (let j = i + 1; j < sorted.length; j++) out.push(`${sorted[i]}|${sorted[j]}`);
  return out;
}

export function agreementReport(rows: readonly CounterRow[], shown?: { members: string[]; total: number }) {
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
    members: shown?.members ?? [...new Set(matrix.flatMap((m) => [m.a, m.b]))].sort(),
    members_total: shown?.total ?? new Set(matrix.flatMap((m) => [m.a, m.b])).size,
    matrix,
  };
}
