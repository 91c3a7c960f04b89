import { and, eq, getTableColumns, Placeholder, sql, type SQL } from "drizzle-orm";
import { drafts, images, segments, tasks, type DraftRow, type ImageRow, type TaskKind, type TaskRow } from "../../schema/tables.ts";
import { ulid } from "../domain/ids.ts";
import { NORMAL_PRIORITY } from "../domain/lease.ts";
import type { Db } from "./db.ts";
import type { SegmentWithCategory } from "./images.ts";
import { groupCommit, type GroupCommit } from "./group-commit.ts";
import { fromDriverRow, fromJsonObject, jsonObjectOf } from "./json-rows.ts";

export const newTaskId = () => `tsk_${ulid()}`;

/** A new open task; everything about leases starts empty. */
export function openTask(t: Pick<TaskRow, "projectId" | "imageId" | "round" | "kind" | "slot"> & Partial<TaskRow>, now: number): TaskRow {
  return {
    id: newTaskId(),
    status: "open",
    priority: NORMAL_PRIORITY,
    submissionId: null,
    excludeSubject: "",
    reworkOf: null,
    reworkReason: null,
    leaseOwner: null,
    leaseToken: null,
    startKey: null,
    startSource: null,
    holdUntil: null,
    leaseExpires: null,
    leasedAt: null,
    createdAt: now,
    updatedAt: now,
    ...t,
  };
}

/** The draft a new task waits for, and until when. */
export interface HoldForDraft {
  key: string;
  until: number;
}

const draftStatus = (key: string) => sql`(SELECT d.status FROM drafts d WHERE d.key = ${key})`;

/** Where work starts from a draft in this status: its texts when it is done, the template when it failed; `pending` gives `whilePending`. */
const startSourceFor = (status: SQL, whilePending: SQL) =>
  sql`CASE ${status} WHEN 'ready' THEN 'vlm' WHEN 'partial' THEN 'vlm' WHEN 'failed' THEN 'template-fallback' ELSE ${whilePending} END`;

/**
 * A new task that waits for its draft, decided inside its own insert: open at once (starting from
 * the draft) if the draft is already done, else held; a draft that finishes later opens it in its
 * own batch. Either way the two cannot miss each other.
 */
export function heldForDraft(t: TaskRow, hold: HoldForDraft): TaskRow {
  return {
    ...t,
    status: sql`CASE WHEN COALESCE(${draftStatus(hold.key)}, 'pending') = 'pending' THEN 'held' ELSE 'open' END` as unknown as TaskRow["status"],
    startKey: hold.key,
    startSource: startSourceFor(draftStatus(hold.key), sql`NULL`) as unknown as string,
    holdUntil: hold.until,
  };
}

export function editTaskRows(projectId: string, imageId: string, round: number, slots: number, now: number): TaskRow[] {
  return Array.from({ length: slots }, (_, slot) => openTask({ projectId, imageId, round, kind: "edit", slot }, now));
}

/**
 * The lease indexes are partial (`WHERE status = 'leased'`): SQLite uses one only when the query
 * says so with a literal, which a bound parameter is not when the statement is prepared.
 */
export const isLeased = sql`${tasks.status} = 'leased'`;

export interface ClaimRequest {
  /** The project drafts with the template provider: a task's start is known at claim time. */
  templateStart: boolean;
  projectId: string;
  round: number;
  kind: TaskKind;
  subject: string;
  token: string;
  now: number;
  leaseMs: number;
}

/**
 * A task row with its image and segments (with categories) as JSON, read by correlated subqueries
 * on the task's own columns: in a claim's RETURNING clause these are the leased task's.
 */
