import { eq } from "drizzle-orm";
import { exportJobs, type ExportJobRow } from "../../schema/tables.ts";
import type { Db } from "./db.ts";

export async function getExportJob(db: Db, id: string): Promise<ExportJobRow | undefined> {
  return db.select().from(exportJobs).where(eq(exportJobs.id, id)).get();
}

export async function insertExportJob(db: Db, row: ExportJobRow): Promise<void> {
  await db.insert(exportJobs).values(row);
}

export async function updateExportJob(db: Db, id: string, changes: Partial<ExportJobRow>): Promise<void> {
  await db.update(exportJobs).set({ ...changes, updatedAt: Date.now() }).where(eq(exportJobs.id, id));
}
