import { counterTotals } from "./counter-totals.ts";
import type { CounterRow } from "./progress-report.ts";

/** COCONut-PanCap's own row of its Table 1, to set a project beside: samples, words per caption, masks per image. */
export const PANCAP_TABLE1 = { samples: 118_000, words: 203, masks: 13.2 } as const;

/** Nouns listed, most frequent first (the paper's Fig. 4 shows its top nouns the same way). */
export const TOP_NOUNS = 50;

/** What the final captions look like, from counters kept as each caption became final. Pure. */
export function datasetReport(rows: readonly CounterRow[]) {
  const t = counterTotals(rows);
  const total = (metric: string) => t.get(metric);
  const histogram = (metric: string, uppers: readonly string[]) => uppers.map((u) => ({ upper: u === "inf" ? null : Number(u), count: t.get(metric, u) }));
  const captions = total("ds_captions");
  const images = total("images");
  const per = (x: number) => (captions > 0 ? x / captions : null);
  const nouns = t
    .dims("noun")
    .map((noun) => ({ noun, count: t.get("noun", noun) }))
    .filter((n) => n.count > 0)
    .sort((a, b) => b.count - a.count || a.noun.localeCompare(b.noun))
    .slice(0, TOP_NOUNS);
  const wordBuckets = ["50", "100", "150", "200", "250", "300", "350", "400", "inf"];
  const shareBuckets = ["10", "20", "30", "40", "50", "60", "70", "80", "90", "100"];
  return {
    final_captions: captions,
    images,
    words: { mean: per(total("ds_words")), histogram: histogram("ds_words_bucket", wordBuckets) },
    masks_per_image: images > 0 ? total("segments") / images : null,
    masks_per_captioned_image: per(total("ds_masks")),
    grounded_masks_per_caption: per(total("ds_grounded")),
    coverage: {
      segments_mean: per(total("ds_cov_segments")),
      things_mean: per(total("ds_cov_things")),
      area_mean: per(total("ds_cov_area")),
      segments_histogram: histogram("ds_cov_segments_bucket", shareBuckets).map((b) => ({ upper_percent: b.upper, count: b.count })),
      area_histogram: histogram("ds_cov_area_bucket", shareBuckets).map((b) => ({ upper_percent: b.upper, count: b.count })),
    },
    top_nouns: nouns,
    paper: PANCAP_TABLE1,
  };
}