const withImage = {
  ...getTableColumns(tasks),
  imageJson: sql<string | null>`(SELECT ${jsonObjectOf(images, "i")} FROM images i WHERE i.id = "tasks"."image_id")`.as("imageJson"),
  segmentsJson: sql<string>`(
    SELECT json_group_array(${jsonObjectOf(segments, "s", { categoryName: sql.raw("c.name"), isthing: sql.raw("c.isthing") })})
    FROM segments s LEFT JOIN categories c ON c.project_id = "tasks"."project_id" AND c.category_id = s.category_id
    WHERE s.image_id = "tasks"."image_id")`.as("segmentsJson"),
  // The draft the work starts from, when the task knows it before the claim (it waited for it, or
  // the template made it with the task).
  draftJson: sql<string | null>`(SELECT ${jsonObjectOf(drafts, "d")} FROM drafts d
    WHERE d.key = "tasks"."start_key" AND "tasks"."start_source" IN ('vlm', 'template', 'template-fallback'))`.as("draftJson"),
  // Round 2 shows the final region texts beside the caption.
  regionTextsJson: sql<string | null>`(SELECT json_group_array(json_object('segmentId', r.segment_id, 'text', r.text))
    FROM region_texts r WHERE r.image_id = "tasks"."image_id" AND "tasks"."round" = 2)`.as("regionTextsJson"),
};

/** The claim's values, as placeholders: the statements are written once, each claim binds these. */
const bound = (name: keyof ClaimValues) => sql`${sql.placeholder(name)}`;

type ClaimValues = {
  subject: string;
  token: string;
  now: number;
  expires: number;
  projectId: string;
  round: number;
  kind: TaskKind;
  templateStart: 0 | 1;
};

/**
 * The lease, and where the work starts when that is known without reading anything: rework starts
 * from the rejected submission, and a template project's round 1 from the template.
 */
const lease = {
  status: "leased" as const,
  leaseOwner: bound("subject"),
  leaseToken: bound("token"),
  leaseExpires: bound("expires"),
  leasedAt: bound("now"),
  updatedAt: bound("now"),
  startKey: sql`CASE WHEN ${tasks.reworkOf} IS NOT NULL THEN ${tasks.reworkOf} ELSE ${tasks.startKey} END`,
  startSource: sql`CASE WHEN ${tasks.reworkOf} IS NOT NULL THEN 'rework' WHEN ${bound("templateStart")} = 1 AND ${tasks.round} = 1 THEN 'template' ELSE ${tasks.startSource} END`,
};

const notHeldBySubject = sql`NOT EXISTS (SELECT 1 FROM image_workers w WHERE w.image_id = t.image_id AND w.round = t.round AND w.subject = ${bound("subject")})`;

/** Who may take a task found in a queue: its project, round and kind, not excluded, image not held. */
const mayTake = sql`t.project_id = ${bound("projectId")} AND t.round = ${bound("round")} AND t.kind = ${bound("kind")}
  AND t.exclude_subject != ${bound("subject")} AND ${notHeldBySubject}`;

/**
 * Leases the task `pick` finds (a subquery over one index, ending in LIMIT 1), re-checking
 * `stillFree` within the same statement, and returns it with its image and segments. No task can
 * be leased twice: D1 runs statements one at a time, and the re-check sees any earlier claim.
 */
function leaseFirst(db: Db, pick: SQL, stillFree: SQL): ClaimStatement {
  const query = db
    .update(tasks)
    .set(lease)
    .where(sql`${tasks.id} = (${pick}) AND ${stillFree}`)
    .returning(withImage)
    .toSQL();
  const params = query.params.map((p): ClaimStatement["params"][number] => (p instanceof Placeholder ? { name: p.name as keyof ClaimValues } : { value: p }));
  return { sql: query.sql, params };
}

/** A claim statement as Drizzle wrote it, and what each of its parameters takes: a claim value or a constant. */
interface ClaimStatement {
  sql: string;
  params: ({ name: keyof ClaimValues } | { value: unknown })[];
}

const valuesFor = (params: ClaimStatement["params"], values: ClaimValues) => params.map((p) => ("name" in p ? values[p.name] : p.value));

/**
 * The claim: its subquery walks the open-task queue (a partial index on project, round, kind,
 * priority, id of the open tasks) and stops at the first task this person may take. Expired leases
 * are a separate, equally indexed attempt (never an OR in this predicate).
 */
const claimOpenQuery = (db: Db) =>
  leaseFirst(
    db,
    sql`SELECT t.id FROM tasks t INDEXED BY tasks_open_queue WHERE t.status = 'open' AND ${mayTake} ORDER BY t.priority, t.id LIMIT 1`,
    sql`${tasks.status} = 'open'`,
  );

