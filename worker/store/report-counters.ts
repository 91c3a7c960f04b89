import { and, eq, sql, type SQL } from "drizzle-orm";
import { annotatorCounters, reportCounters, type AnnotatorCounterRow, type ReportCounterRow } from "../../schema/tables.ts";
import { runBatch, type Db } from "./db.ts";

/**
 * Which counters a report reads, as ranges of the primary key (project, metric, …): the agreement
 * matrix alone can hold tens of thousands of rows, which the other reports must not read.
 * ('`' is the character after '_', so [x_, x`) is every metric starting with "x_".)
 */
const SCOPES = {
  all: sql`1`,
  progress: sql`(${reportCounters.metric} < 'agree_' OR (${reportCounters.metric} >= 'agree\`' AND ${reportCounters.metric} < 'ds_')
    OR (${reportCounters.metric} >= 'ds\`' AND ${reportCounters.metric} < 'noun') OR ${reportCounters.metric} > 'noun')`,
  dataset: sql`((${reportCounters.metric} >= 'ds_' AND ${reportCounters.metric} < 'ds\`') OR ${reportCounters.metric} IN ('noun', 'images', 'segments'))`,
  agreement: sql`(${reportCounters.metric} >= 'agree_' AND ${reportCounters.metric} < 'agree\`')`,
  /** The agreement report without the member × member pairs, which it reads for its chosen members only. */
  agreementSummary: sql`((${reportCounters.metric} >= 'agree_' AND ${reportCounters.metric} < 'agree_pair_') OR ${reportCounters.metric} = 'agree_rouge_l')`,
};

export const PAIR_METRICS = ["agree_pair_images", "agree_pair_shared", "agree_pair_same", "agree_pair_kappa_sum", "agree_pair_kappa_n"];

/** The pair counters of the given "a|b" pairs: primary-key lookups, however many pairs the project has. */
export async function pairCounters(db: Db, projectId: string, pairs: readonly string[]): Promise<ReportCounterRow[]> {
  if (pairs.length === 0) return [];
  return db
    .select()
    .from(reportCounters)
    .where(
      and(
        eq(reportCounters.projectId, projectId),
        sql`${reportCounters.metric} IN (SELECT value FROM json_each(${JSON.stringify(PAIR_METRICS)}))`,
        sql`${reportCounters.dim} IN (SELECT value FROM json_each(${JSON.stringify(pairs)}))`,
        eq(reportCounters.day, ""),
      ),
    )
    .all();
}

/** A project's counters for one report (or all of them), in one statement over the primary key. */
export async function projectCounters(db: Db, projectId: string, scope: keyof typeof SCOPES = "all"): Promise<ReportCounterRow[]> {
  return db.select().from(reportCounters).where(and(eq(reportCounters.projectId, projectId), SCOPES[scope])).all();
}

export async function projectAnnotatorCounters(db: Db, projectId: string): Promise<AnnotatorCounterRow[]> {
  return db.select().from(annotatorCounters).where(eq(annotatorCounters.projectId, projectId)).all();
}

export type Counted = Omit<ReportCounterRow, "projectId">;
export type PersonCounted = Omit<AnnotatorCounterRow, "projectId">;

const day = (at: SQL) => sql`date((${at}) / 1000, 'unixepoch')`;

const events = (p: string) => sql`FROM task_events e JOIN tasks t ON t.id = e.task_id WHERE t.project_id = ${p}`;
const callDim = sql`c.provider || '|' || c.model || '|' || COALESCE(d.prompt_id || '@v' || d.prompt_version, '')`;
const bucket = sql`CASE WHEN s.duration_ms < 15000 THEN '15' WHEN s.duration_ms < 30000 THEN '30' WHEN s.duration_ms < 60000 THEN '60'
  WHEN s.duration_ms < 120000 THEN '120' WHEN s.duration_ms < 300000 THEN '300' WHEN s.duration_ms < 600000 THEN '600'
  WHEN s.duration_ms < 1200000 THEN '1200' WHEN s.duration_ms < 3600000 THEN '3600' ELSE 'inf' END`;

/** A recount query: one row per (dim, day) with a column per metric, each named by its metric. */
type Wide = { sql: SQL; metrics: string[]; daily: boolean };

