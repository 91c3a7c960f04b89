import { and, asc, eq, gt, sql } from "drizzle-orm";
import { ballots, studies, studyVoters, votes, type BallotRow, type StudyVoterRow, type VoteRow } from "../../schema/tables.ts";
import type { Db, Statement } from "./db.ts";


import { fromJsonObject, jsonObjectOf } from "./json-rows.ts";
import type { StoredAnswer } from "./tasks.ts";

/** Everything a vote reads, in ONE statement: the ballot, its voter's row and the caller's earlier answer under the key. */
export async function voteContext(db: Db, ballotId: string, voter: string, key: string): Promise<{ ballot: BallotRow; voter: StudyVoterRow | null; answer: StoredAnswer | null } | null> {
  const raw = await db
    .select({
      ballot: sql<string>`${jsonObjectOf(ballots, "b")}`,
      voter: sql<string | null>`(SELECT ${jsonObjectOf(studyVoters, "v")} FROM study_voters v WHERE v.study_id = b.study_id AND v.voter = ${voter})`,
      answer: sql<string | null>`(SELECT json_object('route', k.route, 'requestHash', k.request_hash, 'status', k.status, 'response', k.response)
        FROM idempotency k WHERE k.subject = ${voter} AND k.key = ${key})`,
    })
    .from(sql`ballots b`)
    .where(sql`b.id = ${ballotId}`)
    .get();
  if (!raw) return null;
  return {
    ballot: fromJsonObject(ballots, JSON.parse(raw.ballot) as Record<string, unknown>),
    voter: raw.voter ? fromJsonObject(studyVoters, JSON.parse(raw.voter) as Record<string, unknown>) : null,
    answer: raw.answer ? (JSON.parse(raw.answer) as StoredAnswer) : null,
  };
}

export interface VoteWrite {
  vote: VoteRow;
  ballot: BallotRow;
  now: number;
  /** A gold ballot to hand this voter next, when one falls due (share × votes, from a per-voter phase). */
  gold: { share: number; phase: number; order: number } | null;
  /** A swapped repeat of this pair, shown to the same voter after `after` more votes. */
  repeat: { id: string; dueAfter: number } | null;
  answer: { key: string; route: string; hash: string; status: number; body: unknown };
}

/**
 * A vote as one batch: the ballot leaves its lease for `voted` (only from the live lease this
 * voter holds with this token, in an open study), and every other statement is guarded by that
 * change having happened (the ballot carrying this vote's id): the vote, the voter's and the
 * study's counters, the next gold ballot or repeat, and the idempotency record.
 */