/** The second attempt: a lease that ran out and that the sweep has not reopened yet. */
const claimExpiredQuery = (db: Db) =>
  leaseFirst(
    db,
    sql`SELECT t.id FROM tasks t INDEXED BY tasks_lease_expiry WHERE t.status = 'leased' AND t.lease_expires < ${bound("now")} AND ${mayTake} ORDER BY t.lease_expires LIMIT 1`,
    sql`${tasks.status} = 'leased' AND ${tasks.leaseExpires} < ${bound("now")}`,
  );

/**
 * The claim is the hot path: its two statements are written once per database binding (and
 * prepared once by D1); each claim only binds its values.
 */
type Prepared = { statement: D1PreparedStatement; params: ClaimStatement["params"] };
const claimStatements = new WeakMap<D1Database, Prepared[]>();

/** The open-queue attempt, then the expired-lease attempt. */
function claimAttempts(db: Db): Prepared[] {
  const d1 = db.$client;
  let attempts = claimStatements.get(d1);
  if (!attempts) {
    attempts = [claimOpenQuery(db), claimExpiredQuery(db)].map((q) => ({ statement: d1.prepare(q.sql), params: q.params }));
    claimStatements.set(d1, attempts);
  }
  return attempts;
}

export interface Claimed {
  task: TaskRow;
  image: ImageRow;
  segments: SegmentWithCategory[];
  /** The draft the task starts from, if it was known at claim time. */
  draft: DraftRow | null;
  /** Round 2: the image's final region texts (segment id → text; null texts left out). */
  regionTexts: Map<number, string> | null;
}

/** A claim's outcome, and how many claims shared its last D1 batch (1: it went alone). */
export interface ClaimOutcome {
  claimed: Claimed | null;
  batch: number;
}

type TaskWithImage = TaskRow & { imageJson: string | null; segmentsJson: string; draftJson: string | null; regionTextsJson: string | null };

const taskWithImageOf = (raw: Record<string, unknown>): TaskWithImage => ({
  ...fromDriverRow(tasks, raw),
  imageJson: raw.imageJson as string | null,
  segmentsJson: raw.segmentsJson as string,
  draftJson: (raw.draftJson as string | null) ?? null,
  regionTextsJson: (raw.regionTextsJson as string | null) ?? null,
});

function claimedOf(row: TaskWithImage | undefined): Claimed | null {
  if (!row?.imageJson) return null;
  const { imageJson, segmentsJson, draftJson, regionTextsJson, ...task } = row;
  const segs = (JSON.parse(segmentsJson) as Record<string, unknown>[]).map((s) => {
    const isthing = s.isthing;
    const seg = fromJsonObject(segments, s) as SegmentWithCategory;
    seg.isthing = isthing === null || isthing === undefined ? null : Boolean(isthing);
    return seg;
  });
  segs.sort((a, b) => a.segmentId - b.segmentId);
  const draft = draftJson ? fromJsonObject(drafts, JSON.parse(draftJson) as Record<string, unknown>) : null;
  const regionTexts =
    task.round === 2 && regionTextsJson
      ? new Map((JSON.parse(regionTextsJson) as { segmentId: number; text: string | null }[]).filter((r) => r.text !== null).map((r) => [r.segmentId, r.text!]))
      : null;
  return { task, image: fromJsonObject(images, JSON.parse(imageJson) as Record<string, unknown>), segments: segs, draft, regionTexts };
}

/**
 * A claim and everything its lease payload needs from the database, in ONE statement: the
 * claim's UPDATE returns the leased task with its image and segments. An empty first attempt is
 * followed by the expired-lease attempt, also one statement. Claims that arrive together share a
 * D1 batch (group commit); each is still its own statement, run one after the other.
 */
