import { and, eq, getTableColumns, Placeholder, sql } from "drizzle-orm";
import { ballots, images, type BallotRow, type ImageRow } from "../../schema/tables.ts";
import type { Db } from "./db.ts";
import { groupCommit, type GroupCommit } from "./group-commit.ts";
import { fromDriverRow, fromJsonObject, jsonObjectOf } from "./json-rows.ts";

/**
 * The lease engine for votes. A ballot claim is what a task claim is: ONE `UPDATE … RETURNING`
 * whose subqueries each walk one partial index and stop at the first ballot this voter may take,
 * re-checked in the same statement (D1 runs statements one at a time, so no ballot is leased
 * twice), returning the ballot with its image and both captions. The picks, first that finds one:
 *   1. the live ballot the voter already holds (a reload gets the same ballot, same token);
 *   2. a personal ballot now due (a gold pair, a swapped repeat), in the order they fell due;
 *   3. the next open shared ballot of a pair the voter never held (plan order, so pairs fill up);
 *   4. a shared ballot whose lease ran out and the sweep has not reopened yet;
 *   5. a personal ballot not due yet, when nothing else is left.
 * They are joined by COALESCE, never by OR in one predicate, so each keeps its own index.
 */

const bound = (name: keyof BallotClaimValues) => sql`${sql.placeholder(name)}`;

export interface BallotClaimValues {
  studyId: string;
  voter: string;
  token: string;
  now: number;
  expires: number;
  /** Most ballots a voter may answer; -1: no limit. */
  quota: number;
  /** The voter's starting side, 0 or 1 (from a hash of the voter): see `sides`. */
  parity: 0 | 1;
}

const votesSoFar = sql`(SELECT v.votes FROM study_voters v WHERE v.study_id = ${bound("studyId")} AND v.voter = ${bound("voter")})`;

const heldPick = sql`SELECT h.id FROM ballots h INDEXED BY ballots_held
  WHERE h.study_id = ${bound("studyId")} AND h.lease_owner = ${bound("voter")} AND h.status = 'leased' AND h.lease_expires >= ${bound("now")} LIMIT 1`;

const personalPick = sql`SELECT p.id FROM ballots p INDEXED BY ballots_personal
  WHERE p.study_id = ${bound("studyId")} AND p.assigned_to = ${bound("voter")} AND p.status = 'open' AND p.kind != 'pair'
    AND p.due_after <= ${votesSoFar} ORDER BY p.due_after LIMIT 1`;

/** Last: a personal ballot not yet due, when nothing else is left (so a voter's last repeats are not lost). */
const personalAnyPick = sql`SELECT p.id FROM ballots p INDEXED BY ballots_personal
  WHERE p.study_id = ${bound("studyId")} AND p.assigned_to = ${bound("voter")} AND p.status = 'open' AND p.kind != 'pair' ORDER BY p.due_after LIMIT 1`;

const neverHeld = sql`NOT EXISTS (SELECT 1 FROM pair_voters w WHERE w.pair_id = t.pair_id AND w.voter = ${bound("voter")})`;

const openPick = sql`SELECT t.id FROM ballots t INDEXED BY ballots_open_queue
  WHERE t.study_id = ${bound("studyId")} AND t.status = 'open' AND t.kind = 'pair' AND ${neverHeld} ORDER BY t.position, t.slot LIMIT 1`;

const expiredPick = sql`SELECT t.id FROM ballots t INDEXED BY ballots_lease_expiry
  WHERE t.status = 'leased' AND t.lease_expires < ${bound("now")} AND t.study_id = ${bound("studyId")} AND t.kind = 'pair' AND ${neverHeld}
  ORDER BY t.lease_expires LIMIT 1`;

const heldNow = sql`("ballots"."status" = 'leased' AND "ballots"."lease_owner" = ${bound("voter")} AND "ballots"."lease_expires" >= ${bound("now")})`;

/**
 * Counterbalancing: a voter's n-th ballot of one source pair shows the pair's first source on the
 * left when n + parity is even, so every voter sees each source on the left in half of its pairs,
 * and, the parity being drawn per voter, a crowd whose members answer one or two ballots each
 * still sees each source on the left half the time. Gold pairs alternate likewise; a repeat shows
 * the sides its original did not.
 */
