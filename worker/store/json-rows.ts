import { getTableColumns, sql, type SQL, type Table } from "drizzle-orm";

/**
 * Rows of other tables carried inside one statement as SQLite JSON, keyed by the Drizzle property
 * names. A claim is an UPDATE … RETURNING, and RETURNING may hold correlated subqueries: with
 * these, the lease, its image and its segments come back from one statement instead of a batch of
 * three (on D1 every statement has its own fixed cost, on top of the query itself).
 */
export function jsonObjectOf(table: Table, alias: string, extra: Record<string, SQL> = {}): SQL {
  const pairs = Object.entries(getTableColumns(table)).map(([key, col]) => sql.raw(`'${key}', ${alias}."${col.name}"`));
  for (const [key, value] of Object.entries(extra)) pairs.push(sql`${sql.raw(`'${key}'`)}, ${value}`);
  return sql`json_object(${sql.join(pairs, sql`, `)})`;
}

/** Turns a `jsonObjectOf` object back into the table's row type, through each column's own mapping. */
export function fromJsonObject<T extends Table>(table: T, row: Record<string, unknown>): T["$inferSelect"] {
  return mapColumns(table, row, row, (key) => key);
}

/** A row as D1 returns it (keyed by database column names) in the table's row type. */
export function fromDriverRow<T extends Table>(table: T, raw: Record<string, unknown>): T["$inferSelect"] {
  return mapColumns(table, raw, {}, (_key, name) => name);
}

function mapColumns<T extends Table>(table: T, from: Record<string, unknown>, into: Record<string, unknown>, field: (key: string, name: string) => string): T["$inferSelect"] {
  for (const [key, col] of Object.entries(getTableColumns(table))) {
    const value = from[field(key, col.name)];
    into[key] = value === null || value === undefined ? null : col.mapFromDriverValue(value);
  }
  return into as T["$inferSelect"];
}
