import { and, eq } from "drizzle-orm";
import { exportJobs, type ExportJobRow } from "../../schema/tables.ts";
import type { Db } from "./db.ts";

export async function getExportJob(db: Db, id: string): Promise<ExportJobRow | undefined> {
  return db.select().from(exportJobs).where(eq(exportJobs.id, id)).get();
}

export async function insertExportJob(db: Db, row: ExportJobRow): Promise<void> {
  await db.insert(exportJobs).values(row);
}

type JobChanges = Partial<Omit<ExportJobRow, "id" | "seq" | "updatedAt">>;

/**
 * Moves the job from checkpoint `fromSeq` to the next with `changes`, only if it is still at
 * `fromSeq`: of two deliveries of one message, exactly one advances it. False when another did.
 */
export async function advanceExportJob(db: Db, id: string, fromSeq: number, changes: JobChanges): Promise<boolean> {
  const rows = await db
    .update(exportJobs)
    .set({ ...changes, seq: fromSeq + 1, updatedAt: Date.now() })
    .where(and(eq(exportJobs.id, id), eq(exportJobs.seq, fromSeq)))
    .returning({ id: exportJobs.id })
    .all();
  return rows.length === 1;
}

/** Changes that do not move the job on (an attempt's error, its failure), still only at `atSeq`. */
export async function markExportJob(db: Db, id: string, atSeq: number, changes: JobChanges): Promise<void> {
  await db
    .update(exportJobs)
    .set({ ...changes, updatedAt: Date.now() })
    .where(and(eq(exportJobs.id, id), eq(exportJobs.seq, atSeq)));
}
