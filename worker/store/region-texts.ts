import { and, asc, eq, sql } from "drizzle-orm";
import { adjudications, consolidations, finalCaptions, regionTexts } from "../../schema/tables.ts";
import type { Db } from "./db.ts";

export async function finalRegionTexts(db: Db, imageId: string) {
  return db.select().from(regionTexts).where(eq(regionTexts.imageId, imageId)).orderBy(asc(regionTexts.segmentId)).all();
}

export async function getConsolidation(db: Db, imageId: string, round: number) {
  return db.select().from(consolidations).where(and(eq(consolidations.imageId, imageId), eq(consolidations.round, round))).get();
}

export async function listAdjudications(db: Db, imageId: string, limit?: number) {
  const q = db.select().from(adjudications).where(eq(adjudications.imageId, imageId)).orderBy(asc(adjudications.id));
  return limit === undefined ? q.all() : q.limit(limit).all();
}

/**
 * A lead's override: the new text and its record land together. The version guards a lost update,
 * and the record and the stale marks are guarded by this write's own id, which only its own update
 * can have set: a writer that lost the race leaves no record and marks nothing.
 */
export async function adjudicate(
  db: Db,
  a: { imageId: string; segmentId: number; text: string | null; previousText: string | null; reason: string | null; subject: string; expectedVersion: number; now: number },
): Promise<boolean> {
  const writeId = crypto.randomUUID();
  const mine = and(eq(regionTexts.imageId, a.imageId), eq(regionTexts.segmentId, a.segmentId), eq(regionTexts.writeId, writeId));
  const [updated] = await db.batch([
    db
      .update(regionTexts)
      .set({ text: a.text, source: "adjudicated", version: sql`${regionTexts.version} + 1`, writeId, updatedBy: a.subject, updatedAt: a.now })
      .where(and(eq(regionTexts.imageId, a.imageId), eq(regionTexts.segmentId, a.segmentId), eq(regionTexts.version, a.expectedVersion)))
      .returning({ version: regionTexts.version }),
    db.insert(adjudications).select(
      db
        .select({
          id: sql<number>`NULL`.as("id"),
          imageId: sql<string>`${a.imageId}`.as("image_id"),
          segmentId: sql<number>`${a.segmentId}`.as("segment_id"),
          text: sql<string | null>`${a.text}`.as("text"),
          previousText: sql<string | null>`${a.previousText}`.as("previous_text"),
          reason: sql<string | null>`${a.reason}`.as("reason"),
          subject: sql<string>`${a.subject}`.as("subject"),
          at: sql<number>`${a.now}`.as("at"),
        })
        .from(regionTexts)
        .where(mine),
    ),
    // Lineage: the final caption was built on the old text, so it is stale now, and listed for rework.
    db
      .update(finalCaptions)
      .set({ stale: true, staleReason: `region ${a.segmentId} was adjudicated (v${a.expectedVersion + 1})`, updatedAt: a.now })
      .where(
        and(
          eq(finalCaptions.imageId, a.imageId),
          sql`EXISTS (SELECT 1 FROM region_texts WHERE image_id = ${a.imageId} AND segment_id = ${a.segmentId} AND write_id = ${writeId})`,
        ),
      ),
  ]);
  return (updated as unknown[]).length === 1;
}
