import { asc, eq } from "drizzle-orm";
import { drafts, taskEvents } from "../../schema/tables.ts";
import type { Db } from "./db.ts";

/**
 * The most rows of one kind an image's history shows. An image's history is small by nature (a few
 * drafts, tens of task events); the cap keeps a pathological one (a lease that expires again and
 * again) from making the response unbounded. The route says which kinds were cut.
 */
export const HISTORY_LIMIT = 500;

export async function draftsOfImage(db: Db, imageId: string, limit = HISTORY_LIMIT) {
  return db.select().from(drafts).where(eq(drafts.imageId, imageId)).orderBy(asc(drafts.createdAt)).limit(limit + 1).all();
}

export async function taskEventsOfImage(db: Db, imageId: string, limit = HISTORY_LIMIT) {
  return db.select().from(taskEvents).where(eq(taskEvents.imageId, imageId)).orderBy(asc(taskEvents.id)).limit(limit + 1).all();
}
