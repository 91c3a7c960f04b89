/**
 * Seeds a report benchmark straight into the local D1 database that `wrangler dev --persist-to`
 * uses: one project with `images` images and 90 days (`days`) of campaign history behind it, written
 * into the SOURCE tables, row by row, in the order the Worker writes them, so that the counter
 * triggers of migrations 0012–0014 fill `report_counters` and `annotator_counters` exactly as they
 * do in production (that is the write path the reports read from; nothing writes a counter here).
 *
 * The campaign, deterministic from (projectId, images):
 * - ingest in 8 batches over the first 5 weeks; ~12.7 segments per image (log-normal, 1…60), the
 *   COCO-panoptic categories, things before stuff;
 * - a model provider (`openai`, two models: the first until day 30, the second after, with prices),
 *   round-1 drafts requested at ingest (`pending` → `ready`/`partial`/`failed` by update), their
 *   `vlm_calls` (retries, failures, a few dead letters), round-2 merge drafts at consolidation;
 * - round-1 edit tasks held for their draft, opened by it (or the template fallback after the
 *   wait), claimed in queue order at a daily throughput that ramps up over two weeks and dips at
 *   weekends, so that ~93 % of the images are through round 1 on the last day; 5 % of the images
 *   (`overlapShare`, by the Worker's own hash) get 3 round-1 annotators;
 * - 500 annotators (`annotators`) who join over the first ten weeks, some leave, with log-normal
 *   activity, speed and varied edit habits (2 % rubber-stampers: fast, nearly nothing changed,
 *   rejected more often); leases that expire (swept back to open) or are released; every
 *   submission reviewed (a review task, leased by one of 25 reviewers), ~4 % rejected with a
 *   rework task at the head of the queue;
 * - consolidation of round 1 (with an `image_agreement` record for each overlap image), round-2
 *   tasks, round-2 submissions and reviews, final captions (versions, stats with a few thousand
 *   distinct Zipf-distributed head nouns, coverage), a few revised (a second version: the
 *   dataset triggers take the old figures out) and a few flagged stale;
 * - one pairwise study whose votes fall in the last three weeks.
 * The history ends at `now`: whatever would happen later did not happen yet (tasks stay open,
 * leased, submitted; drafts pending), so the funnel, the burn-down and the ETA have something to say.
 *
 * Not seeded (no report reads them, and they would only add volume): region texts, the texts of
 * submissions and drafts (`regions` is `[]`), full caption texts (a short placeholder; stats and
 * coverage are what the reports use), renders, ballots, idempotency rows.
 *
 * The database must exist (migrations applied) and no server may have it open.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { ProjectSettingsSchema } from "../../schema/project-settings.ts";
import { StudyDesignSchema } from "../../schema/study-design.ts";
import { COCO_PANOPTIC_CATEGORIES } from "../../worker/domain/coco-categories.ts";
import { inOverlapSample } from "../../worker/domain/lease.ts";
import { MERGE_PROMPT, ROUND1_PROMPT } from "../../worker/vlm/prompts.ts";
import { sequentialId } from "./seed-tasks.ts";

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

export const MODELS = ["Qwen/Qwen2-VL-7B-Instruct", "Qwen/Qwen2.5-VL-72B-Instruct"] as const;
/** The day the project switches from the first model to the second. */
const MODEL_SWITCH_DAY = 30;
/** Share of images through round 1 (claimed) by the last day. */
const ROUND1_DONE = 0.93;
const REVIEWERS = 25;
const NOUNS = 3000;