/**
 * Every counter of a project recounted from the source tables: what the triggers of migrations
 * 0012–0014 should have arrived at. A few wide aggregate statements (a column per metric, totals
 * summed from the days here), so that a rebuild fits even the free plan's 50 statements.
 */
export async function recountProject(db: Db, p: string): Promise<{ counters: Counted[]; people: PersonCounted[] }> {
  const stat = (k: string) => sql.raw(`COALESCE(json_extract(f.stats, '$.${k}'), 0)`);
  const cov = (k: string) => sql.raw(`COALESCE(json_extract(f.coverage, '$.${k}'), 0)`);
  const covBucket = (k: string) => sql`CAST(MIN(10, CAST(${cov(k)} * 10 AS INTEGER) + 1) * 10 AS TEXT)`;
  const kinds = ["thing", "stuff"];
  const fields = ["n", "bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider_d", "edit_distance"];
  const pairDim = sql`json_extract(x.value, '$.a') || '|' || json_extract(x.value, '$.b')`;
  const kappa = sql`json_extract(x.value, '$.kappa')`;
  const wides: Wide[] = [
    {
      metrics: ["tasks_created"],
      daily: true,
      sql: sql`SELECT t.round || ':' || t.kind AS dim, ${day(sql`t.created_at`)} AS day, COUNT(*) AS tasks_created FROM tasks t WHERE t.project_id = ${p} GROUP BY 1, 2`,
    },
    {
      metrics: ["claimed", "expired", "released", "submitted", "accepted", "rejected"],
      daily: true,
      sql: sql`SELECT e.round || ':' || e.kind AS dim, ${day(sql`e.at`)} AS day,
        SUM(e.to_status = 'leased') AS claimed,
        SUM(e.from_status = 'leased' AND e.prev_lease_expires < e.at AND e.to_status IN ('open', 'leased')) AS expired,
        SUM(e.from_status = 'leased' AND e.to_status = 'open' AND e.prev_lease_expires >= e.at) AS released,
        SUM(e.to_status = 'submitted' AND e.from_status != 'submitted') AS submitted,
        SUM(e.to_status = 'accepted' AND e.from_status != 'accepted') AS accepted,
        SUM(e.to_status = 'rejected' AND e.from_status != 'rejected') AS rejected
        ${events(p)} GROUP BY 1, 2`,
    },
    {
      metrics: ["images"],
      daily: true,
      sql: sql`SELECT '' AS dim, ${day(sql`i.created_at`)} AS day, COUNT(*) AS images FROM images i WHERE i.project_id = ${p} GROUP BY 1, 2`,
    },
    {
      metrics: ["vlm_calls", "vlm_failures", "vlm_retries", "vlm_tokens_in", "vlm_tokens_out"],
      daily: true,
      sql: sql`SELECT ${callDim} AS dim, ${day(sql`c.at`)} AS day, COUNT(*) AS vlm_calls, SUM(c.outcome != 'ok') AS vlm_failures, SUM(c.attempt > 1) AS vlm_retries,
        SUM(c.tokens_in) AS vlm_tokens_in, SUM(c.tokens_out) AS vlm_tokens_out
        FROM vlm_calls c JOIN drafts d ON d.key = c.draft_key JOIN images i ON i.id = d.image_id WHERE i.project_id = ${p} GROUP BY 1, 2`,
    },
    {
      metrics: ["vlm_dead_letters"],
      daily: true,
      sql: sql`SELECT d.provider || '|' || d.model || '|' || d.prompt_id || '@v' || d.prompt_version AS dim, ${day(sql`l.at`)} AS day, COUNT(*) AS vlm_dead_letters
        FROM dead_letters l JOIN drafts d ON d.key = json_extract(l.body, '$.key') JOIN images i ON i.id = d.image_id
        WHERE json_extract(l.body, '$.kind') = 'draft' AND i.project_id = ${p} GROUP BY 1, 2`,
    },
    {
      metrics: ["consolidated"],
      daily: true,
      sql: sql`SELECT c.round || '' AS dim, ${day(sql`c.at`)} AS day, COUNT(*) AS consolidated FROM consolidations c JOIN images i ON i.id = c.image_id WHERE i.project_id = ${p} GROUP BY 1, 2`,
    },
    {
      metrics: ["final_versions", "finals"],
      daily: true,
      sql: sql`SELECT '' AS dim, ${day(sql`v.at`)} AS day, COUNT(*) AS final_versions, SUM(v.version = 1) AS finals
        FROM final_caption_versions v JOIN images i ON i.id = v.image_id WHERE i.project_id = ${p} GROUP BY 1, 2`,
    },
    {
      metrics: ["votes"],
      daily: true,
      sql: sql`SELECT v.study_id AS dim, ${day(sql`v.at`)} AS day, COUNT(*) AS votes FROM votes v JOIN studies st ON st.id = v.study_id WHERE st.project_id = ${p} GROUP BY 1, 2`,
    },
    {
      metrics: ["time_ms"],
      daily: true,
      sql: sql`SELECT s.round || '' AS dim, ${day(sql`s.submitted_at`)} AS day, SUM(s.duration_ms) AS time_ms FROM submissions s WHERE s.project_id = ${p} GROUP BY 1, 2`,
    },
  ];
  // Counters kept as totals only: one row per (metric, dim), already in long form.
  const longs: SQL[] = [
    sql`SELECT 'status:' || t.status AS metric, t.round || ':' || t.kind AS dim, COUNT(*) AS value FROM tasks t WHERE t.project_id = ${p} GROUP BY 1, 2`,
    sql`SELECT 'segments' AS metric, '' AS dim, SUM(i.segment_count) AS value FROM images i WHERE i.project_id = ${p} HAVING COUNT(*) > 0`,
    sql`SELECT 'draft_' || d.status AS metric, d.round || '' AS dim, COUNT(*) AS value
      FROM drafts d JOIN images i ON i.id = d.image_id WHERE i.project_id = ${p} AND d.status IN ('ready', 'partial', 'failed') GROUP BY 1, 2`,
    sql`SELECT 'stale' AS metric, '' AS dim, COUNT(*) AS value FROM final_captions f WHERE f.project_id = ${p} AND f.stale = 1 HAVING COUNT(*) > 0`,
    sql`SELECT 'time_bucket:' || ${bucket} AS metric, s.round || '' AS dim, COUNT(*) AS value FROM submissions s WHERE s.project_id = ${p} GROUP BY 1, 2`,
    sql`SELECT 'ds_words_bucket' AS metric, CASE WHEN ${stat("words")} >= 400 THEN 'inf' ELSE CAST((CAST(${stat("words")} AS INTEGER) / 50 + 1) * 50 AS TEXT) END AS dim,
      COUNT(*) AS value FROM final_captions f WHERE f.project_id = ${p} GROUP BY 1, 2`,
    sql`SELECT 'ds_cov_segments_bucket' AS metric, ${covBucket("segments")} AS dim, COUNT(*) AS value FROM final_captions f WHERE f.project_id = ${p} GROUP BY 1, 2`,
    sql`SELECT 'ds_cov_area_bucket' AS metric, ${covBucket("area")} AS dim, COUNT(*) AS value FROM final_captions f WHERE f.project_id = ${p} GROUP BY 1, 2`,
    sql`SELECT 'noun' AS metric, n.value AS dim, COUNT(*) AS value FROM final_captions f, json_each(f.stats, '$.nouns') n
      WHERE f.project_id = ${p} AND n.value IS NOT NULL AND n.value != '' GROUP BY 1, 2`,
  ];
  const totalsOnly: Wide[] = [
    {
      metrics: ["ds_captions", "ds_words", "ds_masks", "ds_grounded", "ds_cov_segments", "ds_cov_things", "ds_cov_area"],
      daily: false,
      sql: sql`SELECT '' AS dim, '' AS day, COUNT(*) AS ds_captions, SUM(${stat("words")}) AS ds_words, SUM(${stat("masks")}) AS ds_masks,
        SUM(${stat("groundedMasks")}) AS ds_grounded, SUM(${cov("segments")}) AS ds_cov_segments, SUM(${cov("things")}) AS ds_cov_things, SUM(${cov("area")}) AS ds_cov_area
        FROM final_captions f WHERE f.project_id = ${p}`,
    },
    ...kinds.map((kind) => ({
      metrics: fields.map((f) => `agree_${f}`),
      daily: false,
      sql: sql`SELECT ${kind} AS dim, '' AS day, ${sql.join(
        fields.map((f) => sql`SUM(json_extract(g.record, ${`$.kinds.${kind}.${f}`})) AS ${sql.identifier(`agree_${f}`)}`),
        sql`, `,
      )} FROM image_agreement g WHERE g.project_id = ${p} AND json_extract(g.record, ${`$.kinds.${kind}.n`}) > 0`,
    })),
    {
      metrics: ["agree_images", "agree_alpha_sum", "agree_alpha_n"],
      daily: false,
      sql: sql`SELECT '' AS dim, '' AS day, COUNT(*) AS agree_images, SUM(json_extract(g.record, '$.alpha')) AS agree_alpha_sum,
        SUM(json_extract(g.record, '$.alpha') IS NOT NULL) AS agree_alpha_n FROM image_agreement g WHERE g.project_id = ${p}`,
    },
    {
      metrics: ["agree_pair_images", "agree_pair_shared", "agree_pair_same", "agree_pair_kappa_sum", "agree_pair_kappa_n"],
      daily: false,
      sql: sql`SELECT ${pairDim} AS dim, '' AS day, COUNT(*) AS agree_pair_images, SUM(json_extract(x.value, '$.shared')) AS agree_pair_shared,
        SUM(json_extract(x.value, '$.same')) AS agree_pair_same, SUM(${kappa}) AS agree_pair_kappa_sum, SUM(${kappa} IS NOT NULL) AS agree_pair_kappa_n
        FROM image_agreement g, json_each(g.record, '$.pairs') x WHERE g.project_id = ${p} GROUP BY 1`,
    },
  ];
  const counters = new Map<string, Counted>();
  const add = (metric: string, dim: string, dayKey: string, value: number) => {
    if (!value) return;
    const k = `${metric}\u0000${dim}\u0000${dayKey}`;
    const c = counters.get(k);
    if (c) c.value += value;
    else counters.set(k, { metric, dim, day: dayKey, value });
  };
  for (const w of [...wides, ...totalsOnly]) {
    for (const row of await db.all<Record<string, unknown>>(w.sql)) {
      for (const m of w.metrics) {
        const v = Number(row[m] ?? 0);
        add(m, String(row.dim ?? ""), "", v);
        if (w.daily) add(m, String(row.dim ?? ""), String(row.day), v);
      }
    }
  }
  for (const q of longs) for (const r of await db.all<{ metric: string; dim: string; value: number }>(q)) add(r.metric, r.dim, "", Number(r.value));

  const eff = (k: string) => sql.raw(`COALESCE(json_extract(s.effort, '$.${k}'), 0)`);
  const personMetrics = ["tasks", "time_ms", "active_seconds", "active_known", "edit_distance", "draft_words", "regions", "regions_unchanged", "regions_skipped", "edit_rate_sum"];
  const people = new Map<string, PersonCounted>();
  const addPerson = (subject: string, round: number, metric: string, value: number, max = false) => {
    if (!value) return;
    const k = `${subject}\u0000${round}\u0000${metric}`;
    const c = people.get(k);
    if (c) c.value = max ? Math.max(c.value, value) : c.value + value;
    else people.set(k, { subject, round, metric, value });
  };
  const perSubmitter = await db.all<Record<string, unknown>>(sql`SELECT s.subject AS subject, s.round AS round, COUNT(*) AS tasks, SUM(s.duration_ms) AS time_ms,
    SUM(COALESCE(s.active_seconds, 0)) AS active_seconds, SUM(s.active_seconds IS NOT NULL) AS active_known, SUM(${eff("totalDistance")}) AS edit_distance,
    SUM(${eff("totalDraftWords")}) AS draft_words, SUM(${eff("regions")}) AS regions, SUM(${eff("accepted")}) AS regions_unchanged,
    SUM(${eff("skipped")}) AS regions_skipped, SUM(${eff("editRate")}) AS edit_rate_sum, MAX(s.submitted_at) AS last_active
    FROM submissions s WHERE s.project_id = ${p} GROUP BY 1, 2`);
  for (const r of perSubmitter) {
    for (const m of personMetrics) addPerson(String(r.subject), Number(r.round), m, Number(r[m] ?? 0));
    addPerson(String(r.subject), Number(r.round), "last_active", Number(r.last_active), true);
  }
  for (const r of await db.all<{ subject: string; round: number; metric: string; value: number }>(
    sql`SELECT s.subject AS subject, s.round AS round, 'time_bucket:' || ${bucket} AS metric, COUNT(*) AS value FROM submissions s WHERE s.project_id = ${p} GROUP BY 1, 2, 3`,
  )) {
    addPerson(r.subject, r.round, r.metric, Number(r.value));
  }
  const peers = await db.all<Record<string, unknown>>(
    sql`SELECT json_extract(x.value, '$.subject') AS subject, SUM(json_extract(x.value, '$.n')) AS peer_n, SUM(json_extract(x.value, '$.bleu4')) AS peer_bleu4,
      SUM(json_extract(x.value, '$.rouge_l')) AS peer_rouge_l, SUM(json_extract(x.value, '$.consolidated')) AS consolidated,
      SUM(json_extract(x.value, '$.consolidated_same')) AS consolidated_same, COUNT(*) AS images
      FROM image_agreement g, json_each(g.record, '$.people') x WHERE g.project_id = ${p} GROUP BY 1`,
  );
  for (const r of peers) {
    for (const m of ["peer_n", "peer_bleu4", "peer_rouge_l", "consolidated", "consolidated_same"]) addPerson(String(r.subject), 1, m, Number(r[m] ?? 0));
    add("agree_member_images", String(r.subject), "", Number(r.images));
  }
  const fate = await db.all<{ subject: string; round: number; accepted: number; rejected: number }>(
    sql`SELECT s.subject AS subject, s.round AS round, SUM(r.decision = 'accept') AS accepted, SUM(r.decision = 'reject') AS rejected
      FROM reviews r JOIN submissions s ON s.id = r.submission_id WHERE s.project_id = ${p} GROUP BY 1, 2`,
  );
  for (const r of fate) {
    addPerson(r.subject, r.round, "accepted", Number(r.accepted));
    addPerson(r.subject, r.round, "rejected", Number(r.rejected));
  }
  const reviewers = await db.all<{ subject: string; round: number; reviews: number; rejections: number; last: number }>(
    sql`SELECT r.subject AS subject, s.round AS round, COUNT(*) AS reviews, SUM(r.decision = 'reject') AS rejections, MAX(r.at) AS last
      FROM reviews r JOIN submissions s ON s.id = r.submission_id WHERE s.project_id = ${p} GROUP BY 1, 2`,
  );
  for (const r of reviewers) {
    addPerson(r.subject, r.round, "reviews", Number(r.reviews));
    addPerson(r.subject, r.round, "review_rejections", Number(r.rejections));
    addPerson(r.subject, r.round, "last_active", Number(r.last), true);
  }
  return { counters: [...counters.values()], people: [...people.values()] };
}

