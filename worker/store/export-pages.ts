import { sql } from "drizzle-orm";
import { categories, images, regionTexts, segments, submissions } from "../../schema/tables.ts";
import type { Db } from "./db.ts";

/** `col IN (ids)` with one JSON parameter, whatever the page size (D1 binds at most 100). */
const inJson = (column: unknown, ids: readonly (string | number)[]) => sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`;

export async function imagesByIds(db: Db, ids: readonly string[]) {
  return db.select().from(images).where(inJson(images.id, ids)).all();
}

export async function segmentsByImages(db: Db, projectId: string, ids: readonly string[]) {
  return db
    .select({
      imageId: segments.imageId,
      segmentId: segments.segmentId,
      categoryId: segments.categoryId,
      iscrowd: segments.iscrowd,
      area: segments.area,
      bboxX: segments.bboxX,
      bboxY: segments.bboxY,
      bboxW: segments.bboxW,
      bboxH: segments.bboxH,
      category: categories.name,
      isthing: categories.isthing,
    })
    .from(segments)
    .leftJoin(categories, sql`${categories.projectId} = ${projectId} AND ${categories.categoryId} = ${segments.categoryId}`)
    .where(inJson(segments.imageId, ids))
    .orderBy(segments.imageId, segments.segmentId)
    .all();
}

export async function regionTextsByImages(db: Db, ids: readonly string[]) {
  return db.select().from(regionTexts).where(inJson(regionTexts.imageId, ids)).orderBy(regionTexts.imageId, regionTexts.segmentId).all();
}

export async function submissionRegionsByIds(db: Db, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db.select({ id: submissions.id, regions: submissions.regions }).from(submissions).where(inJson(submissions.id, ids)).all();
}