export async function claimWithImage(db: Db, r: ClaimRequest, commit: GroupCommit | null = groupCommit(db.$client)): Promise<ClaimOutcome> {
  const values: ClaimValues = {
    subject: r.subject,
    token: r.token,
    now: r.now,
    expires: r.now + r.leaseMs,
    projectId: r.projectId,
    round: r.round,
    kind: r.kind,
    templateStart: r.templateStart ? 1 : 0,
  };
  let batch = 1;
  for (const { statement, params } of claimAttempts(db)) {
    const claim = statement.bind(...valuesFor(params, values));
    const committed = commit ? await commit.run(claim) : { result: await claim.all(), batch: 1 };
    batch = committed.batch;
    const raw = committed.result.results[0] as Record<string, unknown> | undefined;
    const claimed = claimedOf(raw ? taskWithImageOf(raw) : undefined);
    if (claimed) return { claimed, batch };
  }
  return { claimed: null, batch };
}

export async function recordStart(db: Db, taskId: string, token: string, startKey: string | null, startSource: string): Promise<void> {
  await db.update(tasks).set({ startKey, startSource }).where(and(eq(tasks.id, taskId), eq(tasks.leaseToken, token)));
}

export async function getTask(db: Db, id: string): Promise<TaskRow | undefined> {
  return db.select().from(tasks).where(eq(tasks.id, id)).get();
}

/** Extends a live lease that `owner` holds with `token`; undefined when it expired or is not theirs. */
export async function heartbeat(db: Db, id: string, owner: string, token: string, now: number, leaseMs: number): Promise<TaskRow | undefined> {
  return db
    .update(tasks)
    .set({ leaseExpires: now + leaseMs })
    .where(and(eq(tasks.id, id), eq(tasks.leaseToken, token), eq(tasks.leaseOwner, owner), eq(tasks.status, "leased"), sql`${tasks.leaseExpires} >= ${now}`))
    .returning()
    .get();
}

/**
 * A lease back to the queue. A start from a finished draft (the model's, or the template's) stays:
 * the next holder starts from the same draft, and its claim needs no reads. A fallback start is
 * decided again at the next claim, when the draft may be ready.
 */
const reopened = (now: number) => ({
  status: "open" as const,
  leaseOwner: null,
  leaseToken: null,
  leaseExpires: null,
  leasedAt: null,
  startKey: sql`CASE WHEN ${tasks.startSource} IN ('vlm', 'template') THEN ${tasks.startKey} ELSE NULL END`,
  startSource: sql`CASE WHEN ${tasks.startSource} IN ('vlm', 'template') THEN ${tasks.startSource} ELSE NULL END`,
  updatedAt: now,
});

/** Hands back a lease that `owner` holds with `token`: a token alone, however it was learnt, is not enough. */
export async function release(db: Db, id: string, owner: string, token: string, now: number): Promise<TaskRow | undefined> {
  return db
    .update(tasks)
    .set(reopened(now))
    .where(and(eq(tasks.id, id), eq(tasks.leaseToken, token), eq(tasks.leaseOwner, owner), eq(tasks.status, "leased")))
    .returning()
    .get();
}

/**
 * The sweep's other half: tasks that waited for their draft past their time open with what there
 * is (the draft, if it finished after all; else the template, flagged), through the held index.
 */
export async function openHeldPastWait(db: Db, now: number): Promise<number> {
  const rows = await db
    .update(tasks)
    .set({
      status: "open",
      // Past the wait, a draft still pending is no start: the template stands in.
      startSource: startSourceFor(sql`(SELECT d.status FROM drafts d WHERE d.key = ${tasks.startKey})`, sql`'template-fallback'`),
      holdUntil: null,
      updatedAt: now,
    })
    .where(and(sql`${tasks.status} = 'held'`, sql`${tasks.holdUntil} < ${now}`))
    .returning({ id: tasks.id })
    .all();
  return rows.length;
}

/** The scheduled sweep: every expired lease back to open, through the expiry index. */
export async function reopenExpired(db: Db, now: number): Promise<number> {
  const rows = await db
    .update(tasks)
    .set(reopened(now))
    .where(and(isLeased, sql`${tasks.leaseExpires} < ${now}`))
    .returning({ id: tasks.id })
    .all();
  return rows.length;
}

