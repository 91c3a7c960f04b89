import { is, SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import * as tables from "../../schema/tables.ts";

export type Db = ReturnType<typeof makeDb>;

const makeDb = (d1: D1Database) => drizzle(d1, { schema: tables });

/** One Drizzle instance per binding: building one walks the whole schema, and prepared queries are cached per instance. */
const instances = new WeakMap<D1Database, Db>();

export function dbOf(d1: D1Database): Db {
  let db = instances.get(d1);
  if (!db) instances.set(d1, (db = makeDb(d1)));
  return db;
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

const dialect = new SQLiteSyncDialect();

/** A statement for a D1 batch: raw SQL, or a Drizzle query (anything that can say its SQL and parameters). */
export type Statement = SQL | { toSQL(): { sql: string; params: unknown[] } };

export function prepared(d1: D1Database, q: Statement): D1PreparedStatement {
  const { sql: text, params } = is(q, SQL) ? dialect.sqlToQuery(q) : q.toSQL();
  return d1.prepare(text).bind(...params);
}

/**
 * One D1 batch (one transaction) of raw and Drizzle statements alike, with D1's own results: rows
 * of RETURNING clauses, and `meta.changes` for a guarded statement's caller to see whether it won.
 */
export async function runBatch(d1: D1Database, statements: readonly Statement[]): Promise<D1Result[]> {
  return d1.batch(statements.map((s) => prepared(d1, s)));
}
