/**
 * A project's progress from its counters alone (no scan of tasks, submissions or captions): the
 * funnel per round, work in progress, throughput per day, burn-down with an ETA, rejection rate,
 * time per task and the VLM ledger. Pure: the counters in, the report out.
 */
export interface CounterRow {
  metric: string;
  dim: string;
  day: string;
  value: number;
}

export interface Price {
  inputPerMillion: number;
  outputPerMillion: number;
}

/** Upper bounds (seconds) of the time-per-task histogram buckets the counters keep. */
export const TIME_BUCKETS = ["15", "30", "60", "120", "300", "600", "1200", "3600", "inf"] as const;

/** Days of recent throughput the ETA extrapolates from. */
export const ETA_WINDOW_DAYS = 7;

export function progressReport(rows: readonly CounterRow[], now: number, prices: Readonly<Record<string, Price>> = {}) {
  const total = new Map<string, number>();
  const daily = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const k = `${r.metric}|${r.dim}`;
    if (r.day === "") total.set(k, (total.get(k) ?? 0) + r.value);
    else {
      let m = daily.get(r.day);
      if (!m) daily.set(r.day, (m = new Map()));
      m.set(k, (m.get(k) ?? 0) + r.value);
    }
  }
  const t = (metric: string, dim = "") => total.get(`${metric}|${dim}`) ?? 0;
  const rounds = [1, 2].map((round) => {
    const edit = `${round}:edit`;
    const review = `${round}:review`;
    const accepted = t("accepted", edit);
    const rejected = t("rejected", edit);
    return {
      round,
      drafts: { ready: t("draft_ready", String(round)), partial: t("draft_partial", String(round)), failed: t("draft_failed", String(round)) },
      tasks: {
        created: t("tasks_created", edit),
        claimed: t("claimed", edit),
        submitted: t("submitted", edit),
        accepted,
        rejected,
        expired: t("expired", edit),
        released: t("released", edit),
      },
      consolidated: t("consolidated", String(round)),
      rejection_rate: accepted + rejected > 0 ? rejected / (accepted + rejected) : null,
      in_progress: {
        held: t("status:held", edit),
        open: t("status:open", edit),
        leased: t("status:leased", edit),
        awaiting_review: t("status:submitted", edit),
        review_leased: t("status:leased", review),
        review_open: t("status:open", review),
      },
      time: timeOf(t, String(round), t("time_ms", String(round))),
    };
  });

  const days = [...daily.keys()].sort();
  const perDay = days.map((d) => {
    const m = daily.get(d)!;
    const g = (metric: string, dim = "") => m.get(`${metric}|${dim}`) ?? 0;
    return {
      day: d,
      images: g("images"),
      submitted: g("submitted", "1:edit") + g("submitted", "2:edit"),
      accepted: g("accepted", "1:edit") + g("accepted", "2:edit"),
      rejected: g("rejected", "1:edit") + g("rejected", "2:edit"),
      created: g("tasks_created", "1:edit") + g("tasks_created", "2:edit"),
      finals: g("finals"),
      votes: [...m.entries()].filter(([k]) => k.startsWith("votes|")).reduce((s, [, v]) => s + v, 0),
    };
  });

  // Burn-down: edit work not yet accepted, at the end of each day, walked back from now.
  const remainingNow = rounds.reduce((s, r) => s + r.in_progress.held + r.in_progress.open + r.in_progress.leased + r.in_progress.awaiting_review, 0);
  const burndown: { day: string; remaining: number }[] = [];
  let remaining = remainingNow;
  for (let i = perDay.length - 1; i >= 0; i--) {
    burndown.unshift({ day: perDay[i].day, remaining });
    remaining = remaining + perDay[i].accepted - perDay[i].created;
  }
  const today = new Date(now).toISOString().slice(0, 10);
  const windowStart = new Date(now - (ETA_WINDOW_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
  const recent = perDay.filter((d) => d.day >= windowStart && d.day <= today).reduce((s, d) => s + d.accepted, 0);
  const rate = recent / ETA_WINDOW_DAYS;
  const etaDays = remainingNow === 0 ? 0 : rate > 0 ? remainingNow / rate : null;

  const ledger = new Map<string, { provider: string; model: string; prompt: string; calls: number; failures: number; retries: number; dead_letters: number; tokens_in: number; tokens_out: number }>();
  for (const [k, v] of total) {
    const [metric, dim] = splitKey(k);
    if (!metric.startsWith("vlm_")) continue;
    let e = ledger.get(dim);
    if (!e) {
      const [provider, model, prompt] = dim.split("|");
      ledger.set(dim, (e = { provider, model, prompt: prompt ?? "", calls: 0, failures: 0, retries: 0, dead_letters: 0, tokens_in: 0, tokens_out: 0 }));
    }
    const field = metric.slice(4) as "calls" | "failures" | "retries" | "dead_letters" | "tokens_in" | "tokens_out";
    e[field] += v;
  }
  const vlm = [...ledger.values()]
    .sort((a, b) => `${a.provider}|${a.model}|${a.prompt}`.localeCompare(`${b.provider}|${b.model}|${b.prompt}`))
    .map((e) => {
      const price = prices[e.model];
      return { ...e, cost: price ? (e.tokens_in * price.inputPerMillion + e.tokens_out * price.outputPerMillion) / 1e6 : null };
    });

  return {
    generated_at: new Date(now).toISOString(),
    images: t("images"),
    segments: t("segments"),
    finals: t("finals"),
    final_versions: t("final_versions"),
    stale: t("stale"),
    rounds,
    per_day: perDay,
    burndown,
    eta: {
      remaining: remainingNow,
      accepted_per_day: rate,
      window_days: ETA_WINDOW_DAYS,
      days: etaDays,
      date: etaDays === null ? null : new Date(now + etaDays * 86_400_000).toISOString().slice(0, 10),
    },
    vlm,
  };
}

export type ProgressReport = ReturnType<typeof progressReport>;

const splitKey = (k: string): [string, string] => {
  const at = k.indexOf("|");
  return [k.slice(0, at), k.slice(at + 1)];
};

/** Mean time per submission, and the histogram bucket that holds the median (exact times are not kept). */
function timeOf(t: (metric: string, dim?: string) => number, round: string, timeMs: number) {
  const buckets = TIME_BUCKETS.map((upper) => ({ upper_seconds: upper === "inf" ? null : Number(upper), count: t(`time_bucket:${upper}`, round) }));
  const n = buckets.reduce((s, b) => s + b.count, 0);
  const submissions = n;
  let seen = 0;
  let median: number | null = null;
  let medianKnown = false;
  for (const b of buckets) {
    seen += b.count;
    if (n > 0 && seen >= n / 2) {
      median = b.upper_seconds;
      medianKnown = true;
      break;
    }
  }
  return {
    submissions,
    mean_seconds: submissions > 0 ? timeMs / submissions / 1000 : null,
    median_at_most_seconds: medianKnown ? median : null,
    histogram: buckets,
  };
}