export async function tasksOfImage(db: Db, imageId: string, round: number, kind: TaskKind): Promise<TaskRow[]> {
  return db.select().from(tasks).where(and(eq(tasks.imageId, imageId), eq(tasks.round, round), eq(tasks.kind, kind))).orderBy(tasks.id).all();
}

/** The live lease a person holds under `token` (a retried, keyed claim), with its image and segments. */
export async function heldWithToken(db: Db, subject: string, token: string): Promise<Claimed | null> {
  const row = await db
    .select(withImage)
    .from(tasks)
    .where(and(eq(tasks.leaseOwner, subject), isLeased, eq(tasks.leaseToken, token), sql`${tasks.leaseExpires} >= ${Date.now()}`))
    .get();
  return claimedOf(row);
}

/** A submit's earlier answer under its Idempotency-Key, as stored. */
export interface StoredAnswer {
  route: string;
  requestHash: string;
  status: number;
  response: string;
}

/**
 * Everything a submit reads, in ONE statement: the task with its image, segments and the draft it
 * started from, and the caller's earlier answer under the same Idempotency-Key, if any. Like the
 * claim, the statement is written once per binding and only bound per submit, and it goes through
 * group commit: submits (and claims) arriving together share one D1 round trip.
 */
export async function submitContext(
  db: Db,
  taskId: string,
  subject: string,
  key: string,
  commit: GroupCommit | null = groupCommit(db.$client),
): Promise<(Claimed & { answer: StoredAnswer | null }) | null> {
  const read = submitContextStatement(db);
  const statement = read.statement.bind(...read.params.map((p) => ("name" in p ? { taskId, subject, key }[p.name] : p.value)));
  const result = commit ? (await commit.run(statement)).result : await statement.all();
  const raw = result.results[0] as Record<string, unknown> | undefined;
  if (!raw) return null;
  const claimed = claimedOf(taskWithImageOf(raw));
  const answerJson = raw.answerJson as string | null;
  return claimed && { ...claimed, answer: answerJson ? (JSON.parse(answerJson) as StoredAnswer) : null };
}

type SubmitReadParam = { name: "taskId" | "subject" | "key" } | { value: unknown };
const submitReads = new WeakMap<D1Database, { statement: D1PreparedStatement; params: SubmitReadParam[] }>();

function submitContextStatement(db: Db) {
  const d1 = db.$client;
  let read = submitReads.get(d1);
  if (!read) {
    const query = db
      .select({
        ...withImage,
        answerJson: sql<string | null>`(SELECT json_object('route', k.route, 'requestHash', k.request_hash, 'status', k.status, 'response', k.response)
          FROM idempotency k WHERE k.subject = ${sql.placeholder("subject")} AND k.key = ${sql.placeholder("key")})`.as("answerJson"),
      })
      .from(tasks)
      .where(eq(tasks.id, sql.placeholder("taskId")))
      .toSQL();
    const params = query.params.map((p): SubmitReadParam => (p instanceof Placeholder ? { name: p.name as "taskId" | "subject" | "key" } : { value: p }));
    submitReads.set(d1, (read = { statement: d1.prepare(query.sql), params }));
  }
  return read;
}

/** A Drizzle query of a write batch: anything with the SQL and parameters it would send. */
interface BatchQuery {
  toSQL(): { sql: string; params: unknown[] };
}

/**
 * A request's write batch, atomic as `db.batch` is, through group commit where there is one: the
 * batches of requests arriving together go to D1 in one round trip and one transaction, and one
 * that fails is sent again alone, so its error reaches only the request it came from. Returns how
 * many requests' batches shared the D1 batch.
 */
export async function commitBatch(db: Db, queries: readonly BatchQuery[], commit: GroupCommit | null = groupCommit(db.$client)): Promise<number> {
  if (!commit) {
    await db.batch(queries as unknown as Parameters<Db["batch"]>[0]);
    return 1;
  }
  const d1 = db.$client;
  const { batch } = await commit.runGroup(
    queries.map((q) => {
      const { sql: text, params } = q.toSQL();
      return d1.prepare(text).bind(...params);
    }),
  );
  return batch;
}
