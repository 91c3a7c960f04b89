import { and, asc, eq, gt, sql, type SQL } from "drizzle-orm";
import {
  studies,
  studyDescribeRequests,
  studyPairs,
  type StudyPairRow,
  type StudyRow,
} from "../../schema/tables.ts";
import type { Db } from "./db.ts";
import { chunk } from "./db.ts";

export async function getStudy(db: Db, id: string): Promise<StudyRow | undefined> {
  return db.select().from(studies).where(eq(studies.id, id)).get();
}

const OPEN_CACHE_MS = 5_000;
const recent = new Map<string, { row: StudyRow; at: number }>();

/**
 * The ballot path's study read, kept a few seconds per isolate: an open study's design is frozen,
 * and what can still change (open → closed) is re-checked by the claim and the vote themselves.
 */
export async function getStudyForBallots(db: Db, id: string): Promise<StudyRow | undefined> {
  const hit = recent.get(id);
  if (hit && Date.now() - hit.at < OPEN_CACHE_MS) return hit.row;
  const row = await getStudy(db, id);
  if (row && row.status !== "draft") recent.set(id, { row, at: Date.now() });
  return row;
}

export function forgetStudy(id: string): void {
  recent.delete(id);
}

export async function insertStudy(db: Db, row: StudyRow): Promise<void> {
  await db.insert(studies).values(row);
}

export async function listStudies(db: Db, projectId: string, afterId: string | null, limit: number): Promise<StudyRow[]> {
  return db
    .select()
    .from(studies)
    .where(and(eq(studies.projectId, projectId), afterId ? gt(studies.id, afterId) : undefined))
    .orderBy(asc(studies.id))
    .limit(limit)
    .all();
}

/** Applies a change to a study still at `expectedVersion` (and, for design changes, still a draft). */
export async function updateStudy(db: Db, id: string, expectedVersion: number, set: Partial<StudyRow>, whileStatus: StudyRow["status"] | null, now: number): Promise<StudyRow | undefined> {
  return db
    .update(studies)
    .set({ ...set, version: sql`${studies.version} + 1`, updatedAt: now })
    .where(and(eq(studies.id, id), eq(studies.version, expectedVersion), whileStatus ? eq(studies.status, whileStatus) : undefined))
    .returning()
    .get();
}

/**
 * Each source's captions as one SELECT of (image_id, text, spans, origin): what a source means,
 * written once, for finding the images that have every source and for copying them into a plan.
 */
export function sourceSelect(source: string, study: Pick<StudyRow, "id" | "projectId">): SQL {
  if (source === "final") {
    return sql`SELECT f.image_id AS image_id, f.text AS text, f.spans AS spans, 'final caption v' || f.version AS origin
      FROM final_captions f WHERE f.project_id = ${study.projectId} AND f.stale = 0`;
  }
  if (source === "merge-draft") {
    return sql`SELECT f.image_id AS image_id, json_extract(d.caption, '$.text') AS text, json_extract(d.caption, '$.spans') AS spans, 'merge draft ' || d.key AS origin
      FROM final_captions f JOIN drafts d ON d.key = f.draft_key WHERE f.project_id = ${study.projectId} AND d.caption IS NOT NULL`;
  }
  if (source.startsWith("import:")) {
    return sql`SELECT c.image_id AS image_id, c.text AS text, NULL AS spans, 'upload ' || c.upload_id || ' line ' || c.line AS origin
      FROM imported_captions c WHERE c.project_id = ${study.projectId} AND c.name = ${source.slice(7)}`;
  }
  if (source.startsWith("vlm:")) {
    return sql`SELECT r.image_id AS image_id, json_extract(d.caption, '$.text') AS text, NULL AS spans, 'describe draft ' || d.key AS origin
      FROM study_describe_requests r JOIN drafts d ON d.key = r.draft_key
      WHERE r.study_id = ${study.id} AND r.source = ${source} AND d.status IN ('ready', 'partial') AND d.caption IS NOT NULL`;
  }
  throw new RangeError(`unknown source ${source}`);
}

/** A study's cap on candidate images read at once (ids only): far above any plan's image count. */
export const MAX_CANDIDATES = 200_000;

