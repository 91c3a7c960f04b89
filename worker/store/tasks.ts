import { and, eq, sql } from "drizzle-orm";
import { images, tasks, type ImageRow, type TaskKind, type TaskRow } from "../../schema/tables.ts";
import { ulid } from "../domain/ids.ts";
import { NORMAL_PRIORITY } from "../domain/lease.ts";
import type { Db } from "./db.ts";
import { segmentsQuery, type SegmentWithCategory } from "./images.ts";

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
    leaseExpires: null,
    leasedAt: null,
    createdAt: now,
    updatedAt: now,
    ...t,
  };
}

export function editTaskRows(projectId: string, imageId: string, round: number, slots: number, now: number): TaskRow[] {
  return Array.from({ length: slots }, (_, slot) => openTask({ projectId, imageId, round, kind: "edit", slot }, now));
}

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
 * The lease, and where the work starts when that is known without reading anything: rework starts
 * from the rejected submission, and a template project's round 1 from the template.
 */
const leaseFor = (r: ClaimRequest) => ({
  status: "leased" as const,
  leaseOwner: r.subject,
  leaseToken: r.token,
  leaseExpires: r.now + r.leaseMs,
  leasedAt: r.now,
  updatedAt: r.now,
  startKey: sql`${tasks.reworkOf}`,
  startSource: sql`CASE WHEN ${tasks.reworkOf} IS NOT NULL THEN 'rework' WHEN ${r.templateStart ? 1 : 0} = 1 AND ${tasks.round} = 1 THEN 'template' ELSE NULL END`,
});

const notHeldBy = (subject: string) =>
  sql`NOT EXISTS (SELECT 1 FROM image_workers w WHERE w.image_id = t.image_id AND w.round = t.round AND w.subject = ${subject})`;

/**
 * The claim: one UPDATE whose subquery walks the queue index (project, round, kind, status,
 * priority, id) and stops at the first task this person may take. No task can be leased twice:
 * the outer WHERE re-checks the status inside the same statement, and D1 runs statements one at
 * a time. Expired leases are a separate, equally indexed attempt (never an OR in this predicate).
 */
function claimOpenQuery(db: Db, r: ClaimRequest) {
  return db
    .update(tasks)
    .set(leaseFor(r))
    .where(
      sql`${tasks.id} = (
        SELECT t.id FROM tasks t INDEXED BY tasks_queue
        WHERE t.project_id = ${r.projectId} AND t.round = ${r.round} AND t.kind = ${r.kind} AND t.status = 'open'
          AND t.exclude_subject != ${r.subject} AND ${notHeldBy(r.subject)}
        ORDER BY t.priority, t.id
        LIMIT 1
      ) AND ${tasks.status} = 'open'`,
    )
    .returning();
}

/** The second attempt: a lease that ran out and that the sweep has not reopened yet. */
function claimExpiredQuery(db: Db, r: ClaimRequest) {
  return db
    .update(tasks)
    .set(leaseFor(r))
    .where(
      sql`${tasks.id} = (
        SELECT t.id FROM tasks t INDEXED BY tasks_expiry
        WHERE t.status = 'leased' AND t.lease_expires < ${r.now}
          AND t.project_id = ${r.projectId} AND t.round = ${r.round} AND t.kind = ${r.kind}
          AND t.exclude_subject != ${r.subject} AND ${notHeldBy(r.subject)}
        ORDER BY t.lease_expires
        LIMIT 1
      ) AND ${tasks.status} = 'leased' AND ${tasks.leaseExpires} < ${r.now}`,
    )
    .returning();
}

export interface Claimed {
  task: TaskRow;
  image: ImageRow;
  segments: SegmentWithCategory[];
}

/**
 * A claim and everything its lease payload needs from the database, in one round trip: the
 * claim's UPDATE, then the image and its segments found through the new lease token (the caller
 * made the token, so the batch can name the task it is about to lease). An empty first attempt is
 * followed by the expired-lease attempt, also one round trip.
 */
export async function claimWithImage(db: Db, r: ClaimRequest): Promise<Claimed | null> {
  const leased = sql`(SELECT image_id FROM tasks INDEXED BY tasks_owner WHERE lease_owner = ${r.subject} AND status = 'leased' AND lease_token = ${r.token})`;
  for (const attempt of [claimOpenQuery, claimExpiredQuery]) {
    const [taskRows, imageRows, segs] = await db.batch([
      attempt(db, r),
      db.select().from(images).where(sql`${images.id} = ${leased}`),
      segmentsQuery(db, { id: leased, projectId: r.projectId }),
    ]);
    if (taskRows.length === 1 && imageRows.length === 1) return { task: taskRows[0], image: imageRows[0], segments: segs };
  }
  return null;
}

export async function recordStart(db: Db, taskId: string, token: string, startKey: string | null, startSource: string): Promise<void> {
  await db.update(tasks).set({ startKey, startSource }).where(and(eq(tasks.id, taskId), eq(tasks.leaseToken, token)));
}

export async function getTask(db: Db, id: string): Promise<TaskRow | undefined> {
  return db.select().from(tasks).where(eq(tasks.id, id)).get();
}

/** Extends a live lease held with `token`; undefined when it expired or is not the caller's. */
export async function heartbeat(db: Db, id: string, token: string, now: number, leaseMs: number): Promise<TaskRow | undefined> {
  return db
    .update(tasks)
    .set({ leaseExpires: now + leaseMs })
    .where(and(eq(tasks.id, id), eq(tasks.leaseToken, token), eq(tasks.status, "leased"), sql`${tasks.leaseExpires} >= ${now}`))
    .returning()
    .get();
}

const reopened = (now: number) =>
  ({ status: "open", leaseOwner: null, leaseToken: null, leaseExpires: null, leasedAt: null, startKey: null, startSource: null, updatedAt: now }) as const;

export async function release(db: Db, id: string, token: string, now: number): Promise<TaskRow | undefined> {
  return db
    .update(tasks)
    .set(reopened(now))
    .where(and(eq(tasks.id, id), eq(tasks.leaseToken, token), eq(tasks.status, "leased")))
    .returning()
    .get();
}

/** The scheduled sweep: every expired lease back to open, through the expiry index. */
export async function reopenExpired(db: Db, now: number): Promise<number> {
  const rows = await db
    .update(tasks)
    .set(reopened(now))
    .where(and(eq(tasks.status, "leased"), sql`${tasks.leaseExpires} < ${now}`))
    .returning({ id: tasks.id })
    .all();
  return rows.length;
}

export async function tasksOfImage(db: Db, imageId: string, round: number, kind: TaskKind): Promise<TaskRow[]> {
  return db.select().from(tasks).where(and(eq(tasks.imageId, imageId), eq(tasks.round, round), eq(tasks.kind, kind))).orderBy(tasks.id).all();
}

/** The live lease a person holds under `token` (a retried, keyed claim), with its image and segments. */
export async function heldWithToken(db: Db, subject: string, token: string): Promise<Claimed | null> {
  const task = await db
    .select()
    .from(tasks)
    .where(and(eq(tasks.leaseOwner, subject), eq(tasks.status, "leased"), eq(tasks.leaseToken, token), sql`${tasks.leaseExpires} >= ${Date.now()}`))
    .get();
  if (!task) return null;
  const [imageRows, segs] = await db.batch([db.select().from(images).where(eq(images.id, task.imageId)), segmentsQuery(db, { id: task.imageId, projectId: task.projectId })]);
  return imageRows[0] ? { task, image: imageRows[0], segments: segs } : null;
}