export interface ReportSeedOptions {
  projectId: string;
  images: number;
  annotators: number;
  days: number;
  /** The end of the history (ms). */
  now: number;
  createdBy: string;
  overlapShare: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ReportSeedResult {
  projectId: string;
  rows: Record<string, number>;
  segments: number;
  ms: number;
  /** Of `ms`: the segments alone, and ANALYZE. */
  segmentsMs: number;
  analyzeMs: number;
  fileBytes: number;
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  uniform(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(this.normal(0, sigma));
  }
  exp(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Index of the first cumulative weight above `x` (binary search). */
function searchCumulative(cum: Float64Array | number[], x: number): number {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary: the head nouns of grounded phrases, Zipf-distributed

const COMMON_NOUNS = (
  "man woman boy girl child people table chair window door wall floor ceiling road street sidewalk building house roof sky cloud tree grass " +
  "bush flower plant field mountain hill river lake sea water beach sand rock stone fence pole sign light lamp car bus truck bicycle motorcycle " +
  "train boat plane dog cat horse bird cow sheep shirt jacket hat cap bag backpack umbrella phone laptop screen keyboard book cup glass bottle " +
  "plate bowl food pizza sandwich cake fruit banana apple orange vegetable counter cabinet shelf kitchen sink oven refrigerator bed pillow " +
  "blanket couch sofa rug carpet curtain mirror picture painting frame clock vase basket box board bench railing stairs bridge tower park " +
  "path trail snow ice shadow reflection background foreground corner edge side center top bottom surface pattern stripe logo letter word " +
  "number helmet glove shoe boot jeans pants skirt dress hair face hand arm leg head eye mouth tail wing wheel tire seat handle cord wire " +
  "cable pipe vent tile brick plank beam column arch dome wave shore dock pier crowd player ball bat racket net court goal kite skateboard surfboard"
).split(" ");

function buildNouns(n: number): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (w: string) => {
    if (!seen.has(w)) {
      seen.add(w);
      out.push(w);
    }
  };
  for (const w of COMMON_NOUNS) add(w);
  for (const c of COCO_PANOPTIC_CATEGORIES) add(c.name.replace(/-(merged|other|stuff)/g, "").split("-").at(-1)!);
  // The long tail: pronounceable made-up nouns, deterministic.
  const C = "bcdfghklmnprstvz";
  const V = "aeiou";
  for (let k = 0; out.length < n; k++) {
    let w = "";
    let x = k + 7919;
    const syllables = 2 + (k % 3);
    for (let s = 0; s < syllables; s++) {
      w += C[x % C.length] + V[Math.floor(x / C.length) % V.length];
      x = Math.floor(x / (C.length * V.length)) + 31 * (s + 1) + k;
    }
    add(w + (k % 4 === 0 ? "n" : ""));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// People

interface Person {
  subject: string;
  weight: number;
  speed: number;
  /** Round 1: share of regions left as drafted. */
  keep: number;
  /** Round 2: edit rate on the merge draft. */
  editRate2: number;
  reject: number;
  stamper: boolean;
  join: number;
  leave: number;
}

class Pool {
  readonly people: Person[];
  private readonly byDay: { idx: Int32Array; cum: Float64Array }[];
  constructor(people: Person[], days: number) {
    this.people = people;
    this.byDay = Array.from({ length: days }, (_, d) => {
      const idx = people.map((_, k) => k).filter((k) => people[k].join <= d && people[k].leave > d);
      const cum = new Float64Array(idx.length);
      let s = 0;
      idx.forEach((k, j) => (cum[j] = s += people[k].weight));
      return { idx: Int32Array.from(idx), cum };
    });
  }
  /** Someone active on day `d` (by weight), not in `exclude`. */
  pick(r: Rng, d: number, exclude: ReadonlySet<number>): number {
    const day = this.byDay[clamp(d, 0, this.byDay.length - 1)];
    const total = day.cum[day.cum.length - 1];
    for (let attempt = 0; attempt < 30; attempt++) {
      const k = day.idx[searchCumulative(day.cum, r.next() * total)];
      if (!exclude.has(k)) return k;
    }
    for (let k = 0; k < this.people.length; k++) if (!exclude.has(k)) return k;
    throw new Error("no one left to take the task");
  }
}

function annotatorPool(r: Rng, n: number, days: number): Pool {
  const people: Person[] = Array.from({ length: n }, (_, k) => {
    const stamper = r.chance(0.02);
    const join = r.chance(0.6) ? r.int(0, 3) : r.int(3, Math.min(70, days - 5));
    return {
      subject: `ann-${String(k + 1).padStart(3, "0")}`,
      weight: r.logNormal(1, 0.9),
      speed: stamper ? 0.1 : r.logNormal(1, 0.35),
      keep: stamper ? 0.985 : clamp(r.normal(0.55, 0.15), 0.05, 0.92),
      editRate2: stamper ? 0.01 : clamp(r.logNormal(0.18, 0.5), 0.02, 0.8),
      reject: stamper ? 0.22 : clamp(0.02 + Math.abs(r.normal(0, 0.03)), 0, 0.14),
      stamper,
      join,
      leave: r.chance(0.12) ? Math.min(days, join + r.int(10, 60)) : days,
    };
  });
  return new Pool(people, days);
}

function reviewerPool(r: Rng, days: number): Pool {
  const people: Person[] = Array.from({ length: REVIEWERS }, (_, k) => ({
    subject: `rev-${String(k + 1).padStart(2, "0")}`,
    weight: r.logNormal(1, 0.4),
    speed: 1,
    keep: 0,
    editRate2: 0,
    reject: 0,
    stamper: false,
    join: 0,
    leave: days,
  }));
  return new Pool(people, days);
}

// ---------------------------------------------------------------------------------------------
// Seeding

interface Stmts {
  image: StatementSync;
  segment: StatementSync;
  draft: StatementSync;
  draftDone: StatementSync;
  call: StatementSync;
  dead: StatementSync;
  task: StatementSync;
  unhold: StatementSync;
  lease: StatementSync;
  reopen: StatementSync;
  status: StatementSync;
  submission: StatementSync;
  review: StatementSync;
  consolidation: StatementSync;
  agreement: StatementSync;
  finalVersion: StatementSync;
  final: StatementSync;
  revise: StatementSync;
  stale: StatementSync;
}

function prepare(db: DatabaseSync): Stmts {
  return {
    image: db.prepare(
      `INSERT INTO images (id, project_id, external_id, file_name, split, width, height, format, image_sha256, image_bytes,
         panoptic_sha256, panoptic_bytes, segment_count, labelled_area, created_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'jpeg', ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    segment: db.prepare(
      `INSERT INTO segments (image_id, segment_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, mark_x, mark_y, mark_distance)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    draft: db.prepare(
      `INSERT INTO drafts (key, image_id, round, status, provider, model, prompt_id, prompt_version, params, render_key, regions, caption, problems,
         claim_token, lease_until, attempts, tokens_in, tokens_out, job_id, created_at, updated_at)
       VALUES (?, ?, ?, 'pending', 'openai', ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, ?, 0, 0, 0, NULL, ?, ?)`,
    ),
    draftDone: db.prepare(
      `UPDATE drafts SET status = ?, render_key = ?, regions = ?, caption = ?, problems = ?, claim_token = NULL, lease_until = NULL,
         attempts = ?, tokens_in = ?, tokens_out = ?, updated_at = ? WHERE key = ?`,
    ),
    call: db.prepare(
      `INSERT INTO vlm_calls (draft_key, attempt, provider, model, outcome, http_status, tokens_in, tokens_out, latency_ms, error, at)
       VALUES (?, ?, 'openai', ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    dead: db.prepare("INSERT INTO dead_letters (queue, body, reason, at) VALUES ('groundwork-drafts-dlq', ?, ?, ?)"),
    task: db.prepare(
      `INSERT INTO tasks (id, project_id, image_id, round, kind, slot, status, priority, submission_id, exclude_subject, rework_of, rework_reason,
         lease_owner, lease_token, start_key, start_source, lease_expires, leased_at, created_at, updated_at, hold_until)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, NULL, NULL, ?, ?, ?)`,
    ),
    unhold: db.prepare("UPDATE tasks SET status = 'open', start_source = ?, hold_until = NULL, updated_at = ? WHERE id = ? AND status = 'held'"),
    lease: db.prepare(
      `UPDATE tasks SET status = 'leased', lease_owner = ?, lease_token = ?, lease_expires = ?, leased_at = ?, updated_at = ?,
         start_key = CASE WHEN rework_of IS NOT NULL THEN rework_of ELSE start_key END,
         start_source = CASE WHEN rework_of IS NOT NULL THEN 'rework' ELSE start_source END
       WHERE id = ?`,
    ),
    reopen: db.prepare(
      `UPDATE tasks SET status = 'open', lease_owner = NULL, lease_token = NULL, lease_expires = NULL, leased_at = NULL, updated_at = ?,
         start_key = CASE WHEN start_source IN ('vlm', 'template') THEN start_key ELSE NULL END,
         start_source = CASE WHEN start_source IN ('vlm', 'template') THEN start_source ELSE NULL END
       WHERE id = ? AND status = 'leased'`,
    ),
    status: db.prepare("UPDATE tasks SET status = ?, updated_at = ? WHERE id = ?"),
    submission: db.prepare(
      `INSERT INTO submissions (id, task_id, project_id, image_id, round, subject, lease_token, draft_key, draft_source, regions, effort,
         leased_at, duration_ms, active_seconds, submitted_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?)`,
    ),
    review: db.prepare("INSERT INTO reviews (id, submission_id, task_id, image_id, subject, decision, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
    consolidation: db.prepare("INSERT INTO consolidations (image_id, round, submission_ids, agreement, at) VALUES (?, 1, ?, ?, ?)"),
    agreement: db.prepare("INSERT INTO image_agreement (image_id, project_id, annotators, record, at) VALUES (?, ?, ?, ?, ?)"),
    finalVersion: db.prepare(
      "INSERT INTO final_caption_versions (image_id, version, text, spans, submission_id, draft_key, region_versions, at) VALUES (?, ?, ?, '[]', ?, ?, '{}', ?)",
    ),
    final: db.prepare(
      `INSERT INTO final_captions (image_id, project_id, version, text, spans, submission_id, draft_key, region_versions, coverage, stats, effort,
         stale, stale_reason, updated_at)
       VALUES (?, ?, 1, ?, '[]', ?, ?, '{}', ?, ?, ?, 0, NULL, ?)`,
    ),
    revise: db.prepare("UPDATE final_captions SET version = ?, text = ?, submission_id = ?, coverage = ?, stats = ?, stale = 0, stale_reason = NULL, updated_at = ? WHERE image_id = ?"),
    stale: db.prepare("UPDATE final_captions SET stale = 1, stale_reason = ? WHERE image_id = ?"),
  };
}

interface Accepted {
  submissionId: string;
  person: number;
  at: number;
  /** Round 1: the submission's effort, for the agreement record. */
  effort: Effort;
  draftKey: string | null;
}

interface Effort {
  regions: number;
  accepted: number;
  edited: number;
  rewritten: number;
  skipped: number;
  acceptedShare: number;
  totalDistance: number;
  totalDraftWords: number;
  editRate: number;
  changedShare: number;
}

interface Draft {
  key: string;
  /** When it finished (ready, partial or failed); Infinity while pending at `now`. */
  doneAt: number;
  status: "ready" | "partial" | "failed" | "pending";
}

const DRAFT_WAIT_MS = 300_000;

export function seedReportBench(file: string, o: ReportSeedOptions): ReportSeedResult {
  if (!Number.isInteger(o.images) || o.images < 1) throw new Error("images must be a positive integer");
  const started = performance.now();
  const r = new Rng(hash32(`report:${o.projectId}`));
  const T0 = Math.floor(o.now / DAY) * DAY - (o.days - 1) * DAY;
  const dayOf = (t: number) => Math.floor((t - T0) / DAY);
  const settings = ProjectSettingsSchema.parse({
    redundancy: { round1: 1, round2: 1, overlapShare: o.overlapShare, overlapRound1: 3 },
    vlm: { provider: "openai", baseUrl: "http://127.0.0.1:8000/v1", model: MODELS[1] },
    prices: { [MODELS[0]]: { inputPerMillion: 0.2, outputPerMillion: 0.6 }, [MODELS[1]]: { inputPerMillion: 1.1, outputPerMillion: 3.3 } },
  });
  const leaseMs = settings.leaseSeconds * 1000;
  const params = JSON.stringify({ temperature: settings.vlm.temperature, maxTokens: settings.vlm.maxTokens, timeoutMs: settings.vlm.timeoutMs, baseUrl: settings.vlm.baseUrl, render: settings.render });
  const annotators = annotatorPool(r, o.annotators, o.days);
  const reviewers = reviewerPool(r, o.days);
  const nouns = buildNouns(NOUNS);
  const nounCum = new Float64Array(nouns.length);
  {
    let s = 0;
    for (let k = 0; k < nouns.length; k++) nounCum[k] = s += 1 / Math.pow(k + 1, 1.07);
  }
  const pickNoun = () => nouns[searchCumulative(nounCum, r.next() * nounCum[nounCum.length - 1])];
  const things = COCO_PANOPTIC_CATEGORIES.filter((c) => c.isthing);
  const stuff = COCO_PANOPTIC_CATEGORIES.filter((c) => !c.isthing);
  const SIZES: [number, number][] = [[640, 480], [640, 427], [480, 640], [640, 426], [427, 640], [640, 424], [500, 375], [640, 360], [612, 612]];

  /** A time moved into working hours (07:00–22:00 UTC): night work waits for the morning. */
  const toWork = (t: number) => {
    if (!Number.isFinite(t)) return t;
    const h = ((((t - T0) % DAY) + DAY) % DAY) / HOUR;
    if (h < 7) return Math.round(t + (7 - h) * HOUR + r.uniform(0, 1.5) * HOUR);
    if (h > 22) return Math.round(t + (31 - h) * HOUR + r.uniform(0, 2) * HOUR);
    return Math.round(t);
  };
  const weekday = (d: number) => new Date(T0 + d * DAY).getUTCDay();

  // Ingest batches (day, share of the images), each ingesting over ~8 hours.
  const BATCHES: [number, number][] = [[0, 0.22], [1, 0.14], [2, 0.1], [6, 0.12], [13, 0.12], [20, 0.1], [27, 0.1], [34, 0.1]];
  const batchEnds: number[] = [];
  {
    let acc = 0;
    for (const [, share] of BATCHES) batchEnds.push(Math.round((acc += share) * o.images));
    batchEnds[batchEnds.length - 1] = o.images;
  }
  // Round-1 throughput per day: a two-week ramp, weekends at 40 %, nothing on day 0.
  const capacity = Array.from({ length: o.days }, (_, d) => (d === 0 ? 0 : Math.min(1, 0.15 + d / 12) * ([0, 6].includes(weekday(d)) ? 0.4 : 1)));
  const capCum: number[] = [];
  {
    let s = 0;
    for (const c of capacity) capCum.push((s += c));
  }
  const capTotal = capCum[capCum.length - 1];
  const round1Images = Math.floor(ROUND1_DONE * o.images);

  const seq: Record<string, number> = {};
  const idOf = (prefix: string) => sequentialId(prefix, T0, (seq[prefix] = (seq[prefix] ?? 0) + 1));
  const rows: Record<string, number> = {};
  const count = (table: string, n = 1) => (rows[table] = (rows[table] ?? 0) + n);
  const sha = (s: string) => createHash("sha256").update(s).digest("hex");
  let tokenSeq = 0;
  const leaseToken = () => `lt_${(++tokenSeq).toString(36).padStart(12, "0")}`;

  const db = new DatabaseSync(file);
  let segmentsMs = 0;
  let segmentRows = 0;
  const finalImages: string[] = [];
  try {
    db.exec("PRAGMA synchronous = OFF");
    db.exec("PRAGMA cache_size = -262144");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("BEGIN");
    try {
      db.prepare(
        `INSERT INTO projects (id, name, description, settings, version, image_count, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)`,
      ).run(o.projectId, `Report benchmark (${o.images} images)`, "seeded by scripts/lib/seed-report.ts", JSON.stringify(settings), o.images, o.createdBy, T0, T0);
      const insertCategory = db.prepare("INSERT INTO categories (project_id, category_id, name, supercategory, isthing, color) VALUES (?, ?, ?, ?, ?, ?)");
      for (const c of COCO_PANOPTIC_CATEGORIES) insertCategory.run(o.projectId, c.id, c.name, c.supercategory, c.isthing ? 1 : 0, JSON.stringify(c.color));
      const s = prepare(db);

      /** A draft requested at `at`: its model calls (retries, failures), then its outcome, all before `now` or still pending. */
      const draft = (imageId: string, round: 1 | 2, segs: number, at: number, imageIndex: number): Draft => {
        const model = dayOf(at) < MODEL_SWITCH_DAY ? MODELS[0] : MODELS[1];
        const prompt = round === 1 ? ROUND1_PROMPT : MERGE_PROMPT;
        const key = sha(`${o.projectId}:${imageIndex}:${round}:${model}`);
        const claimToken = `dc_${key.slice(0, 12)}`;
        s.draft.run(key, imageId, round, model, prompt.id, prompt.version, params, claimToken, at + 90_000, at, at);
        count("drafts");
        // Queue delay: seconds mostly, minutes during the big ingests for a few.
        let t = Math.round(at + (r.chance(0.03) ? r.uniform(5, 40) * MIN : r.uniform(3, 200) * 1000));
        const roll = r.next();
        const failures = roll < 0.003 ? 5 : roll < 0.045 ? 1 : 0;
        let attempt = 0;
        let tokensIn = 0;
        let tokensOut = 0;
        for (let f = 0; f < failures; f++) {
          if (t > o.now) return { key, doneAt: Infinity, status: "pending" };
          attempt++;
          const kind = r.chance(0.6) ? "rate_limited" : r.chance(0.7) ? "server" : "timeout";
          const latency = kind === "timeout" ? settings.vlm.timeoutMs : r.int(80, 900);
          if (t + latency > o.now) return { key, doneAt: Infinity, status: "pending" };
          s.call.run(key, attempt, model, kind, kind === "rate_limited" ? 429 : kind === "server" ? 503 : null, 0, 0, latency, `${kind} from the model server`, t + latency);
          count("vlm_calls");
          t += latency + 2000 * 2 ** (attempt - 1);
        }
        if (t > o.now) return { key, doneAt: Infinity, status: "pending" };
        let status: Draft["status"];
        if (failures === 5) {
          status = "failed";
          const reason = "gave up after 5 attempt(s): rate_limited: rate_limited from the model server";
          s.draftDone.run("failed", sha(`render:${key}`), null, null, JSON.stringify({ reason }), attempt, 0, 0, t, key);
          s.dead.run(JSON.stringify({ kind: "draft", key, token: claimToken, jobId: null, reason }), reason, t + 1500);
          count("dead_letters");
        } else {
          attempt++;
          const latency = r.int(1800, 9000);
          if (t + latency > o.now) return { key, doneAt: Infinity, status: "pending" };
          const tin = round === 1 ? 1100 + 45 * segs + r.int(-60, 60) : 900 + 60 * segs + r.int(-60, 60);
          const tout = round === 1 ? 32 * segs + r.int(-40, 80) : r.int(220, 360);
          s.call.run(key, attempt, model, "ok", 200, tin, tout, latency, null, t + latency);
          count("vlm_calls");
          tokensIn += tin;
          tokensOut += tout;
          t += latency;
          status = round === 1 && r.chance(0.015) ? "partial" : "ready";
          s.draftDone.run(
            status, sha(`render:${key}`), round === 1 ? "[]" : null, round === 2 ? JSON.stringify({ text: "", spans: [] }) : null,
            status === "partial" ? JSON.stringify({ missingMarks: [segs] }) : null, attempt, tokensIn, tokensOut, t, key,
          );
        }
        return { key, doneAt: t, status };
      };

      /** Round-1 or round-2 effort of one submission by `p`. */
      const effortOf = (p: Person, round: number, segs: number): { effort: Effort; durationMs: number } => {
        if (round === 1) {
          const skipped = p.stamper ? 0 : Array.from({ length: segs }, () => r.chance(0.03)).filter(Boolean).length;
          const judged = segs - skipped;
          const accepted = Math.round(judged * clamp(r.normal(p.keep, 0.1), 0, 1));
          const rest = judged - accepted;
          const rewritten = Math.round(rest * clamp(r.normal(0.15, 0.08), 0, 1));
          const edited = rest - rewritten;
          let draftWords = 0;
          for (let k = 0; k < judged; k++) draftWords += r.int(10, 18);
          let distance = 0;
          for (let k = 0; k < edited; k++) distance += r.int(1, 5);
          for (let k = 0; k < rewritten; k++) distance += r.int(7, 15);
          const changedShare = judged > 0 ? rest / judged : 0;
          const durationMs = p.stamper
            ? r.uniform(6, 18) * 1000
            : (45 + judged * 14 * p.speed * (1 + 1.8 * changedShare) * r.logNormal(1, 0.3)) * 1000;
          return {
            effort: {
              regions: segs, accepted, edited, rewritten, skipped, acceptedShare: judged > 0 ? accepted / judged : 0,
              totalDistance: distance, totalDraftWords: draftWords, editRate: distance / Math.max(1, draftWords), changedShare,
            },
            durationMs: Math.round(durationMs),
          };
        }
        const draftWords = Math.round(clamp(r.normal(190, 35), 40, 500));
        const unchanged = p.stamper ? r.chance(0.9) : r.chance(0.05);
        const distance = unchanged ? 0 : Math.max(1, Math.round(draftWords * clamp(r.normal(p.editRate2, 0.08), 0.01, 0.9)));
        const editRate = distance / Math.max(1, draftWords);
        const durationMs = p.stamper ? r.uniform(10, 20) * 1000 : (240 + draftWords * 2.2 * p.speed * (0.5 + 2 * editRate) * r.logNormal(1, 0.35)) * 1000;
        return {
          effort: {
            regions: 1, accepted: unchanged ? 1 : 0, edited: unchanged ? 0 : 1, rewritten: 0, skipped: 0, acceptedShare: unchanged ? 1 : 0,
            totalDistance: distance, totalDraftWords: draftWords, editRate, changedShare: unchanged ? 0 : 1,
          },
          durationMs: Math.round(durationMs),
        };
      };

      interface TaskSpec {
        imageId: string;
        round: 1 | 2;
        slot: number;
        segs: number;
        createdAt: number;
        /** Held for a draft until it is done (or the wait is over); null: open at once. */
        hold: { key: string; doneAt: number; failed: boolean } | null;
        startKey: string | null;
        startSource: string | null;
        claimAt: number;
        priority: number;
        reworkOf: string | null;
        reworkReason: string | null;
        /** Who worked on this image in this round (image_workers): nobody takes it twice. */
        workers: Set<number>;
        depth: number;
      }

      /**
       * One edit task's life: created (held for its draft, or open), leased (some leases expire and
       * are swept back, some are released), submitted with its review task, reviewed (a rejection
       * opens a rework task, whose life follows). Everything after `now` is left undone.
       */
      const editTask = (t: TaskSpec): Accepted | null => {
        const taskId = idOf("tsk");
        const held = t.hold !== null;
        s.task.run(
          taskId, o.projectId, t.imageId, t.round, "edit", t.slot, held ? "held" : "open", t.priority, null, "", t.reworkOf, t.reworkReason,
          t.startKey, t.startSource, t.createdAt, t.createdAt, held ? t.createdAt + DRAFT_WAIT_MS : null,
        );
        count("tasks");
        let openAt = t.createdAt;
        if (t.hold) {
          const waited = t.hold.doneAt > t.createdAt + DRAFT_WAIT_MS;
          // The draft finishing opens its tasks; past the wait, the sweep opens them with the template.
          openAt = waited ? Math.round(t.createdAt + DRAFT_WAIT_MS + r.uniform(1, 60) * 1000) : t.hold.doneAt;
          if (openAt > o.now) return null;
          s.unhold.run(waited || t.hold.failed ? "template-fallback" : "vlm", openAt, taskId);
        }
        let claimAt = Math.max(t.claimAt, Math.round(openAt + r.uniform(5, 600) * 1000));
        for (;;) {
          if (claimAt > o.now) return null;
          const k = annotators.pick(r, dayOf(claimAt), t.workers);
          t.workers.add(k);
          const p = annotators.people[k];
          const token = leaseToken();
          const fate = r.next();
          if (fate < 0.035) {
            // Abandoned: the lease runs out and the sweep (every minute) puts the task back.
            s.lease.run(p.subject, token, claimAt + leaseMs, claimAt, claimAt, taskId);
            const sweptAt = Math.round(claimAt + leaseMs + r.uniform(1, 60) * 1000);
            if (sweptAt > o.now) return null;
            s.reopen.run(sweptAt, taskId);
            claimAt = toWork(sweptAt + r.uniform(2, 480) * MIN);
            continue;
          }
          if (fate < 0.055) {
            // Released: handed back well within the lease.
            s.lease.run(p.subject, token, claimAt + leaseMs, claimAt, claimAt, taskId);
            const releasedAt = Math.round(claimAt + r.uniform(1, 20) * MIN);
            if (releasedAt > o.now) return null;
            s.reopen.run(releasedAt, taskId);
            claimAt = toWork(releasedAt + r.uniform(1, 240) * MIN);
            continue;
          }
          const { effort, durationMs } = effortOf(p, t.round, t.segs);
          const submittedAt = claimAt + durationMs;
          // Heartbeats keep a long task's lease alive (they change lease_expires alone: no event, no counter).
          const expires = Math.round(Math.max(claimAt + leaseMs, submittedAt + r.uniform(1, 10) * MIN));
          s.lease.run(p.subject, token, expires, claimAt, claimAt, taskId);
          if (submittedAt > o.now) return null;
          const submissionId = idOf("sub");
          const source = t.reworkOf ? "rework" : (t.startSource ?? (t.hold && (t.hold.failed || t.hold.doneAt > t.createdAt + DRAFT_WAIT_MS) ? "template-fallback" : "vlm"));
          const startKey = t.reworkOf ?? t.startKey;
          s.submission.run(
            submissionId, taskId, o.projectId, t.imageId, t.round, p.subject, token, startKey, source, JSON.stringify(effort),
            claimAt, durationMs, r.chance(0.88) ? Math.round((durationMs * r.uniform(0.55, 0.95)) / 1000) : null, submittedAt,
          );
          count("submissions");
          s.status.run("submitted", submittedAt, taskId);
          const reviewTask = idOf("tsk");
          s.task.run(reviewTask, o.projectId, t.imageId, t.round, "review", t.slot, "open", t.priority, submissionId, p.subject, null, null, null, null, submittedAt, submittedAt, null);
          count("tasks");
          const reviewClaim = toWork(submittedAt + r.uniform(5, 16 * 60) * MIN);
          if (reviewClaim > o.now) return null;
          const reviewer = reviewers.people[reviewers.pick(r, dayOf(reviewClaim), new Set())];
          s.lease.run(reviewer.subject, leaseToken(), reviewClaim + leaseMs, reviewClaim, reviewClaim, reviewTask);
          const reviewAt = Math.round(reviewClaim + r.uniform(20, 300) * 1000);
          if (reviewAt > o.now) return null;
          const reject = t.depth < 2 && r.chance(p.reject * (t.round === 2 ? 1.3 : 1));
          const reason = reject ? (r.chance(0.5) ? "regions left unchanged that are wrong" : "texts do not match the masks") : null;
          s.review.run(idOf("rev"), submissionId, reviewTask, t.imageId, reviewer.subject, reject ? "reject" : "accept", reason, reviewAt);
          count("reviews");
          s.status.run(reject ? "rejected" : "accepted", reviewAt, taskId);
          s.status.run(reject ? "rejected" : "accepted", reviewAt, reviewTask);
          if (!reject) return { submissionId, person: k, at: reviewAt, effort, draftKey: startKey };
          // Rework: slot 0, at the head of the queue, starting from the rejected submission.
          return editTask({
            ...t, slot: 0, createdAt: reviewAt, hold: null, startKey: null, startSource: null, claimAt: toWork(reviewAt + r.uniform(10, 480) * MIN),
            priority: -10, reworkOf: submissionId, reworkReason: reason, depth: t.depth + 1,
          });
        }
      };

      let batch = 0;
      for (let i = 0; i < o.images; i++) {
        while (i >= batchEnds[batch]) batch++;
        const batchStart = batch === 0 ? 0 : batchEnds[batch - 1];
        const createdAt = Math.round(T0 + BATCHES[batch][0] * DAY + 9 * HOUR + ((i - batchStart) / Math.max(1, batchEnds[batch] - batchStart)) * 8 * HOUR);
        if (createdAt > o.now) break;
        const imageId = sequentialId("img", T0, i);
        const imageSha = sha(`${o.projectId}:image:${i}`);
        const [width, height] = SIZES[i % SIZES.length];
        const segs = Math.round(clamp(r.logNormal(11.7, 0.42), 1, 60));
        const nThings = Math.min(segs, Math.max(0, Math.round(segs * clamp(r.normal(0.42, 0.15), 0, 1))));
        // Segments: areas split ~90–100 % of the frame, things first (by category), bboxes that hold their area.
        const frame = width * height;
        const labelledTarget = Math.floor(frame * r.uniform(0.9, 1));
        const weights = Array.from({ length: segs }, (_, j) => (j < nThings ? 0.35 : 1) * r.uniform(0.2, 1.2));
        const wsum = weights.reduce((a, b) => a + b, 0);
        const segRows = weights.map((w, j) => {
          const category = j < nThings ? things[r.int(0, things.length - 1)] : stuff[r.int(0, stuff.length - 1)];
          let area = Math.max(16, Math.floor((labelledTarget * w) / wsum));
          const bw = Math.min(width, Math.max(4, Math.ceil(Math.sqrt(area * 1.4 * r.uniform(0.5, 2)))));
          const bh = Math.min(height, Math.max(4, Math.ceil((area * 1.4) / bw)));
          area = Math.min(area, bw * bh);
          const bx = r.int(0, width - bw);
          const by = r.int(0, height - bh);
          return { id: (j + 1) * 65536 + (hash32(`${i}:${j}`) & 0xffff), category, area, bx, by, bw, bh };
        });
        const labelled = segRows.reduce((a, g) => a + g.area, 0);
        s.image.run(
          imageId, o.projectId, `coco-${i}`, `${String(100_000 + i).padStart(12, "0")}.jpg`, i % 20 === 19 ? "val" : "train", width, height,
          imageSha, 90_000 + ((i * 7919) % 150_000), sha(`${o.projectId}:panoptic:${i}`), 4_000 + ((i * 104729) % 12_000), segs, labelled, o.createdBy, createdAt,
        );
        count("images");
        const t0 = performance.now();
        for (const g of segRows) {
          s.segment.run(imageId, g.id, g.category.id, g.category.isthing && r.chance(0.03) ? 1 : 0, g.area, g.bx, g.by, g.bw, g.bh, g.bx + (g.bw >> 1), g.by + (g.bh >> 1), Math.round(Math.min(g.bw, g.bh) * 4) / 10);
        }
        segmentsMs += performance.now() - t0;
        segmentRows += segs;

        // Round 1: the draft asked for at ingest, the tasks held for it.
        const d1 = draft(imageId, 1, segs, createdAt, i);
        const overlap = inOverlapSample(imageSha, settings.redundancy.overlapShare);
        const slots = overlap ? settings.redundancy.overlapRound1 : settings.redundancy.round1;
        let claimAt = Infinity;
        if (i < round1Images) {
          const pos = ((i + 0.5) / round1Images) * capTotal;
          const d = searchCumulative(capCum, pos);
          const within = (pos - (d > 0 ? capCum[d - 1] : 0)) / Math.max(1e-9, capacity[d]);
          claimAt = Math.round(T0 + d * DAY + 7 * HOUR + clamp(within, 0, 1) * 15 * HOUR);
        }
        const workers1 = new Set<number>();
        const accepted: Accepted[] = [];
        for (let slot = 0; slot < slots; slot++) {
          const slotClaim = slot === 0 ? claimAt : toWork(claimAt + r.uniform(0, slot === 1 ? 6 : 24) * HOUR);
          const a = editTask({
            imageId, round: 1, slot, segs, createdAt, hold: { key: d1.key, doneAt: d1.doneAt, failed: d1.status === "failed" },
            startKey: d1.key, startSource: null, claimAt: slotClaim, priority: 0, reworkOf: null, reworkReason: null, workers: workers1, depth: 0,
          });
          if (a) accepted.push(a);
        }
        if (accepted.length === slots) {
          const consolidatedAt = Math.round(Math.max(...accepted.map((a) => a.at)) + r.uniform(200, 3000));
          if (consolidatedAt <= o.now) {
            s.consolidation.run(imageId, JSON.stringify(accepted.map((a) => a.submissionId)), slots > 1 ? r.uniform(0.45, 0.92) : null, consolidatedAt);
            count("consolidations");
            if (slots > 1) {
              s.agreement.run(imageId, o.projectId, slots, JSON.stringify(agreementRecord(r, accepted.map((a) => annotators.people[a.person].subject), segs, nThings, accepted)), consolidatedAt);
              count("image_agreement");
            }
            // Round 2: the merge draft asked for at consolidation, the task held for it.
            const d2 = draft(imageId, 2, segs, consolidatedAt, i);
            const final = editTask({
              imageId, round: 2, slot: 0, segs, createdAt: consolidatedAt, hold: { key: d2.key, doneAt: d2.doneAt, failed: d2.status === "failed" },
              startKey: d2.key, startSource: null, claimAt: toWork(consolidatedAt + 20 * MIN + r.exp(1.2 * DAY)), priority: 0, reworkOf: null, reworkReason: null,
              workers: new Set(), depth: 0,
            });
            if (final) {
              const words = Math.round(clamp(final.effort.totalDraftWords + r.normal(10, 25), 40, 600));
              const caption = captionFigures(r, segs, nThings, words, pickNoun, segRows.map((g) => g.id));
              const effortJson = JSON.stringify(final.effort);
              s.finalVersion.run(imageId, 1, `Seeded caption of ${words} words.`, final.submissionId, final.draftKey, final.at);
              s.final.run(imageId, o.projectId, `Seeded caption of ${words} words.`, final.submissionId, final.draftKey, JSON.stringify(caption.coverage), JSON.stringify(caption.stats), effortJson, final.at);
              count("final_caption_versions");
              count("final_captions");
              finalImages.push(imageId);
              const later = r.next();
              if (later < 0.015) {
                // Revised: a second accepted version (its submission is not seeded), with new figures.
                const at = Math.round(final.at + r.uniform(1, 25) * DAY);
                if (at <= o.now) {
                  const w2 = Math.round(clamp(words + r.normal(15, 20), 40, 600));
                  const c2 = captionFigures(r, segs, nThings, w2, pickNoun, segRows.map((g) => g.id));
                  const sub2 = idOf("sub");
                  s.finalVersion.run(imageId, 2, `Seeded caption of ${w2} words (revised).`, sub2, final.draftKey, at);
                  s.revise.run(2, `Seeded caption of ${w2} words (revised).`, sub2, JSON.stringify(c2.coverage), JSON.stringify(c2.stats), at, imageId);
                  count("final_caption_versions");
                }
              } else if (later < 0.023) {
                const at = Math.round(final.at + r.uniform(1, 30) * DAY);
                if (at <= o.now) s.stale.run("a region text was adjudicated after the caption became final", imageId);
              }
            }
          }
        }
        if (o.onProgress && (i + 1) % 10_000 === 0) o.onProgress(i + 1, o.images);
      }

      // One pairwise study (final captions against the model's), voted on over the last three weeks.
      const studyId = `std_${o.projectId}`;
      const opened = T0 + Math.max(0, o.days - 21) * DAY;
      let design = "{}";
      try {
        design = JSON.stringify(StudyDesignSchema.parse({ sources: ["final", `vlm:qwen25-vl`], votesPerPair: 3 }));
      } catch {
        // the design does not matter to the reports
      }
      const votes = Math.min(finalImages.length * 3, Math.round(o.images * 0.025));
      db.prepare(
        `INSERT INTO studies (id, project_id, name, question, status, design, seed, version, pairs, gold_pairs, votes, created_by, created_at, updated_at, opened_at)
         VALUES (?, ?, 'final vs model', 'Which caption describes the image better?', 'open', ?, 1, 1, ?, 0, ?, ?, ?, ?, ?)`,
      ).run(studyId, o.projectId, design, Math.ceil(votes / 3), votes, o.createdBy, opened, opened, opened);
      count("studies");
      const insertVote = db.prepare(
        `INSERT INTO votes (id, study_id, ballot_id, pair_id, image_id, kind, a, b, "left", choice, winner, voter, reasons, active_ms, duration_ms, leased_at, at)
         VALUES (?, ?, ?, ?, ?, 'pair', 'final', 'vlm:qwen25-vl', ?, ?, ?, ?, '[]', ?, ?, ?, ?)`,
      );
      for (let v = 0; v < votes; v++) {
        const pair = Math.floor(v / 3);
        const at = Math.min(o.now - 1000, toWork(opened + r.uniform(0, o.now - opened)));
        const choice = r.chance(0.15) ? "tie" : r.chance(0.62) ? "a" : "b";
        const duration = Math.round(r.logNormal(25_000, 0.5));
        insertVote.run(
          idOf("vot"), studyId, `bal_${o.projectId}_${v}`, `par_${o.projectId}_${pair}`, finalImages[(pair * 7919) % Math.max(1, finalImages.length)] ?? "none",
          r.chance(0.5) ? "a" : "b", choice, choice === "tie" ? null : choice === "a" ? "final" : "vlm:qwen25-vl", `voter-${String(1 + ((pair * 3 + (v % 3) * 17) % 60)).padStart(2, "0")}`,
          Math.round(duration * 0.8), duration, at - duration, at,
        );
        count("votes");
      }
      db.prepare(
        `INSERT INTO category_usage (project_id, category_id, segments)
         SELECT i.project_id, s.category_id, COUNT(*) FROM segments s JOIN images i ON i.id = s.image_id WHERE i.project_id = ? GROUP BY 1, 2`,
      ).run(o.projectId);
      db.exec("COMMIT");
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
    const a0 = performance.now();
    db.exec("ANALYZE");
    const analyzeMs = performance.now() - a0;
    for (const table of ["task_events", "image_workers", "report_counters", "annotator_counters"]) {
      rows[table] = Number((db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n);
    }
    rows.segments = segmentRows;
    return { projectId: o.projectId, rows, segments: segmentRows, ms: performance.now() - started, segmentsMs, analyzeMs, fileBytes: statSync(file).size };
  } finally {
    db.close();
  }
}

/** An overlap image's agreement record, shaped as worker/domain/region-agreement.ts ImageAgreement (with its `people`). */
function agreementRecord(r: Rng, subjects: string[], segs: number, nThings: number, accepted: Accepted[]) {
  const annotators = [...subjects].sort();
  const kind = (regions: number) => {
    const n = Math.max(0, regions * annotators.length - r.int(0, Math.min(2, regions)));
    const per = (mean: number, sd: number) => n * clamp(r.normal(mean, sd), 0, 1);
    const b1 = clamp(r.normal(0.52, 0.1), 0.05, 1);
    return {
      n,
      bleu1: n * b1,
      bleu2: n * b1 * 0.62,
      bleu3: n * b1 * 0.41,
      bleu4: n * b1 * 0.27,
      rouge_l: per(0.48, 0.1),
      cider_d: n * clamp(r.normal(0.9, 0.35), 0, 4),
      edit_distance: n * clamp(r.normal(8.5, 2.5), 0, 30),
    };
  };
  const judged = new Map(accepted.map((a, j) => [subjects[j], a.effort.regions - a.effort.skipped]));
  const pairs: { a: string; b: string; shared: number; same: number; kappa: number | null }[] = [];
  for (let x = 0; x < annotators.length; x++) {
    for (let y = x + 1; y < annotators.length; y++) {
      const shared = Math.min(judged.get(annotators[x]) ?? segs, judged.get(annotators[y]) ?? segs);
      const same = Math.round(shared * clamp(r.normal(0.62, 0.15), 0, 1));
      pairs.push({ a: annotators[x], b: annotators[y], shared, same, kappa: shared >= 5 && r.chance(0.93) ? clamp(r.normal(0.38, 0.2), -0.5, 1) : null });
    }
  }
  const kinds = { thing: kind(nThings), stuff: kind(segs - nThings) };
  // Each annotator's share of the scored texts (their sums add up to the kinds'), and how many of
  // their region texts consolidation kept as final.
  const texts = kinds.thing.n + kinds.stuff.n;
  const quality = annotators.map(() => clamp(r.normal(1, 0.15), 0.3, 1.7));
  const share = annotators.map((_, j) => Math.floor(texts / annotators.length) + (j < texts % annotators.length ? 1 : 0));
  const weight = share.map((n, j) => n * quality[j]);
  const wsum = weight.reduce((x, y) => x + y, 0) || 1;
  const people = annotators.map((subject, j) => {
    const consolidated = judged.get(subject) ?? segs;
    return {
      subject,
      n: share[j],
      bleu4: ((kinds.thing.bleu4 + kinds.stuff.bleu4) * weight[j]) / wsum,
      rouge_l: ((kinds.thing.rouge_l + kinds.stuff.rouge_l) * weight[j]) / wsum,
      consolidated,
      consolidated_same: Math.round(consolidated * clamp(r.normal(0.45 * quality[j], 0.12), 0, 1)),
    };
  });
  return { annotators, people, kinds, pairs, alpha: r.chance(0.97) ? clamp(r.normal(0.35, 0.18), -0.5, 1) : null };
}

/** A final caption's stats and coverage, as worker/domain/coverage.ts computes them, from plausible figures. */
function captionFigures(r: Rng, segs: number, nThings: number, words: number, pickNoun: () => string, segmentIds: number[]) {
  const grounded = clamp(Math.round(segs * clamp(r.normal(0.9, 0.08), 0.3, 1)), 1, segs);
  const groundedThings = Math.min(nThings, Math.max(0, Math.round(nThings * clamp(r.normal(0.95, 0.07), 0, 1))));
  const spans = grounded + r.int(0, 2);
  const nouns = Array.from({ length: spans }, pickNoun);
  const groundedIds = segmentIds.slice(0, grounded).sort((a, b) => a - b);
  return {
    stats: { words, masks: segs, groundedMasks: grounded, spans, nouns },
    coverage: {
      segments: grounded / segs,
      things: nThings === 0 ? 1 : groundedThings / nThings,
      area: clamp(r.normal(0.88, 0.08), 0.2, 1),
      groundedIds,
      ungroundedThings: segmentIds.slice(groundedThings, nThings),
    },
  };
}

/** Counter rows of a project, grouped: what each report reads (all of them), and why it grows. */
export interface CounterCensus {
  total: number;
  daily: number;
  byMetric: { metric: string; rows: number; daily: number }[];
  annotatorTotal: number;
  annotatorSubjects: number;
  annotatorByMetric: { metric: string; rows: number }[];
  readMs: number;
  annotatorReadMs: number;
}

export function counterCensus(file: string, projectId: string): CounterCensus {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const byMetric = (db.prepare(
      `SELECT CASE WHEN metric LIKE 'time_bucket:%' THEN 'time_bucket:*' WHEN metric LIKE 'status:%' THEN 'status:*' ELSE metric END AS metric,
         COUNT(*) AS rows, SUM(day != '') AS daily FROM report_counters WHERE project_id = ? GROUP BY 1 ORDER BY 2 DESC, 1`,
    ).all(projectId) as { metric: string; rows: number; daily: number }[]).map((x) => ({ metric: x.metric, rows: Number(x.rows), daily: Number(x.daily) }));
    const annotatorByMetric = (db.prepare(
      `SELECT CASE WHEN metric LIKE 'time_bucket:%' THEN 'time_bucket:*' ELSE metric END AS metric, COUNT(*) AS rows
       FROM annotator_counters WHERE project_id = ? GROUP BY 1 ORDER BY 2 DESC, 1`,
    ).all(projectId) as { metric: string; rows: number }[]).map((x) => ({ metric: x.metric, rows: Number(x.rows) }));
    const subjects = Number((db.prepare("SELECT COUNT(DISTINCT subject) AS n FROM annotator_counters WHERE project_id = ?").get(projectId) as { n: number }).n);
    // What the Worker's one statement reads, timed in SQLite itself (no D1, no Worker), best of 5.
    const timeRead = (sql: string) => {
      const stmt = db.prepare(sql);
      let best = Infinity;
      for (let k = 0; k < 5; k++) {
        const t = performance.now();
        stmt.all(projectId);
        best = Math.min(best, performance.now() - t);
      }
      return best;
    };
    return {
      total: byMetric.reduce((a, x) => a + x.rows, 0),
      daily: byMetric.reduce((a, x) => a + x.daily, 0),
      byMetric,
      annotatorTotal: annotatorByMetric.reduce((a, x) => a + x.rows, 0),
      annotatorSubjects: subjects,
      annotatorByMetric,
      readMs: timeRead("SELECT project_id, metric, dim, day, value FROM report_counters WHERE project_id = ?"),
      annotatorReadMs: timeRead("SELECT project_id, subject, round, metric, value FROM annotator_counters WHERE project_id = ?"),
    };
  } finally {
    db.close();
  }
}

/** The counter rows themselves, as the Worker's read returns them, for timing the pure report functions in Node. */
export function readCounters(file: string, projectId: string) {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const counters = (db.prepare("SELECT metric, dim, day, value FROM report_counters WHERE project_id = ?").all(projectId) as { metric: string; dim: string; day: string; value: number }[]).map(
      (x) => ({ metric: x.metric, dim: x.dim, day: x.day, value: Number(x.value) }),
    );
    const people = (db.prepare("SELECT subject, round, metric, value FROM annotator_counters WHERE project_id = ?").all(projectId) as { subject: string; round: number; metric: string; value: number }[]).map(
      (x) => ({ subject: x.subject, round: Number(x.round), metric: x.metric, value: Number(x.value) }),
    );
    return { counters, people };
  } finally {
    db.close();
  }
}
