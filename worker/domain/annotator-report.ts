import { TIME_BUCKETS } from "./progress-report.ts";

/**
 * Per person and round, from their counters alone: work done, its fate, time, and edit effort
 * against the draft, with a flag for likely rubber-stamping. Pure.
 */
export interface PersonCounter {
  subject: string;
  round: number;
  metric: string;
  value: number;
}

/** Likely rubber-stamping: nearly every region left as drafted, in very little time, over enough tasks to tell. */
export const RUBBER_STAMP = { minTasks: 3, minUnchangedShare: 0.95, maxMeanSeconds: 20 };

export const ANNOTATOR_SORTS = ["tasks", "acceptance_rate", "mean_seconds", "edit_rate_mean", "unchanged_share", "peer_rouge_l_mean", "consolidated_agreement", "last_active_at", "subject"] as const;
export type AnnotatorSort = (typeof ANNOTATOR_SORTS)[number];

export function annotatorRows(rows: readonly PersonCounter[]) {
  const people = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const k = `${r.round}\u0000${r.subject}`;
    let m = people.get(k);
    if (!m) people.set(k, (m = new Map()));
    m.set(r.metric, (m.get(r.metric) ?? 0) + r.value);
  }
  return [...people.entries()].map(([k, m]) => {
    const [round, subject] = k.split("\u0000");
    const g = (metric: string) => m.get(metric) ?? 0;
    const tasks = g("tasks");
    const accepted = g("accepted");
    const rejected = g("rejected");
    const judged = g("regions") - g("regions_skipped");
    const meanSeconds = tasks > 0 ? g("time_ms") / tasks / 1000 : null;
    const unchanged = judged > 0 ? g("regions_unchanged") / judged : null;
    let seen = 0;
    let median: number | null = null;
    for (const upper of TIME_BUCKETS) {
      seen += g(`time_bucket:${upper}`);
      if (tasks > 0 && seen >= tasks / 2) {
        median = upper === "inf" ? null : Number(upper);
        break;
      }
    }
    const lastActive = g("last_active");
    return {
      subject,
      round: Number(round),
      tasks,
      accepted,
      rejected,
      acceptance_rate: accepted + rejected > 0 ? accepted / (accepted + rejected) : null,
      time_seconds_total: g("time_ms") / 1000,
      mean_seconds: meanSeconds,
      median_at_most_seconds: median,
      active_seconds_total: g("active_seconds"),
      edit_rate_mean: tasks > 0 ? g("edit_rate_sum") / tasks : null,
      edit_distance_total: g("edit_distance"),
      unchanged_share: unchanged,
      rubber_stamp:
        tasks >= RUBBER_STAMP.minTasks && unchanged !== null && unchanged >= RUBBER_STAMP.minUnchangedShare && meanSeconds !== null && meanSeconds <= RUBBER_STAMP.maxMeanSeconds,
      peer_bleu4_mean: g("peer_n") > 0 ? g("peer_bleu4") / g("peer_n") : null,
      peer_rouge_l_mean: g("peer_n") > 0 ? g("peer_rouge_l") / g("peer_n") : null,
      consolidated_agreement: g("consolidated") > 0 ? g("consolidated_same") / g("consolidated") : null,
      reviews: g("reviews"),
      review_rejections: g("review_rejections"),
      last_active_at: lastActive > 0 ? new Date(lastActive).toISOString() : null,
    };
  });
}

export type AnnotatorRow = ReturnType<typeof annotatorRows>[number];

/** Sorted by one column (nulls last whichever the order), ties by subject then round, so pages are stable. */
export function sortAnnotators(rows: AnnotatorRow[], by: AnnotatorSort, order: "asc" | "desc"): AnnotatorRow[] {
  const sign = order === "asc" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = a[by];
    const y = b[by];
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      const c = typeof x === "string" ? x.localeCompare(y as string) : (x as number) - (y as number);
      if (c !== 0) return sign * c;
    }
    return a.subject.localeCompare(b.subject) || a.round - b.round;
  });
}
