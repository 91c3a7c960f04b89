import { eq, sql, type SQL } from "drizzle-orm";
import { annotatorCounters, reportCounters, type AnnotatorCounterRow, type ReportCounterRow } from "../../schema/tables.ts";
import { runBatch, type Db } from "./db.ts";

/** A project's counters: every metric, dimension and day, in one indexed statement (the primary key's prefix). */
export async function projectCounters(db: Db, projectId: string): Promise<ReportCounterRow[]> {
  return db.select().from(reportCounters).where(eq(reportCounters.projectId, projectId)).all();
}

export async function projectAnnotatorCounters(db: Db, projectId: string): Promise<AnnotatorCounterRow[]> {
  return db.select().from(annotatorCounters).where(eq(annotatorCounters.projectId, projectId)).all();
}

export type Counted = Omit<ReportCounterRow, "projectId">;
export type PersonCounted = Omit<AnnotatorCounterRow, "projectId">;

const day = (at: SQL) => sql`date((${at}) / 1000, 'unixepoch')`;

/** A metric counted from its source rows as a total and per day, as the triggers count it as it happens. */
function totalAndDaily(metric: SQL, dim: SQL, at: SQL, value: SQL, from: SQL): SQL[] {
  return [
    sql`SELECT ${metric} AS metric, ${dim} AS dim, '' AS day, SUM(${value}) AS value ${from} GROUP BY 1, 2`,
    sql`SELECT ${metric} AS metric, ${dim} AS dim, ${day(at)} AS day, SUM(${value}) AS value ${from} GROUP BY 1, 2, 3`,
  ];
}

const events = (p: string, where: SQL) => sql`FROM task_events e JOIN tasks t ON t.id = e.task_id WHERE t.project_id = ${p} AND ${where}`;
const eventDim = sql`e.round || ':' || e.kind`;
const callDim = sql`c.provider || '|' || c.model || '|' || COALESCE(d.prompt_id || '@v' || d.prompt_version, '')`;
const bucket = sql`CASE WHEN s.duration_ms < 15000 THEN '15' WHEN s.duration_ms < 30000 THEN '30' WHEN s.duration_ms < 60000 THEN '60'
  WHEN s.duration_ms < 120000 THEN '120' WHEN s.duration_ms < 300000 THEN '300' WHEN s.duration_ms < 600000 THEN '600'
  WHEN s.duration_ms < 1200000 THEN '1200' WHEN s.duration_ms < 3600000 THEN '3600' ELSE 'inf' END`;

/**
 * Every counter of a project recounted from the source tables: what the triggers of migration 0012
 * should have arrived at. Aggregates over the project's rows (a handful of statements, each one
 * indexed scan), never per row.
 */
