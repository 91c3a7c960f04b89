import { drizzle } from "drizzle-orm/d1";
import * as tables from "../../schema/tables.ts";

export type Db = ReturnType<typeof dbOf>;

export function dbOf(d1: D1Database) {
  return drizzle(d1, { schema: tables });
}

/** D1 binds at most 100 parameters per statement: rows per multi-row insert for a column count. */
export function rowsPerInsert(columns: number): number {
  return Math.max(1, Math.floor(100 / columns));
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
