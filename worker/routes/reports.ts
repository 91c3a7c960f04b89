import { createRoute, z } from "@hono/zod-openapi";
import { problemResponses, ProjectIdParam } from "../../schema/api/common.ts";
import { counterDrift } from "../domain/counter-drift.ts";
import { toCsv } from "../domain/csv.ts";
import { progressReport } from "../domain/progress-report.ts";
import { ANNOTATOR_SORTS, annotatorRows, sortAnnotators } from "../domain/annotator-report.ts";
import { datasetReport } from "../domain/dataset-report.ts";
import { agreementReport, MATRIX_MEMBERS, matrixMembers, pairKeys } from "../domain/agreement-report.ts";
import { principal } from "../http/middleware.ts";
import { router } from "../http/router.ts";
import { dbOf } from "../store/db.ts";
import { pairCounters, projectAnnotatorCounters, projectCounters, recountProject, replaceCounters } from "../store/report-counters.ts";
import { LEADS, projectFor } from "./guards.ts";

export const reportRoutes = router();
const tags = ["Reports"];
const security = [{ bearer: [] }];

const Interval = z.number().nullable();
const ProgressSchema = z
  .object({
    generated_at: z.iso.datetime(),
    images: z.number(),
    segments: z.number(),
    finals: z.number(),
    final_versions: z.number(),
    stale: z.number(),
    rounds: z.array(
      z.object({
        round: z.int(),
        drafts: z.object({ ready: z.number(), partial: z.number(), failed: z.number() }),
        tasks: z.object({ created: z.number(), claimed: z.number(), submitted: z.number(), accepted: z.number(), rejected: z.number(), expired: z.number(), released: z.number() }),
        consolidated: z.number(),
        rejection_rate: Interval,
        in_progress: z.object({ held: z.number(), open: z.number(), leased: z.number(), awaiting_review: z.number(), review_leased: z.number(), review_open: z.number() }),
        time: z.object({
          submissions: z.number(),
          mean_seconds: z.number().nullable(),
          median_at_most_seconds: z.number().nullable().openapi({ description: "Upper bound of the histogram bucket holding the median time per submission." }),
          histogram: z.array(z.object({ upper_seconds: z.number().nullable(), count: z.number() })),
        }),
      }),
    ),
    per_day: z.array(z.object({ day: z.string(), images: z.number(), submitted: z.number(), accepted: z.number(), rejected: z.number(), created: z.number(), finals: z.number(), votes: z.number() })),
    burndown: z.array(z.object({ day: z.string(), remaining: z.number() })),
    eta: z.object({ remaining: z.number(), accepted_per_day: z.number(), window_days: z.int(), days: z.number().nullable(), date: z.string().nullable() }),
    vlm: z.array(
      z.object({
        provider: z.string(),
        model: z.string(),
        prompt: z.string(),
        calls: z.number(),
        failures: z.number(),
        retries: z.number(),
        dead_letters: z.number(),
        tokens_in: z.number(),
        tokens_out: z.number(),
        cost: z.number().nullable().openapi({ description: "From the project's `settings.prices` for this model; null when no price is set." }),
      }),
    ),
  })
  .openapi("ProgressReport");