export async function recountProject(db: Db, p: string): Promise<{ counters: Counted[]; people: PersonCounted[] }> {
  const one = sql`1`;
  const queries: SQL[] = [
    ...totalAndDaily(sql`'tasks_created'`, sql`t.round || ':' || t.kind`, sql`t.created_at`, one, sql`FROM tasks t WHERE t.project_id = ${p}`),
    sql`SELECT 'status:' || t.status AS metric, t.round || ':' || t.kind AS dim, '' AS day, COUNT(*) AS value FROM tasks t WHERE t.project_id = ${p} GROUP BY 1, 2`,
    ...totalAndDaily(sql`'claimed'`, eventDim, sql`e.at`, one, events(p, sql`e.to_status = 'leased'`)),
    ...totalAndDaily(sql`'expired'`, eventDim, sql`e.at`, one, events(p, sql`e.from_status = 'leased' AND e.prev_lease_expires < e.at AND e.to_status IN ('open', 'leased')`)),
    ...totalAndDaily(sql`'released'`, eventDim, sql`e.at`, one, events(p, sql`e.from_status = 'leased' AND e.to_status = 'open' AND e.prev_lease_expires >= e.at`)),
    ...totalAndDaily(sql`e.to_status`, eventDim, sql`e.at`, one, events(p, sql`e.to_status IN ('submitted', 'accepted', 'rejected') AND e.from_status != e.to_status`)),
    ...totalAndDaily(sql`'images'`, sql`''`, sql`i.created_at`, one, sql`FROM images i WHERE i.project_id = ${p}`),
    sql`SELECT 'segments' AS metric, '' AS dim, '' AS day, SUM(i.segment_count) AS value FROM images i WHERE i.project_id = ${p} GROUP BY 1, 2`,
    sql`SELECT 'draft_' || d.status AS metric, d.round || '' AS dim, '' AS day, COUNT(*) AS value
      FROM drafts d JOIN images i ON i.id = d.image_id WHERE i.project_id = ${p} AND d.status IN ('ready', 'partial', 'failed') GROUP BY 1, 2`,
    ...[
      [sql`'vlm_calls'`, one, sql`1`],
      [sql`'vlm_failures'`, one, sql`c.outcome != 'ok'`],
      [sql`'vlm_retries'`, one, sql`c.attempt > 1`],
      [sql`'vlm_tokens_in'`, sql`c.tokens_in`, sql`c.tokens_in > 0`],
      [sql`'vlm_tokens_out'`, sql`c.tokens_out`, sql`c.tokens_out > 0`],
    ].flatMap(([metric, value, where]) =>
      totalAndDaily(metric, callDim, sql`c.at`, value, sql`FROM vlm_calls c JOIN drafts d ON d.key = c.draft_key JOIN images i ON i.id = d.image_id WHERE i.project_id = ${p} AND ${where}`),
    ),
    ...totalAndDaily(
      sql`'vlm_dead_letters'`,
      sql`d.provider || '|' || d.model || '|' || d.prompt_id || '@v' || d.prompt_version`,
      sql`l.at`,
      one,
      sql`FROM dead_letters l JOIN drafts d ON d.key = json_extract(l.body, '$.key') JOIN images i ON i.id = d.image_id
        WHERE json_extract(l.body, '$.kind') = 'draft' AND i.project_id = ${p}`,
    ),
    ...totalAndDaily(sql`'consolidated'`, sql`c.round || ''`, sql`c.at`, one, sql`FROM consolidations c JOIN images i ON i.id = c.image_id WHERE i.project_id = ${p}`),
    ...totalAndDaily(sql`'final_versions'`, sql`''`, sql`v.at`, one, sql`FROM final_caption_versions v JOIN images i ON i.id = v.image_id WHERE i.project_id = ${p}`),
    ...totalAndDaily(sql`'finals'`, sql`''`, sql`v.at`, one, sql`FROM final_caption_versions v JOIN images i ON i.id = v.image_id WHERE i.project_id = ${p} AND v.version = 1`),
    sql`SELECT 'stale' AS metric, '' AS dim, '' AS day, COUNT(*) AS value FROM final_captions f WHERE f.project_id = ${p} AND f.stale = 1 GROUP BY 1, 2`,
    ...totalAndDaily(sql`'votes'`, sql`v.study_id`, sql`v.at`, one, sql`FROM votes v JOIN studies st ON st.id = v.study_id WHERE st.project_id = ${p}`),
    ...totalAndDaily(sql`'time_ms'`, sql`s.round || ''`, sql`s.submitted_at`, sql`s.duration_ms`, sql`FROM submissions s WHERE s.project_id = ${p}`),
    sql`SELECT 'time_bucket:' || ${bucket} AS metric, s.round || '' AS dim, '' AS day, COUNT(*) AS value FROM submissions s WHERE s.project_id = ${p} GROUP BY 1, 2`,
  ];
  const stat = (k: string) => sql.raw(`COALESCE(json_extract(f.stats, '$.${k}'), 0)`);
  const cov = (k: string) => sql.raw(`COALESCE(json_extract(f.coverage, '$.${k}'), 0)`);
  const finals = sql`FROM final_captions f WHERE f.project_id = ${p}`;
  const covBucket = (k: string) => sql`CAST(MIN(10, CAST(${cov(k)} * 10 AS INTEGER) + 1) * 10 AS TEXT)`;
  queries.push(
    ...(
      [
        ["ds_captions", sql`COUNT(*)`],
        ["ds_words", sql`SUM(${stat("words")})`],
        ["ds_masks", sql`SUM(${stat("masks")})`],
        ["ds_grounded", sql`SUM(${stat("groundedMasks")})`],
        ["ds_cov_segments", sql`SUM(${cov("segments")})`],
        ["ds_cov_things", sql`SUM(${cov("things")})`],
        ["ds_cov_area", sql`SUM(${cov("area")})`],
      ] as [string, SQL][]
    ).map(([metric, agg]) => sql`SELECT ${metric} AS metric, '' AS dim, '' AS day, ${agg} AS value ${finals} HAVING COUNT(*) > 0`),
    sql`SELECT 'ds_words_bucket' AS metric, CASE WHEN ${stat("words")} >= 400 THEN 'inf' ELSE CAST((CAST(${stat("words")} AS INTEGER) / 50 + 1) * 50 AS TEXT) END AS dim,
      '' AS day, COUNT(*) AS value ${finals} GROUP BY 1, 2`,
    sql`SELECT 'ds_cov_segments_bucket' AS metric, ${covBucket("segments")} AS dim, '' AS day, COUNT(*) AS value ${finals} GROUP BY 1, 2`,
    sql`SELECT 'ds_cov_area_bucket' AS metric, ${covBucket("area")} AS dim, '' AS day, COUNT(*) AS value ${finals} GROUP BY 1, 2`,
    sql`SELECT 'noun' AS metric, n.value AS dim, '' AS day, COUNT(*) AS value FROM final_captions f, json_each(f.stats, '$.nouns') n
      WHERE f.project_id = ${p} AND n.value IS NOT NULL AND n.value != '' GROUP BY 1, 2`,
  );
  const agreeFrom = sql`FROM image_agreement g WHERE g.project_id = ${p}`;
  for (const kind of ["thing", "stuff"]) {
    for (const f of ["n", "bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider_d", "edit_distance"]) {
      const path = `$.kinds.${kind}.${f}`;
      queries.push(
        sql`SELECT ${`agree_${f}`} AS metric, ${kind} AS dim, '' AS day, SUM(json_extract(g.record, ${path})) AS value ${agreeFrom}
          AND json_extract(g.record, ${`$.kinds.${kind}.n`}) > 0 HAVING COUNT(*) > 0`,
      );
    }
  }
  const pairDim = sql`json_extract(x.value, '$.a') || '|' || json_extract(x.value, '$.b')`;
  const pairs = sql`FROM image_agreement g, json_each(g.record, '$.pairs') x WHERE g.project_id = ${p}`;
  queries.push(
    sql`SELECT 'agree_images' AS metric, '' AS dim, '' AS day, COUNT(*) AS value ${agreeFrom} HAVING COUNT(*) > 0`,
    sql`SELECT 'agree_alpha_sum' AS metric, '' AS dim, '' AS day, SUM(json_extract(g.record, '$.alpha')) AS value ${agreeFrom} AND json_extract(g.record, '$.alpha') IS NOT NULL HAVING COUNT(*) > 0`,
    sql`SELECT 'agree_alpha_n' AS metric, '' AS dim, '' AS day, COUNT(*) AS value ${agreeFrom} AND json_extract(g.record, '$.alpha') IS NOT NULL HAVING COUNT(*) > 0`,
    sql`SELECT 'agree_pair_images' AS metric, ${pairDim} AS dim, '' AS day, COUNT(*) AS value ${pairs} GROUP BY 1, 2`,
    sql`SELECT 'agree_pair_shared' AS metric, ${pairDim} AS dim, '' AS day, SUM(json_extract(x.value, '$.shared')) AS value ${pairs} GROUP BY 1, 2`,
    sql`SELECT 'agree_pair_same' AS metric, ${pairDim} AS dim, '' AS day, SUM(json_extract(x.value, '$.same')) AS value ${pairs} GROUP BY 1, 2`,
    sql`SELECT 'agree_pair_kappa_sum' AS metric, ${pairDim} AS dim, '' AS day, SUM(json_extract(x.value, '$.kappa')) AS value ${pairs} AND json_extract(x.value, '$.kappa') IS NOT NULL GROUP BY 1, 2`,
    sql`SELECT 'agree_pair_kappa_n' AS metric, ${pairDim} AS dim, '' AS day, COUNT(*) AS value ${pairs} AND json_extract(x.value, '$.kappa') IS NOT NULL GROUP BY 1, 2`,
  );
  const counters: Counted[] = [];
  for (const q of queries) counters.push(...(await db.all<Counted>(q)));

  const eff = (k: string) => sql.raw(`COALESCE(json_extract(s.effort, '$.${k}'), 0)`);
  const sums: [string, SQL][] = [
    ["tasks", sql`COUNT(*)`],
    ["time_ms", sql`SUM(s.duration_ms)`],
    ["active_seconds", sql`SUM(COALESCE(s.active_seconds, 0))`],
    ["active_known", sql`SUM(s.active_seconds IS NOT NULL)`],
    ["edit_distance", sql`SUM(${eff("totalDistance")})`],
    ["draft_words", sql`SUM(${eff("totalDraftWords")})`],
    ["regions", sql`SUM(${eff("regions")})`],
    ["regions_unchanged", sql`SUM(${eff("accepted")})`],
    ["regions_skipped", sql`SUM(${eff("skipped")})`],
    ["edit_rate_sum", sql`SUM(${eff("editRate")})`],
  ];
  const people: PersonCounted[] = [];
  const personQueries: SQL[] = [
    ...sums.map(([metric, agg]) => sql`SELECT s.subject AS subject, s.round AS round, ${metric} AS metric, ${agg} AS value FROM submissions s WHERE s.project_id = ${p} GROUP BY 1, 2`),
    sql`SELECT s.subject AS subject, s.round AS round, 'time_bucket:' || ${bucket} AS metric, COUNT(*) AS value FROM submissions s WHERE s.project_id = ${p} GROUP BY 1, 2, 3`,
    sql`SELECT s.subject AS subject, s.round AS round, CASE r.decision WHEN 'accept' THEN 'accepted' ELSE 'rejected' END AS metric, COUNT(*) AS value
      FROM reviews r JOIN submissions s ON s.id = r.submission_id WHERE s.project_id = ${p} GROUP BY 1, 2, 3`,
    sql`SELECT r.subject AS subject, s.round AS round, 'reviews' AS metric, COUNT(*) AS value FROM reviews r JOIN submissions s ON s.id = r.submission_id WHERE s.project_id = ${p} GROUP BY 1, 2`,
    sql`SELECT r.subject AS subject, s.round AS round, 'review_rejections' AS metric, COUNT(*) AS value
      FROM reviews r JOIN submissions s ON s.id = r.submission_id WHERE s.project_id = ${p} AND r.decision = 'reject' GROUP BY 1, 2`,
    sql`SELECT subject, round, 'last_active' AS metric, MAX(at) AS value FROM (
        SELECT s.subject AS subject, s.round AS round, s.submitted_at AS at FROM submissions s WHERE s.project_id = ${p}
        UNION ALL SELECT r.subject, s.round, r.at FROM reviews r JOIN submissions s ON s.id = r.submission_id WHERE s.project_id = ${p})
      GROUP BY 1, 2`,
  ];
  for (const q of personQueries) people.push(...(await db.all<PersonCounted>(q)));
  return { counters, people };
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