const sides = sql`CASE
  WHEN ${heldNow} THEN "ballots"."swapped"
  WHEN "ballots"."kind" = 'repeat' THEN 1 - COALESCE((SELECT o.swapped FROM ballots o WHERE o.id = "ballots"."repeat_of"), 0)
  WHEN "ballots"."kind" = 'gold' THEN ((SELECT COUNT(*) FROM ballots m INDEXED BY ballots_voter
    WHERE m.study_id = "ballots"."study_id" AND m.lease_owner = ${bound("voter")} AND m.kind = 'gold') + ${bound("parity")}) % 2
  ELSE ((SELECT COUNT(*) FROM ballots m INDEXED BY ballots_voter
    WHERE m.study_id = "ballots"."study_id" AND m.lease_owner = ${bound("voter")} AND m.kind = 'pair' AND m.a = "ballots"."a" AND m.b = "ballots"."b") + ${bound("parity")}) % 2
  END`;

/** The voter may take ballots: joined, not excluded, under quota, and the study is open. */
const mayVote = sql`EXISTS (SELECT 1 FROM study_voters v WHERE v.study_id = ${bound("studyId")} AND v.voter = ${bound("voter")}
    AND v.excluded = 0 AND (${bound("quota")} < 0 OR v.votes < ${bound("quota")}))
  AND EXISTS (SELECT 1 FROM studies s WHERE s.id = ${bound("studyId")} AND s.status = 'open')`;

const captionOf = (side: "a" | "b") =>
  sql<string | null>`(SELECT json_object('text', c.text) FROM study_captions c
    WHERE c.study_id = "ballots"."study_id" AND c.source = "ballots"."${sql.raw(side)}" AND c.image_id = "ballots"."image_id")`;

const withPayload = {
  ...getTableColumns(ballots),
  imageJson: sql<string | null>`(SELECT ${jsonObjectOf(images, "i")} FROM images i WHERE i.id = "ballots"."image_id")`.as("imageJson"),
  captionA: captionOf("a").as("captionA"),
  captionB: captionOf("b").as("captionB"),
  votesSoFar: sql<number | null>`${votesSoFar}`.as("votesSoFar"),
};

interface Prepared {
  statement: D1PreparedStatement;
  params: ({ name: keyof BallotClaimValues } | { value: unknown })[];
}
const claimStatements = new WeakMap<D1Database, Prepared>();

function claimStatement(db: Db): Prepared {
  const d1 = db.$client;
  let prepared = claimStatements.get(d1);
  if (!prepared) {
    const query = db
      .update(ballots)
      .set({
        status: "leased",
        leaseOwner: bound("voter"),
        leaseToken: sql`CASE WHEN ${heldNow} THEN "ballots"."lease_token" ELSE ${bound("token")} END`,
        leaseExpires: bound("expires"),
        leasedAt: sql`CASE WHEN ${heldNow} THEN "ballots"."leased_at" ELSE ${bound("now")} END`,
        swapped: sides,
        updatedAt: bound("now"),
      })
      .where(
        sql`"ballots"."id" = COALESCE((${heldPick}), (${personalPick}), (${openPick}), (${expiredPick}), (${personalAnyPick}))
          AND ("ballots"."status" = 'open' OR ("ballots"."status" = 'leased' AND ("ballots"."lease_expires" < ${bound("now")} OR "ballots"."lease_owner" = ${bound("voter")})))
          AND ${mayVote}`,
      )
      .returning(withPayload)
      .toSQL();
    const params = query.params.map((p): Prepared["params"][number] => (p instanceof Placeholder ? { name: p.name as keyof BallotClaimValues } : { value: p }));
    claimStatements.set(d1, (prepared = { statement: d1.prepare(query.sql), params }));
  }
  return prepared;
}

export interface ClaimedBallot {
  ballot: BallotRow;
  image: ImageRow;
  /** The captions of the pair's sources a and b (the route puts them on the sides `swapped` says). */
  textA: string;
  textB: string;
  votesSoFar: number;
}

