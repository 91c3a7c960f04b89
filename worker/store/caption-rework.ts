import { sql } from "drizzle-orm";
import { ulid } from "../domain/ids.ts";
import { REWORK_PRIORITY } from "../domain/lease.ts";
import type { Db } from "./db.ts";

/**
 * Stale captions back to work: for each stale final caption in scope that has no round-2 edit
 * task under way (open, leased or awaiting review), one round-2 rework task that starts from the
 * current caption. One INSERT … SELECT, whatever the number of captions: a project-wide reopen of
 * 118K stale captions is one statement, and a second reopen finds the work already under way.
 * Task ids keep the ulid's time prefix (queue order) with a random tail drawn by SQLite per row.
 */
export async function reopenStaleCaptions(db: Db, scope: { projectId: string; imageId?: string }, now: number): Promise<{ taskId: string; imageId: string }[]> {
  const prefix = `tsk_${ulid(now).slice(0, 10)}`;
  const rows = await db.all<{ id: string; image_id: string }>(sql`
    INSERT INTO tasks (id, project_id, image_id, round, kind, slot, status, priority, submission_id, exclude_subject, rework_of, rework_reason,
                       lease_owner, lease_token, start_key, start_source, lease_expires, leased_at, created_at, updated_at)
    SELECT ${prefix} || lower(hex(randomblob(8))), fc.project_id, fc.image_id, 2, 'edit', 0, 'open', ${REWORK_PRIORITY}, NULL, '', fc.submission_id,
           COALESCE(fc.stale_reason, 'a region text changed'), NULL, NULL, NULL, NULL, NULL, NULL, ${now}, ${now}
    FROM final_captions fc
    WHERE fc.project_id = ${scope.projectId} ${scope.imageId ? sql`AND fc.image_id = ${scope.imageId}` : sql``} AND fc.stale = 1
      AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.image_id = fc.image_id AND t.round = 2 AND t.kind = 'edit' AND t.status IN ('open', 'leased', 'submitted'))
    RETURNING id, image_id`);
  return rows.map((r) => ({ taskId: r.id, imageId: r.image_id }));
}
