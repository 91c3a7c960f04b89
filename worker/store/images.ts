import { and, asc, eq, gt, sql, type SQL } from "drizzle-orm";
import { categories, categoryUsage, images, projects, segments, tasks, type ImageRow, type SegmentRow, type TaskRow } from "../../schema/tables.ts";
import { chunk, rowsPerInsert, type Db } from "./db.ts";
import { heldForDraft, type HoldForDraft } from "./tasks.ts";

export async function getImage(db: Db, id: string): Promise<ImageRow | undefined> {
  return db.select().from(images).where(eq(images.id, id)).get();
}

export async function findImageBySha(db: Db, projectId: string, sha: string): Promise<ImageRow | undefined> {
  return db.select().from(images).where(and(eq(images.projectId, projectId), eq(images.imageSha256, sha))).get();
}

export async function findImageByExternalId(db: Db, projectId: string, externalId: string): Promise<ImageRow | undefined> {
  return db.select().from(images).where(and(eq(images.projectId, projectId), eq(images.externalId, externalId))).get();
}

export async function listImages(db: Db, projectId: string, afterId: string | null, limit: number): Promise<ImageRow[]> {
  return db
    .select()
    .from(images)
    .where(and(eq(images.projectId, projectId), afterId ? gt(images.id, afterId) : undefined))
    .orderBy(asc(images.id))
    .limit(limit)
    .all();
}

export interface SegmentWithCategory extends SegmentRow {
  categoryName: string | null;
  isthing: boolean | null;
}

export async function listSegments(db: Db, image: Pick<ImageRow, "id" | "projectId">): Promise<SegmentWithCategory[]> {
  return segmentsWhere(db, image.projectId, eq(segments.imageId, image.id));
}

/** Segments with their categories for any image condition (one image, or an export page). */
export function segmentsWhere(db: Db, projectId: string, imageCondition: SQL | undefined) {
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
      markX: segments.markX,
      markY: segments.markY,
      markDistance: segments.markDistance,
      categoryName: categories.name,
      isthing: categories.isthing,
    })
    .from(segments)
    .leftJoin(categories, and(eq(categories.projectId, projectId), eq(categories.categoryId, segments.categoryId)))
    .where(imageCondition)
    .orderBy(asc(segments.imageId), asc(segments.segmentId));
}

/**
 * The image, its segments, its round-1 tasks and the project's counters commit in one batch.
 * Tasks held for a draft are decided inside their own insert: open at once (starting from it) if
 * the draft is already done, else held; a draft that finishes later opens them in its own batch.
 */
export async function insertImage(db: Db, image: ImageRow, segs: readonly SegmentRow[], taskRows: readonly TaskRow[], hold: HoldForDraft | null = null): Promise<void> {
  const segmentInserts = chunk(segs, rowsPerInsert(13)).map((part) => db.insert(segments).values(part));
  const rows = hold ? taskRows.map((t) => heldForDraft(t, hold)) : taskRows;
  const taskInserts = chunk(rows, rowsPerInsert(22)).map((part) => db.insert(tasks).values(part));
  await db.batch([
    db.insert(images).values(image),
    ...segmentInserts,
    ...taskInserts,
    db
      .update(projects)
      .set({ imageCount: sql`${projects.imageCount} + 1` })
      .where(eq(projects.id, image.projectId)),
    ...categoryUsageUpdate(db, image.projectId, segs),
  ]);
}

/** Counts added, not set: an upsert per category, a statement per 33 categories (one, for nearly every image). */
function categoryUsageUpdate(db: Db, projectId: string, segs: readonly SegmentRow[]) {
  const counts = new Map<number, number>();
  for (const s of segs) counts.set(s.categoryId, (counts.get(s.categoryId) ?? 0) + 1);
  const rows = [...counts].map(([categoryId, n]) => ({ projectId, categoryId, segments: n }));
  return chunk(rows, rowsPerInsert(3)).map((part) =>
    db
      .insert(categoryUsage)
      .values(part)
      .onConflictDoUpdate({ target: [categoryUsage.projectId, categoryUsage.categoryId], set: { segments: sql`${categoryUsage.segments} + excluded.segments` } }),
  );
}

export function isUniqueViolation(err: unknown): boolean {
  return String((err as Error)?.message ?? err).includes("UNIQUE constraint failed");
}