/** A ballot claim: one statement, shared with whatever else is in flight through group commit. */
export async function claimBallot(db: Db, values: BallotClaimValues, commit: GroupCommit | null = groupCommit(db.$client)): Promise<{ claimed: ClaimedBallot | null; batch: number }> {
  const { statement, params } = claimStatement(db);
  const bound = statement.bind(...params.map((p) => ("name" in p ? values[p.name] : p.value)));
  const committed = commit ? await commit.run(bound) : { result: await bound.all(), batch: 1 };
  const raw = committed.result.results[0] as Record<string, unknown> | undefined;
  return { claimed: raw ? claimedOf(raw) : null, batch: committed.batch };
}

function claimedOf(raw: Record<string, unknown>): ClaimedBallot | null {
  const imageJson = raw.imageJson as string | null;
  const a = raw.captionA as string | null;
  const b = raw.captionB as string | null;
  if (!imageJson || !a || !b) return null;
  return {
    ballot: fromDriverRow(ballots, raw),
    image: fromJsonObject(images, JSON.parse(imageJson) as Record<string, unknown>),
    textA: (JSON.parse(a) as { text: string }).text,
    textB: (JSON.parse(b) as { text: string }).text,
    votesSoFar: Number(raw.votesSoFar ?? 0),
  };
}

export async function getBallot(db: Db, id: string): Promise<BallotRow | undefined> {
  return db.select().from(ballots).where(eq(ballots.id, id)).get();
}

/** Extends a live lease its voter holds with its token. */
export async function extendBallot(db: Db, id: string, voter: string, token: string, now: number, leaseMs: number): Promise<BallotRow | undefined> {
  return db
    .update(ballots)
    .set({ leaseExpires: now + leaseMs, updatedAt: now })
    .where(and(eq(ballots.id, id), eq(ballots.leaseOwner, voter), eq(ballots.leaseToken, token), sql`${ballots.status} = 'leased'`, sql`${ballots.leaseExpires} >= ${now}`))
    .returning()
    .get();
}

const reopened = (now: number) => ({ status: "open" as const, leaseOwner: null, leaseToken: null, leaseExpires: null, leasedAt: null, updatedAt: now });

/** Hands a ballot back (the voter skips it): another voter may take it; this one never gets that pair again. */
export async function releaseBallot(db: Db, id: string, voter: string, token: string, now: number): Promise<BallotRow | undefined> {
  return db
    .update(ballots)
    .set(reopened(now))
    .where(and(eq(ballots.id, id), eq(ballots.leaseOwner, voter), eq(ballots.leaseToken, token), sql`${ballots.status} = 'leased'`))
    .returning()
    .get();
}

/** The sweep: every expired ballot lease back to open, through the expiry index. */
export async function reopenExpiredBallots(db: Db, now: number): Promise<number> {
  const rows = await db
    .update(ballots)
    .set(reopened(now))
    .where(sql`${ballots.status} = 'leased' AND ${ballots.leaseExpires} < ${now}`)
    .returning({ id: ballots.id })
    .all();
  return rows.length;
}

/** Whether a claim by this voter would find a ballot now (for "are you done?", not for claiming). */
export async function hasBallotFor(db: Db, studyId: string, voter: string, now: number): Promise<boolean> {
  const row = await db.get<{ id: string | null }>(sql`SELECT COALESCE(
      (SELECT h.id FROM ballots h INDEXED BY ballots_held WHERE h.study_id = ${studyId} AND h.lease_owner = ${voter} AND h.status = 'leased' AND h.lease_expires >= ${now} LIMIT 1),
      (SELECT p.id FROM ballots p INDEXED BY ballots_personal WHERE p.study_id = ${studyId} AND p.assigned_to = ${voter} AND p.status = 'open' AND p.kind != 'pair' LIMIT 1),
      (SELECT t.id FROM ballots t INDEXED BY ballots_open_queue WHERE t.study_id = ${studyId} AND t.status = 'open' AND t.kind = 'pair'
        AND NOT EXISTS (SELECT 1 FROM pair_voters w WHERE w.pair_id = t.pair_id AND w.voter = ${voter}) LIMIT 1),
      (SELECT t.id FROM ballots t INDEXED BY ballots_lease_expiry WHERE t.status = 'leased' AND t.lease_expires < ${now} AND t.study_id = ${studyId} AND t.kind = 'pair'
        AND NOT EXISTS (SELECT 1 FROM pair_voters w WHERE w.pair_id = t.pair_id AND w.voter = ${voter}) LIMIT 1)) AS id`);
  return Boolean(row?.id);
}