/** The project's images (optionally of one split) that have a caption from every one of `sources`, by id. */
export async function imagesWithSources(db: Db, study: Pick<StudyRow, "id" | "projectId">, sources: readonly string[], split: string | null): Promise<string[]> {
  const has = sources.map((s) => sql`i.id IN (SELECT x.image_id FROM (${sourceSelect(s, study)}) x)`);
  const rows = await db.all<{ id: string }>(
    sql`SELECT i.id AS id FROM images i WHERE i.project_id = ${study.projectId}
      ${split ? sql`AND i.split = ${split}` : sql``} ${has.length ? sql`AND ${sql.join(has, sql` AND `)}` : sql``}
      ORDER BY i.id LIMIT ${MAX_CANDIDATES}`,
  );
  return rows.map((r) => r.id);
}

/** The captions one source gives some images (for planting errors into copies, and for checks). */
export async function sourceCaptions(db: Db, study: Pick<StudyRow, "id" | "projectId">, source: string, imageIds: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const ids of chunk(imageIds, 2000)) {
    const rows = await db.all<{ image_id: string; text: string }>(
      sql`SELECT x.image_id AS image_id, x.text AS text FROM (${sourceSelect(source, study)}) x WHERE x.image_id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
    );
    for (const r of rows) out.set(r.image_id, r.text);
  }
  return out;
}

/** How many images have a caption from each source right now (the draft study's readiness). */
export async function sourceCounts(db: Db, study: Pick<StudyRow, "id" | "projectId">, sources: readonly string[], split: string | null): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of sources) {
    const row = await db.get<{ n: number }>(
      sql`SELECT COUNT(*) AS n FROM images i WHERE i.project_id = ${study.projectId} ${split ? sql`AND i.split = ${split}` : sql``}
        AND i.id IN (SELECT x.image_id FROM (${sourceSelect(s, study)}) x)`,
    );
    out[s] = row?.n ?? 0;
  }
  return out;
}

/** Describe drafts a `vlm:` source asked for, by status. */
export async function describeProgress(db: Db, studyId: string): Promise<{ source: string; status: string; n: number }[]> {
  return db.all(
    sql`SELECT r.source AS source, COALESCE(d.status, 'pending') AS status, COUNT(*) AS n
      FROM study_describe_requests r LEFT JOIN drafts d ON d.key = r.draft_key WHERE r.study_id = ${studyId} GROUP BY r.source, COALESCE(d.status, 'pending')`,
  );
}

export function describeRequestRows(db: Db, rows: (typeof studyDescribeRequests.$inferInsert)[]) {
  return chunk(rows, 25).map((part) => db.insert(studyDescribeRequests).values(part).onConflictDoUpdate({ target: [studyDescribeRequests.studyId, studyDescribeRequests.source, studyDescribeRequests.imageId], set: { draftKey: sql`excluded.draft_key` } }));
}

/** Plans' pairs, as JSON arrays of at most this many bytes per statement (D1: 100 KB per statement). */
const JSON_CHUNK_BYTES = 60_000;

function jsonChunks<T>(items: readonly T[]): string[] {
  const out: string[] = [];
  let part: string[] = [];
  let size = 2;
  for (const item of items) {
    const text = JSON.stringify(item);
    if (part.length && size + text.length + 1 > JSON_CHUNK_BYTES) {
      out.push(`[${part.join(",")}]`);
      part = [];
      size = 2;
    }
    part.push(text);
    size += text.length + 1;
  }
  if (part.length) out.push(`[${part.join(",")}]`);
  return out;
}

export interface OpenPlan {
  pairs: Pick<StudyPairRow, "id" | "position" | "imageId" | "a" | "b" | "kind" | "goldAnswer" | "planted">[];
  /** Captions with planted errors: source `planted:<from>`. */
  planted: { imageId: string; source: string; text: string; origin: string }[];
  regular: number;
  gold: number;
}

/**
 * Opening a study, as one batch: the status change (guarded by the study's version, carrying a
 * fresh write id), then the plan's pairs, each source's captions copied for the plan's images, the
 * planted copies, and `k` ballots per regular pair, every statement guarded by that write id. A
 * writer that lost the race changes nothing.
 */
export function openStudyStatements(db: Db, study: StudyRow, plan: OpenPlan, writeId: string, now: number) {
  const guard = sql`EXISTS (SELECT 1 FROM studies st WHERE st.id = ${study.id} AND st.write_id = ${writeId})`;
  const flip = db
    .update(studies)
    .set({ status: "open", writeId, pairs: plan.regular, goldPairs: plan.gold, openedAt: now, updatedAt: now, version: sql`${studies.version} + 1` })
    .where(and(eq(studies.id, study.id), eq(studies.version, study.version), eq(studies.status, "draft")))
    .returning({ id: studies.id });
  const pairRows = plan.pairs.map((p) => [p.id, p.position, p.imageId, p.a, p.b, p.kind, p.goldAnswer, p.planted ? JSON.stringify(p.planted) : null]);
  const pairs = jsonChunks(pairRows).map((json) =>
    sql`INSERT INTO study_pairs (id, study_id, position, image_id, a, b, kind, gold_answer, planted)
      SELECT json_extract(j.value, '$[0]'), ${study.id}, json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]'), json_extract(j.value, '$[5]'), json_extract(j.value, '$[6]'), json_extract(j.value, '$[7]')
      FROM json_each(${json}) j WHERE ${guard}`,
  );
  const planImages = sql`(SELECT p.image_id FROM study_pairs p WHERE p.study_id = ${study.id})`;
  const captions = study.design.sources.map((source) =>
    sql`INSERT INTO study_captions (study_id, source, image_id, text, spans, origin)
      SELECT ${study.id}, ${source}, x.image_id, x.text, x.spans, x.origin FROM (${sourceSelect(source, study)}) x
      WHERE x.image_id IN ${planImages} AND ${guard}`,
  );
  const planted = jsonChunks(plan.planted.map((p) => [p.imageId, p.source, p.text, p.origin])).map((json) =>
    sql`INSERT INTO study_captions (study_id, source, image_id, text, spans, origin)
      SELECT ${study.id}, json_extract(j.value, '$[1]'), json_extract(j.value, '$[0]'), json_extract(j.value, '$[2]'), NULL, json_extract(j.value, '$[3]') FROM json_each(${json}) j WHERE ${guard}`,
  );
  const ballots = sql`INSERT INTO ballots (id, study_id, pair_id, position, slot, kind, status, image_id, a, b, assigned_to, due_after, swapped, created_at, updated_at)
    SELECT 'bal_' || lower(hex(randomblob(13))), p.study_id, p.id, p.position, s.value, 'pair', 'open', p.image_id, p.a, p.b, '', 0, 0, ${now}, ${now}
    FROM study_pairs p, json_each(${JSON.stringify(Array.from({ length: study.design.votesPerPair }, (_, i) => i))}) s
    WHERE p.study_id = ${study.id} AND p.kind = 'pair' AND ${guard}`;
  return { flip, rest: [...pairs, ...captions, ...planted, ballots] };
}

/** The plan's pairs in queue order, a page after `afterPosition`. */
export async function listPairs(db: Db, studyId: string, afterPosition: number, limit: number): Promise<StudyPairRow[]> {
  return db
    .select()
    .from(studyPairs)
    .where(and(eq(studyPairs.studyId, studyId), gt(studyPairs.position, afterPosition)))
    .orderBy(asc(studyPairs.position))
    .limit(limit)
    .all();
}

export async function pairOf(db: Db, id: string): Promise<StudyPairRow | undefined> {
  return db.select().from(studyPairs).where(eq(studyPairs.id, id)).get();
}

/** The answer of every gold pair of a study (a few hundred at most). */
export async function goldAnswers(db: Db, studyId: string): Promise<Map<string, string>> {
  const rows = await db
    .select({ id: studyPairs.id, answer: studyPairs.goldAnswer })
    .from(studyPairs)
    .where(and(eq(studyPairs.studyId, studyId), eq(studyPairs.kind, "gold")))
    .all();
  return new Map(rows.filter((r) => r.answer !== null).map((r) => [r.id, r.answer!]));
}
