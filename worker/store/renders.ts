import { eq } from "drizzle-orm";
import { renders, type RenderRow } from "../../schema/tables.ts";
import type { Db } from "./db.ts";

export async function getRender(db: Db, key: string): Promise<RenderRow | undefined> {
  return db.select().from(renders).where(eq(renders.key, key)).get();
}

/** Two renders of one key are byte-identical, so the first row wins and the second is a no-op. */
export async function saveRender(db: Db, row: RenderRow): Promise<void> {
  await db.insert(renders).values(row).onConflictDoNothing();
}
