import { and, asc, eq, gt, sql } from "drizzle-orm";
import { studyInvites, studyVoters, voterExclusions, type StudyInviteRow, type StudyVoterRow } from "../../schema/tables.ts";
import { runBatch, type Db } from "./db.ts";
import { fromDriverRow } from "./json-rows.ts";

export async function getVoter(db: Db, studyId: string, voter: string): Promise<StudyVoterRow | undefined> {
  return db.select().from(studyVoters).where(and(eq(studyVoters.studyId, studyId), eq(studyVoters.voter, voter))).get();
}

/** A voter's first claim makes their row; a second join (a race, a retry) leaves it as it is. */
export async function joinStudy(db: Db, row: Pick<StudyVoterRow, "studyId" | "voter" | "inviteId" | "participantId" | "joinedAt">): Promise<void> {
  await db.insert(studyVoters).values(row).onConflictDoNothing();
}

export async function listVoters(db: Db, studyId: string, afterVoter: string | null, limit: number): Promise<StudyVoterRow[]> {
  return db
    .select()
    .from(studyVoters)
    .where(and(eq(studyVoters.studyId, studyId), afterVoter !== null ? gt(studyVoters.voter, afterVoter) : undefined))
    .orderBy(asc(studyVoters.voter))
    .limit(limit)
    .all();
}

export async function excludedVoters(db: Db, studyId: string): Promise<Set<string>> {
  const rows = await db.select({ voter: studyVoters.voter }).from(studyVoters).where(and(eq(studyVoters.studyId, studyId), eq(studyVoters.excluded, true))).all();
  return new Set(rows.map((r) => r.voter));
}

/** An exclusion (or re-inclusion) and its record, in one batch: the record is written only if the state changed. */
export async function setExcluded(db: Db, studyId: string, voter: string, exclude: boolean, reason: string, subject: string, now: number): Promise<StudyVoterRow | undefined> {
  const [changed] = await runBatch(db.$client, [
    db
      .update(studyVoters)
      .set({ excluded: exclude, excludedReason: exclude ? reason : null })
      .where(and(eq(studyVoters.studyId, studyId), eq(studyVoters.voter, voter), eq(studyVoters.excluded, !exclude)))
      .returning(),
    sql`INSERT INTO voter_exclusions (study_id, voter, action, reason, subject, at)
      SELECT ${studyId}, ${voter}, ${exclude ? "exclude" : "include"}, ${reason}, ${subject}, ${now}
      WHERE changes() = 1`,
  ]);
  return changed.results[0] ? fromDriverRow(studyVoters, changed.results[0] as Record<string, unknown>) : undefined;
}

export async function exclusionsOf(db: Db, studyId: string, voter: string) {
  return db.select().from(voterExclusions).where(and(eq(voterExclusions.studyId, studyId), eq(voterExclusions.voter, voter))).orderBy(asc(voterExclusions.id)).all();
}

export async function insertInvite(db: Db, row: StudyInviteRow): Promise<void> {
  await db.insert(studyInvites).values(row);
}

export async function getInvite(db: Db, id: string): Promise<StudyInviteRow | undefined> {
  return db.select().from(studyInvites).where(eq(studyInvites.id, id)).get();
}

export async function listInvites(db: Db, studyId: string): Promise<StudyInviteRow[]> {
  return db.select().from(studyInvites).where(eq(studyInvites.studyId, studyId)).orderBy(asc(studyInvites.id)).all();
}

/**
 * A participant arriving through an invite: their voter row and the invite's count in one batch,
 * the count moving only for a participant new to the study and only while the invite has room.
 */
export async function admitParticipant(db: Db, invite: StudyInviteRow, voter: string, participantId: string, now: number): Promise<"admitted" | "returning" | "full"> {
  const existing = await getVoter(db, invite.studyId, voter);
  if (existing) return "returning";
  const [counted] = await runBatch(db.$client, [
    db
      .update(studyInvites)
      .set({ participants: sql`${studyInvites.participants} + 1` })
      .where(and(eq(studyInvites.id, invite.id), sql`(${studyInvites.maxParticipants} IS NULL OR ${studyInvites.participants} < ${studyInvites.maxParticipants})`))
      .returning({ id: studyInvites.id }),
    sql`INSERT INTO study_voters (study_id, voter, invite_id, participant_id, votes, excluded, joined_at)
      SELECT ${invite.studyId}, ${voter}, ${invite.id}, ${participantId}, 0, 0, ${now} WHERE changes() = 1
      ON CONFLICT DO NOTHING`,
  ]);
  return counted.results.length ? "admitted" : "full";
}
