import { and, desc, eq, lt, sql } from "drizzle-orm";
import { reviews, submissions, tasks, type ReviewRow, type SubmissionRow } from "../../schema/tables.ts";
import type { Db } from "./db.ts";
import { isLeased } from "./tasks.ts";

export async function getSubmission(db: Db, id: string): Promise<SubmissionRow | undefined> {
  return db.select().from(submissions).where(eq(submissions.id, id)).get();
}

export async function submissionOfTask(db: Db, taskId: string): Promise<SubmissionRow | undefined> {
  return db.select().from(submissions).where(eq(submissions.taskId, taskId)).get();
}

export async function reviewOf(db: Db, submissionId: string): Promise<ReviewRow | undefined> {
  return db.select().from(reviews).where(eq(reviews.submissionId, submissionId)).get();
}

export async function submissionsOfImage(db: Db, imageId: string, round?: number, limit?: number): Promise<SubmissionRow[]> {
  const q = db
    .select()
    .from(submissions)
    .where(and(eq(submissions.imageId, imageId), round === undefined ? undefined : eq(submissions.round, round)))
    .orderBy(submissions.id);
  return limit === undefined ? q.all() : q.limit(limit).all();
}

export async function reviewsOfImage(db: Db, imageId: string, limit?: number): Promise<ReviewRow[]> {
  const q = db.select().from(reviews).where(eq(reviews.imageId, imageId)).orderBy(reviews.at);
  return limit === undefined ? q.all() : q.limit(limit).all();
}

/** The reviews of these submissions, in one statement whatever their number (one JSON parameter). */
export async function reviewsFor(db: Db, submissionIds: readonly string[]): Promise<ReviewRow[]> {
  if (submissionIds.length === 0) return [];
  return db.select().from(reviews).where(sql`${reviews.submissionId} IN (SELECT value FROM json_each(${JSON.stringify(submissionIds)}))`).all();
}

/** A person's own submissions, newest first, one page before `beforeId`. */
export async function submissionsBy(db: Db, subject: string, beforeId: string | null, limit: number): Promise<SubmissionRow[]> {
  return db
    .select()
    .from(submissions)
    .where(and(eq(submissions.subject, subject), beforeId ? lt(submissions.id, beforeId) : undefined))
    .orderBy(desc(submissions.id))
    .limit(limit)
    .all();
}

/** A person holds few leases at a time; the cap keeps a runaway client's listing bounded. */
export const MAX_LISTED_LEASES = 100;

export async function leasesOf(db: Db, subject: string) {
  return db.select().from(tasks).where(and(eq(tasks.leaseOwner, subject), isLeased)).orderBy(tasks.id).limit(MAX_LISTED_LEASES).all();
}
