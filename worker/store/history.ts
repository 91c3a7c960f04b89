import { asc, eq } from "drizzle-orm";
import { drafts, taskEvents } from "../../schema/tables.ts";
import type { Db } from "./db.ts";

export async function draftsOfImage(db: Db, imageId: string) {
  return db.select().from(drafts).where(eq(drafts.imageId, imageId)).orderBy(asc(drafts.createdAt)).all();
}

export async function taskEventsOfImage(db: Db, imageId: string) {
  return db.select().from(taskEvents).where(eq(taskEvents.imageId, imageId)).orderBy(asc(taskEvents.id)).all();
}
