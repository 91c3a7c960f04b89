import { and, asc, eq, gt, sql } from "drizzle-orm";
import { finalCaptions, finalCaptionVersions, type FinalCaptionRow } from "../../schema/tables.ts";
import type { Db } from "./db.ts";

export async function getFinalCaption(db: Db, imageId: string): Promise<FinalCaptionRow | undefined> {
  return db.select().from(finalCaptions).where(eq(finalCaptions.imageId, imageId)).get();
}

/** The new version and its history row, as statements for the batch that accepts the caption. */
export function finalizeStatements(db: Db, row: FinalCaptionRow) {
  // Everything but the row's identity replaces the previous version; a new version is never stale.
  const { imageId: _image, projectId: _project, ...current } = row;
  return [
    db.insert(finalCaptionVersions).values({
      imageId: row.imageId,
      version: row.version,
      text: row.text,
      spans: row.spans,
      submissionId: row.submissionId,
      draftKey: row.draftKey,
      regionVersions: row.regionVersions,
      at: row.updatedAt,
    }),
    db
      .insert(finalCaptions)
      .values(row)
      .onConflictDoUpdate({
        target: finalCaptions.imageId,
        set: { ...current, stale: false, staleReason: null },
      }),
  ] as const;
}

export interface CaptionPageFilter {
  projectId: string;
  stale?: boolean;
  since?: number;
}

/** One page of final captions in image order (keyset on the project index), for listings and exports. */
export async function finalCaptionPage(db: Db, f: CaptionPageFilter, afterImageId: string | null, limit: number): Promise<FinalCaptionRow[]> {
  return db
    .select()
    .from(finalCaptions)
    .where(
      and(
        eq(finalCaptions.projectId, f.projectId),
        afterImageId ? gt(finalCaptions.imageId, afterImageId) : undefined,
        f.stale === undefined ? undefined : eq(finalCaptions.stale, f.stale),
        f.since === undefined ? undefined : sql`${finalCaptions.updatedAt} >= ${f.since}`,
      ),
    )
    .orderBy(asc(finalCaptions.imageId))
    .limit(limit)
    .all();
}