const report = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/report",
  tags,
  security,
  summary: "Where the project stands: funnel per round, work in progress, throughput per day, burn-down and ETA, rejection rate, time per task, VLM ledger",
  description:
    "Lead or admin. Read from counters kept at write time (one indexed statement), never from a scan of tasks or submissions. " +
    "`Accept: text/csv` gives one table (`table=rounds|per_day|burndown|vlm`), RFC 4180 with a header row.",
  request: { params: ProjectIdParam, query: z.object({ table: z.enum(["rounds", "per_day", "burndown", "vlm"]).default("per_day") }) },
  responses: {
    200: { description: "The report", content: { "application/json": { schema: ProgressSchema }, "text/csv": { schema: z.string() } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

reportRoutes.openapi(report, async (c) => {
  const { projectId } = c.req.valid("param");
  const { table } = c.req.valid("query");
  const db = dbOf(c.env.DB);
  const project = await projectFor(db, principal(c), projectId, LEADS, "read reports");
  const r = progressReport(await projectCounters(db, projectId, "progress"), Date.now(), project.settings.prices ?? {});
  if (/\btext\/csv\b/.test(c.req.header("accept") ?? "")) {
    const tables = {
      rounds: {
        header: ["round", "created", "claimed", "submitted", "accepted", "rejected", "expired", "released", "consolidated", "rejection_rate", "leased", "awaiting_review", "mean_seconds"],
        rows: r.rounds.map((x) => [x.round, x.tasks.created, x.tasks.claimed, x.tasks.submitted, x.tasks.accepted, x.tasks.rejected, x.tasks.expired, x.tasks.released, x.consolidated, x.rejection_rate, x.in_progress.leased, x.in_progress.awaiting_review, x.time.mean_seconds]),
      },
      per_day: { header: ["day", "images", "created", "submitted", "accepted", "rejected", "finals", "votes"], rows: r.per_day.map((d) => [d.day, d.images, d.created, d.submitted, d.accepted, d.rejected, d.finals, d.votes]) },
      burndown: { header: ["day", "remaining"], rows: r.burndown.map((d) => [d.day, d.remaining]) },
      vlm: {
        header: ["provider", "model", "prompt", "calls", "failures", "retries", "dead_letters", "tokens_in", "tokens_out", "cost"],
        rows: r.vlm.map((v) => [v.provider, v.model, v.prompt, v.calls, v.failures, v.retries, v.dead_letters, v.tokens_in, v.tokens_out, v.cost]),
      },
    }[table];
    return c.body(toCsv(tables.header, tables.rows), 200, { "Content-Type": "text/csv; charset=utf-8; header=present" });
  }
  return c.json(r, 200);
});

const DriftItem = z.object({ metric: z.string(), dim: z.string(), day: z.string(), subject: z.string().optional(), round: z.int().optional(), kept: z.number(), recounted: z.number() });

const rebuild = createRoute({
  method: "post",
  path: "/v1/projects/{projectId}/report/rebuild",
  tags,
  security,
  summary: "Recount the report counters from the source tables, report any drift, and replace them",
  description:
    "Lead or admin. The counters are kept by triggers in the statement of every change, so drift means a bug (or rows written by hand): " +
    "the answer lists every counter whose kept value differs from the recount. A few aggregate statements over the project's rows, then one batch.",
  request: { params: ProjectIdParam },
  responses: {
    200: { description: "The drift found, and how many counters were written", content: { "application/json": { schema: z.object({ drift: z.array(DriftItem), counters: z.int(), people: z.int() }).openapi("ReportRebuild") } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

reportRoutes.openapi(rebuild, async (c) => {
  const { projectId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, LEADS, "rebuild reports");
  const [kept, keptPeople, recount] = await Promise.all([projectCounters(db, projectId), projectAnnotatorCounters(db, projectId), recountProject(db, projectId)]);
  const drift = [
    ...counterDrift(kept, recount.counters, (r) => ({ metric: r.metric, dim: r.dim, day: r.day }), (k) => `${k.metric}\u0000${k.dim}\u0000${k.day}`).map((d) => ({ ...d.key, kept: d.kept, recounted: d.recounted })),
    ...counterDrift(keptPeople, recount.people, (r) => ({ subject: r.subject, round: r.round, metric: r.metric }), (k) => `${k.subject}\u0000${k.round}\u0000${k.metric}`).map((d) => ({
      ...d.key,
      dim: "",
      day: "",
      kept: d.kept,
      recounted: d.recounted,
    })),
  ];
  await replaceCounters(db, projectId, recount.counters, recount.people);
  return c.json({ drift, counters: recount.counters.length, people: recount.people.length }, 200);
});

const AnnotatorSchema = z
  .object({
    subject: z.string(),
    round: z.int(),
    tasks: z.number(),
    accepted: z.number(),
    rejected: z.number(),
    acceptance_rate: z.number().nullable(),
    time_seconds_total: z.number(),
    mean_seconds: z.number().nullable(),
    median_at_most_seconds: z.number().nullable(),
    active_seconds_total: z.number(),
    edit_rate_mean: z.number().nullable().openapi({ description: "Mean over submissions of word edit distance ÷ draft words." }),
    edit_distance_total: z.number(),
    unchanged_share: z.number().nullable().openapi({ description: "Share of judged (not skipped) regions left as drafted." }),
    rubber_stamp: z.boolean().openapi({ description: "At least 3 tasks, ≥ 95 % of regions unchanged, ≤ 20 s per task on average." }),
    peer_bleu4_mean: z.number().nullable().openapi({ description: "Overlap sample: mean BLEU-4 of their region texts against the other annotators' of the same regions." }),
    peer_rouge_l_mean: z.number().nullable().openapi({ description: "Overlap sample: the same with ROUGE-L." }),
    consolidated_agreement: z.number().nullable().openapi({ description: "Overlap sample: share of their region texts that consolidation chose as final." }),
    reviews: z.number(),
    review_rejections: z.number(),
    last_active_at: z.iso.datetime().nullable(),
  })
  .openapi("AnnotatorReport");

const annotators = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/report/annotators",
  tags,
  security,
  summary: "Per person and round: tasks, accepted and rejected, time, edit effort against the draft, a rubber-stamp flag, reviews, last active",
  description: "Lead or admin. From per-person counters kept at write time. Paged and sortable; `Accept: text/csv` gives the whole table.",
  request: {
    params: ProjectIdParam,
    query: z.object({
      round: z.coerce.number().int().min(1).max(2).optional(),
      sort: z.enum(ANNOTATOR_SORTS).default("tasks"),
      order: z.enum(["asc", "desc"]).default("desc"),
      limit: z.coerce.number().int().min(1).max(500).default(100),
      cursor: z.string().regex(/^\d{1,6}$/, "not a cursor this API issued").optional(),
    }),
  },
  responses: {
    200: { description: "A page of people", content: { "application/json": { schema: z.object({ items: z.array(AnnotatorSchema), next_cursor: z.string().nullable() }).openapi("AnnotatorPage") }, "text/csv": { schema: z.string() } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

reportRoutes.openapi(annotators, async (c) => {
  const { projectId } = c.req.valid("param");
  const q = c.req.valid("query");
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, LEADS, "read reports");
  const rows = sortAnnotators(annotatorRows(await projectAnnotatorCounters(db, projectId)).filter((r) => q.round === undefined || r.round === q.round), q.sort, q.order);
  if (/\btext\/csv\b/.test(c.req.header("accept") ?? "")) {
    const header = Object.keys(AnnotatorSchema.shape);
    return c.body(toCsv(header, rows.map((r) => header.map((h) => (r as Record<string, unknown>)[h] as string | number | boolean | null))), 200, { "Content-Type": "text/csv; charset=utf-8; header=present" });
  }
  // The cursor is the offset in this order: the table is a few hundred rows, sorted in memory from one read.
  const from = q.cursor ? Number(q.cursor) : 0;
  const page = rows.slice(from, from + q.limit);
  return c.json({ items: page, next_cursor: from + q.limit < rows.length ? String(from + q.limit) : null }, 200);
});

const Bucket = z.object({ upper: z.number().nullable(), count: z.number() });
const ShareBucket = z.object({ upper_percent: z.number().nullable(), count: z.number() });
const DatasetSchema = z
  .object({
    final_captions: z.number(),
    images: z.number(),
    words: z.object({ mean: z.number().nullable(), histogram: z.array(Bucket) }),
    masks_per_image: z.number().nullable(),
    masks_per_captioned_image: z.number().nullable(),
    grounded_masks_per_caption: z.number().nullable(),
    coverage: z.object({
      segments_mean: z.number().nullable(),
      things_mean: z.number().nullable(),
      area_mean: z.number().nullable(),
      segments_histogram: z.array(ShareBucket),
      area_histogram: z.array(ShareBucket),
    }),
    top_nouns: z.array(z.object({ noun: z.string(), count: z.number() })),
    paper: z.object({ samples: z.number(), words: z.number(), masks: z.number() }).openapi({ description: "COCONut-PanCap's Table 1 row, to set the project beside." }),
  })
  .openapi("DatasetReport");

const dataset = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/report/dataset",
  tags,
  security,
  summary: "What the final captions look like: count, words per caption, masks per image, grounded masks per caption, coverage, top nouns",
  description:
    "Lead or admin. Laid out to set beside COCONut-PanCap's Table 1 (118K samples, 203 words, 13.2 masks) and its Fig. 4 (most frequent nouns). " +
    "From statistics computed when each caption became final. `Accept: text/csv` with `table=nouns|words`.",
  request: { params: ProjectIdParam, query: z.object({ table: z.enum(["nouns", "words"]).default("nouns") }) },
  responses: {
    200: { description: "The statistics", content: { "application/json": { schema: DatasetSchema }, "text/csv": { schema: z.string() } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

reportRoutes.openapi(dataset, async (c) => {
  const { projectId } = c.req.valid("param");
  const { table } = c.req.valid("query");
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, LEADS, "read reports");
  const r = datasetReport(await projectCounters(db, projectId, "dataset"));
  if (/\btext\/csv\b/.test(c.req.header("accept") ?? "")) {
    const t =
      table === "nouns"
        ? { header: ["noun", "count"], rows: r.top_nouns.map((n) => [n.noun, n.count]) }
        : { header: ["words_at_most", "captions"], rows: r.words.histogram.map((b) => [b.upper, b.count]) };
    return c.body(toCsv(t.header, t.rows), 200, { "Content-Type": "text/csv; charset=utf-8; header=present" });
  }
  return c.json(r, 200);
});

const KindSchema = z.object({
  texts: z.number(),
  bleu1: z.number().nullable(),
  bleu2: z.number().nullable(),
  bleu3: z.number().nullable(),
  bleu4: z.number().nullable(),
  rouge_l: z.number().nullable(),
  cider_d: z.number().nullable(),
  edit_distance: z.number().nullable(),
});
const AgreementSchema = z
  .object({
    images: z.number().openapi({ description: "Images of the overlap sample (more than one round-1 annotator) consolidated so far." }),
    alpha_mean: z.number().nullable().openapi({ description: "Mean over images of Krippendorff's α (nominal) on the per-region action." }),
    thing: KindSchema,
    stuff: KindSchema,
    members: z.array(z.string()).openapi({ description: "The members in the matrix (see `limit`, `members`)." }),
    members_total: z.number().openapi({ description: "Members scored on the overlap sample in all." }),
    matrix: z.array(
      z.object({
        a: z.string(),
        b: z.string(),
        images: z.number(),
        shared_regions: z.number(),
        raw_agreement: z.number().nullable(),
        kappa_mean: z.number().nullable(),
        kappa_images: z.number(),
      }),
    ),
  })
  .openapi("AgreementReport");

const agreement = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/report/agreement",
  tags,
  security,
  summary: "How much annotators agree on the overlap sample: text similarity (BLEU-1…4, ROUGE-L, CIDEr-D, word edit distance) by thing and stuff, α, and a member × member κ matrix",
  description:
    "Lead or admin. Each image with more than one round-1 annotator is scored when it consolidates: every annotator's region text against " +
    "the others' as references (the metrics as pycocoevalcap computes them, CIDEr-D's document frequencies over the image's region texts), " +
    "Cohen's κ per pair on the per-region action where they share at least 5 regions, Krippendorff's α over everyone. This aggregates. " +
    "`Accept: text/csv` gives the matrix.",
  request: {
    params: ProjectIdParam,
    query: z.object({
      limit: z.coerce.number().int().min(2).max(200).default(MATRIX_MEMBERS).openapi({ description: "Members in the matrix: those scored on the most images." }),
      members: z
        .string()
        .max(20_000)
        .regex(/^[^,]*(,[^,]*){0,199}$/, "at most 200 members")
        .optional()
        .openapi({ description: "Comma-separated members to show instead (at most 200)." }),
    }),
  },
  responses: {
    200: { description: "The agreement", content: { "application/json": { schema: AgreementSchema }, "text/csv": { schema: z.string() } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

reportRoutes.openapi(agreement, async (c) => {
  const { projectId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, LEADS, "read reports");
  const q = c.req.valid("query");
  const summary = await projectCounters(db, projectId, "agreementSummary");
  const shown = matrixMembers(summary, q.limit, q.members ? q.members.split(",") : null);
  const r = agreementReport([...summary, ...(await pairCounters(db, projectId, pairKeys(shown.members)))], shown);
  if (/\btext\/csv\b/.test(c.req.header("accept") ?? "")) {
    const header = ["a", "b", "images", "shared_regions", "raw_agreement", "kappa_mean", "kappa_images"];
    return c.body(toCsv(header, r.matrix.map((m) => [m.a, m.b, m.images, m.shared_regions, m.raw_agreement, m.kappa_mean, m.kappa_images])), 200, { "Content-Type": "text/csv; charset=utf-8; header=present" });
  }
  return c.json(r, 200);
});
