import { sql } from "drizzle-orm";
import { images, regionTexts, segments, submissions } from "../../schema/tables.ts";
import type { Db } from "./db.ts";
import { segmentsWhere } from "./images.ts";

/** `col IN (ids)` with one JSON parameter, whatever the page size (D1 binds at most 100). */
const inJson = (column: unknown, ids: readonly (string | number)[]) => sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`;

export async function imagesByIds(db: Db, ids: readonly string[]) {
  return db.select().from(images).where(inJson(images.id, ids)).all();
}

export async function segmentsByImages(db: Db, projectId: string, ids: readonly string[]) {
  return segmentsWhere(db, projectId, inJson(segments.imageId, ids)).all();
}

export async function regionTextsByImages(db: Db, ids: readonly string[]) {
  return db.select().from(regionTexts).where(inJson(regionTexts.imageId, ids)).orderBy(regionTexts.imageId, regionTexts.segmentId).all();
}

export async function submissionRegionsByIds(db: Db, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db.select({ id: submissions.id, regions: submissions.regions }).from(submissions).where(inJson(submissions.id, ids)).all();
}