export function voteStatements(db: Db, w: VoteWrite) {
  const { vote, ballot, now } = w;
  const cast = sql`EXISTS (SELECT 1 FROM ballots c WHERE c.id = ${ballot.id} AND c.vote_id = ${vote.id})`;
  const statements: Statement[] = [
    db
      .update(ballots)
      .set({ status: "voted", voteId: vote.id, updatedAt: now })
      .where(
        and(
          eq(ballots.id, ballot.id),
          sql`${ballots.status} = 'leased'`,
          eq(ballots.leaseOwner, vote.voter),
          eq(ballots.leaseToken, ballot.leaseToken!),
          sql`${ballots.leaseExpires} >= ${now}`,
          sql`EXISTS (SELECT 1 FROM studies s WHERE s.id = ${ballot.studyId} AND s.status = 'open')`,
        ),
      ),
    sql`INSERT INTO votes (id, study_id, ballot_id, pair_id, image_id, kind, a, b, "left", choice, winner, voter, reasons, active_ms, duration_ms, leased_at, at)
      SELECT ${vote.id}, ${vote.studyId}, ${vote.ballotId}, ${vote.pairId}, ${vote.imageId}, ${vote.kind}, ${vote.a}, ${vote.b}, ${vote.left}, ${vote.choice},
        ${vote.winner}, ${vote.voter}, ${JSON.stringify(vote.reasons)}, ${vote.activeMs}, ${vote.durationMs}, ${vote.leasedAt}, ${vote.at} WHERE ${cast}`,
    db
      .update(studyVoters)
      .set({ votes: sql`${studyVoters.votes} + 1`, lastVoteAt: now })
      .where(and(eq(studyVoters.studyId, vote.studyId), eq(studyVoters.voter, vote.voter), cast)),
  ];
  if (vote.kind === "pair") {
    statements.push(db.update(studies).set({ votes: sql`${studies.votes} + 1` }).where(and(eq(studies.id, vote.studyId), cast)));
  }
  if (w.gold) {
    // Due when this voter's gold ballots fall behind share × (votes + phase); each gold pair at most once per voter.
    statements.push(
      sql`INSERT INTO ballots (id, study_id, pair_id, position, slot, kind, status, image_id, a, b, assigned_to, due_after, swapped, created_at, updated_at)
        SELECT 'bal_' || lower(hex(randomblob(13))), p.study_id, p.id, p.position, 0, 'gold', 'open', p.image_id, p.a, p.b, ${vote.voter},
          (SELECT v.votes FROM study_voters v WHERE v.study_id = ${vote.studyId} AND v.voter = ${vote.voter}), 0, ${now}, ${now}
        FROM study_pairs p INDEXED BY study_pairs_kind
        WHERE p.study_id = ${vote.studyId} AND p.kind = 'gold'
          AND NOT EXISTS (SELECT 1 FROM ballots g INDEXED BY ballots_assigned WHERE g.study_id = ${vote.studyId} AND g.assigned_to = ${vote.voter} AND g.pair_id = p.id)
          AND (SELECT COUNT(*) FROM ballots g INDEXED BY ballots_assigned WHERE g.study_id = ${vote.studyId} AND g.assigned_to = ${vote.voter} AND g.kind = 'gold')
            < CAST(${w.gold.share} * ((SELECT v.votes FROM study_voters v WHERE v.study_id = ${vote.studyId} AND v.voter = ${vote.voter}) + ${w.gold.phase}) AS INTEGER)
          AND ${cast}
        ORDER BY ((p.position + 1) * ${w.gold.order}) % 2147483647 LIMIT 1`,
    );
  }
  if (w.repeat) {
    statements.push(
      sql`INSERT INTO ballots (id, study_id, pair_id, position, slot, kind, status, image_id, a, b, assigned_to, due_after, repeat_of, swapped, created_at, updated_at)
        SELECT ${w.repeat.id}, ${ballot.studyId}, ${ballot.pairId}, ${ballot.position}, 0, 'repeat', 'open', ${ballot.imageId}, ${ballot.a}, ${ballot.b}, ${vote.voter},
          ${w.repeat.dueAfter}, ${ballot.id}, 0, ${now}, ${now} WHERE ${cast}`,
    );
  }
  const a = w.answer;
  statements.push(
    sql`INSERT INTO idempotency (subject, key, route, request_hash, status, response, at)
      SELECT ${vote.voter}, ${a.key}, ${a.route}, ${a.hash}, ${a.status}, ${JSON.stringify(a.body)}, ${now} WHERE ${cast}`,
  );
  return statements;
}

export async function getVote(db: Db, id: string): Promise<VoteRow | undefined> {
  return db.select().from(votes).where(eq(votes.id, id)).get();
}

/** A study's votes in id order, a page at a time (the results read all of them; exports page). */
export async function listVotes(db: Db, studyId: string, afterId: string | null, limit: number): Promise<VoteRow[]> {
  return db
    .select()
    .from(votes)
    .where(and(eq(votes.studyId, studyId), afterId ? gt(votes.id, afterId) : undefined))
    .orderBy(asc(votes.id))
    .limit(limit)
    .all();
}

/** Votes per statement when reading them all: a page stays a few MB, however large the study. */
const ALL_VOTES_PAGE = 10_000;

/** Every vote of a study, a page per statement in id order (a plan holds at most 200,000 ballots: 20 statements). */
export async function allVotes(db: Db, studyId: string): Promise<VoteRow[]> {
  const out: VoteRow[] = [];
  let after: string | null = null;
  for (;;) {
    const page: VoteRow[] = await listVotes(db, studyId, after, ALL_VOTES_PAGE);
    out.push(...page);
    if (page.length < ALL_VOTES_PAGE) return out;
    after = page[page.length - 1].id;
  }
}
