import { and, eq, sql } from "drizzle-orm";
import {
  deadLetters,
  draftJobs,
  drafts,
  tasks,
  vlmCalls,
  type DraftCaption,
  type DraftJobRow,
  type DraftProblems,
  type DraftRegion,
  type DraftRow,
  type DraftStatus,
} from "../../schema/tables.ts";
import type { Db } from "./db.ts";

export async function getDraft(db: Db, key: string): Promise<DraftRow | undefined> {
  return db.select().from(drafts).where(eq(drafts.key, key)).get();
}

export interface DraftClaim {
  key: string;
  imageId: string;
  round: number;
  provider: string;
  model: string;
  promptId: string;
  promptVersion: number;
  params: Record<string, unknown>;
  jobId: string | null;
}

/**
 * Single flight through one D1 statement: the insert wins for a new key; for an existing key only
 * a pending row whose lease has run out (a dead generator) — or, when asked, a failed row — is
 * taken over. The winner's token is the only one allowed to write the result.
 */
export async function claimDraft(db: Db, c: DraftClaim, token: string, now: number, leaseMs: number, retakeFailed: boolean): Promise<boolean> {
  const takeover = retakeFailed
    ? sql`(${drafts.status} = 'pending' AND ${drafts.leaseUntil} < ${now}) OR ${drafts.status} = 'failed'`
    : sql`${drafts.status} = 'pending' AND ${drafts.leaseUntil} < ${now}`;
  const rows = await db
    .insert(drafts)
    .values({ ...c, status: "pending", claimToken: token, leaseUntil: now + leaseMs, attempts: 0, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: drafts.key,
      set: { status: "pending", claimToken: token, leaseUntil: now + leaseMs, jobId: c.jobId, problems: null, updatedAt: now },
      setWhere: takeover,
    })
    .returning({ key: drafts.key })
    .all();
  return rows.length === 1;
}

/** A finished draft, written as part of another batch; a draft already under that key stands. */
export function insertFinishedDraft(db: Db, row: typeof drafts.$inferInsert) {
  return db.insert(drafts).values(row).onConflictDoNothing({ target: drafts.key });
}

/** Extends the lease before an attempt; false when the claim was lost (so the caller must stop). */
export async function renewDraftLease(db: Db, key: string, token: string, now: number, leaseMs: number): Promise<DraftRow | undefined> {
  return db
    .update(drafts)
    .set({ leaseUntil: now + leaseMs, attempts: sql`${drafts.attempts} + 1`, updatedAt: now })
    .where(and(eq(drafts.key, key), eq(drafts.claimToken, token), eq(drafts.status, "pending")))
    .returning()
    .get();
}

export interface CallRecord {
  attempt: number;
  provider: string;
  model: string;
  outcome: string;
  httpStatus: number | null;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
  error: string | null;
}

export interface DraftOutcome {
  status: Exclude<DraftStatus, "pending">;
  regions?: DraftRegion[] | null;
  caption?: DraftCaption | null;
  problems?: DraftProblems | null;
  renderKey?: string | null;
}

/**
 * The draft's result, the call that produced it and its job's counters land in one batch, and only
 * if the claim token still holds (a superseded generator writes nothing).
 */
export async function finishDraft(db: Db, key: string, token: string, outcome: DraftOutcome, call: CallRecord | null, jobId: string | null, now: number): Promise<boolean> {
  const tokensIn = call?.tokensIn ?? 0;
  const tokensOut = call?.tokensOut ?? 0;
  const update = db
    .update(drafts)
    .set({
      status: outcome.status,
      regions: outcome.regions ?? null,
      caption: outcome.caption ?? null,
      problems: outcome.problems ?? null,
      ...(outcome.renderKey !== undefined ? { renderKey: outcome.renderKey } : {}),
      claimToken: null,
      leaseUntil: null,
      tokensIn: sql`${drafts.tokensIn} + ${tokensIn}`,
      tokensOut: sql`${drafts.tokensOut} + ${tokensOut}`,
      updatedAt: now,
    })
    .where(and(eq(drafts.key, key), eq(drafts.claimToken, token), eq(drafts.status, "pending")))
    .returning({ key: drafts.key });
  const owned = sql`EXISTS (SELECT 1 FROM drafts WHERE key = ${key} AND status = ${outcome.status} AND updated_at = ${now} AND claim_token IS NULL)`;
  const statements = [
    update,
    ...(call ? [db.insert(vlmCalls).values({ draftKey: key, ...call, at: now })] : []),
    // The tasks waiting for this draft open now, starting from it (or, if it failed, from the template, flagged).
    db
      .update(tasks)
      .set({ status: "open", startSource: outcome.status === "failed" ? "template-fallback" : "vlm", holdUntil: null, updatedAt: now })
      .where(and(sql`${tasks.status} = 'held'`, eq(tasks.startKey, key), owned)),
    ...(jobId
      ? [
          db
            .update(draftJobs)
            .set({
              ...(outcome.status === "failed" ? { failed: sql`${draftJobs.failed} + 1` } : { done: sql`${draftJobs.done} + 1` }),
              tokensIn: sql`${draftJobs.tokensIn} + ${tokensIn}`,
              tokensOut: sql`${draftJobs.tokensOut} + ${tokensOut}`,
              updatedAt: now,
            })
            .where(and(eq(draftJobs.id, jobId), owned)),
        ]
      : []),
  ] as const;
  const [rows] = await db.batch(statements as unknown as Parameters<Db["batch"]>[0]);
  return (rows as unknown as unknown[]).length === 1;
}

/** A failed attempt that will be retried: the call is recorded and the lease covers the wait. */
export async function recordRetry(db: Db, key: string, token: string, call: CallRecord, leaseUntil: number, now: number): Promise<void> {
  await db.batch([
    db.insert(vlmCalls).values({ draftKey: key, ...call, at: now }),
    db
      .update(drafts)
      .set({ leaseUntil, updatedAt: now })
      .where(and(eq(drafts.key, key), eq(drafts.claimToken, token), eq(drafts.status, "pending"))),
  ]);
}

export async function getJob(db: Db, id: string): Promise<DraftJobRow | undefined> {
  return db.select().from(draftJobs).where(eq(draftJobs.id, id)).get();
}

export async function insertJob(db: Db, row: DraftJobRow): Promise<void> {
  await db.insert(draftJobs).values(row);
}

export async function addToJob(db: Db, jobId: string, delta: { queued: number; skipped: number }, planned: boolean, now: number): Promise<void> {
  await db
    .update(draftJobs)
    .set({
      queued: sql`${draftJobs.queued} + ${delta.queued}`,
      skipped: sql`${draftJobs.skipped} + ${delta.skipped}`,
      ...(planned ? { status: "running" as const } : {}),
      updatedAt: now,
    })
    .where(eq(draftJobs.id, jobId));
}

export async function recordDeadLetter(db: Db, queue: string, body: unknown, reason: string, now: number): Promise<void> {
  await db.insert(deadLetters).values({ queue, body, reason, at: now });
}

/** Fails a claimed draft outside a model call (e.g. after an internal error on the last attempt). */
export async function finishDraftFailed(db: Db, key: string, token: string, reason: string): Promise<void> {
  const row = await getDraft(db, key);
  await finishDraft(db, key, token, { status: "failed", problems: { reason } }, null, row?.jobId ?? null, Date.now());
}