/** Rows per insert statement: their values travel as one JSON parameter. */
const JSON_ROWS = 500;

/** A project's counters replaced by a recount, in one batch. */
export async function replaceCounters(db: Db, p: string, counters: readonly Counted[], people: readonly PersonCounted[]): Promise<void> {
  const chunks = <T>(rows: readonly T[]) => Array.from({ length: Math.ceil(rows.length / JSON_ROWS) }, (_, i) => rows.slice(i * JSON_ROWS, (i + 1) * JSON_ROWS));
  await runBatch(db.$client, [
    sql`DELETE FROM report_counters WHERE project_id = ${p}`,
    sql`DELETE FROM annotator_counters WHERE project_id = ${p}`,
    ...chunks(counters).map(
      (part) => sql`INSERT INTO report_counters (project_id, metric, dim, day, value)
        SELECT ${p}, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]')
        FROM json_each(${JSON.stringify(part.map((r) => [r.metric, r.dim, r.day, r.value]))}) j`,
    ),
    ...chunks(people).map(
      (part) => sql`INSERT INTO annotator_counters (project_id, subject, round, metric, value)
        SELECT ${p}, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]')
        FROM json_each(${JSON.stringify(part.map((r) => [r.subject, r.round, r.metric, r.value]))}) j`,
    ),
  ]);
}
