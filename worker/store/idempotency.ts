import { and, eq } from "drizzle-orm";
import { idempotency } from "../../schema/tables.ts";
import { cacheKey } from "../domain/cache-key.ts";
import { fail } from "../domain/errors.ts";
import type { Db } from "./db.ts";

export interface Replay {
  status: number;
  body: unknown;
}

export const requestHash = (route: string, body: unknown) => cacheKey({ route, body });

/**
 * The first answer to (subject, key), if there was one. The same key with another request is a
 * client bug, refused rather than silently answered with the other request's result.
 */
export async function replayFor(db: Db, subject: string, key: string, route: string, hash: string): Promise<Replay | null> {
  const row = await db.select().from(idempotency).where(and(eq(idempotency.subject, subject), eq(idempotency.key, key))).get();
  return replayOf(row ?? null, key, route, hash);
}

/** The same decision on an answer read by another statement (a submit reads it with its task). */
export function replayOf(row: { route: string; requestHash: string; status: number; response: string } | null, key: string, route: string, hash: string): Replay | null {
  if (!row) return null;
  if (row.route !== route || row.requestHash !== hash) {
    throw fail.conflict(`Idempotency-Key "${key}" was already used for a different request`, { idempotency_key: key });
  }
  return { status: row.status, body: JSON.parse(row.response) };
}

/** The record to add to the batch that performs the write, so answer and effect commit together. */
export function rememberAnswer(db: Db, subject: string, key: string, route: string, hash: string, status: number, body: unknown, now: number) {
  return db.insert(idempotency).values({ subject, key, route, requestHash: hash, status, response: JSON.stringify(body), at: now });
}
