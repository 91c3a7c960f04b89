import type { BallotRow, StudyRow, StudyVoterRow, VoteChoice, VoteRow } from "../../schema/tables.ts";
import { fail } from "../domain/errors.ts";
import { ulid } from "../domain/ids.ts";
import { stableHash } from "../domain/stable-hash.ts";
import { isRepeatChosen } from "../domain/study-plan.ts";
import { runBatch, type Db } from "../store/db.ts";
import { replayOf, requestHash, type Replay } from "../store/idempotency.ts";
import { voteContext, voteStatements } from "../store/votes.ts";

/** A swapped repeat comes back after this many more votes, so the voter does not just remember the last screen. */
export const REPEAT_GAP = 3;
const ROUTE = "POST /v1/ballots/{ballotId}/vote";

export interface VoteInput {
  lease_token: string;
  choice: VoteChoice;
  reasons?: { A?: string[]; B?: string[] };
  active_ms?: number;
}

export interface CastVote {
  vote: VoteRow;
  voterVotes: number;
}

/** The sources shown as A (left) and B (right) on a ballot. */
export function sidesOf(ballot: Pick<BallotRow, "a" | "b" | "swapped">): { A: string; B: string } {
  return ballot.swapped ? { A: ballot.b, B: ballot.a } : { A: ballot.a, B: ballot.b };
}

/**
 * A vote on a ballot the voter holds: checked against the study's design (ties, reason codes),
 * then written as one batch that also moves the counters and hands out the next gold ballot or a
 * swapped repeat when one falls due. A retry with the same Idempotency-Key gets the first answer.
 */
export async function castVote(
  db: Db,
  ballotId: string,
  voter: string,
  key: string,
  input: VoteInput,
  studyOf: (studyId: string) => Promise<StudyRow>,
  answerOf: (v: CastVote, study: StudyRow) => unknown,
  /** Runs once the vote is known not to be a replay, before anything is written (the caller's rate limit). */
  admit: () => Promise<void> = async () => {},
): Promise<Replay> {
  const hash = await requestHash(ROUTE, { ballotId, input });
  const context = await voteContext(db, ballotId, voter, key);
  // Another voter's ballot does not exist for this one: a participant never learns of others' ballots.
  if (!context || context.ballot.leaseOwner !== voter) throw fail.notFound(`ballot ${ballotId}`);
  const study = await studyOf(context.ballot.studyId);
  const earlier = replayOf(context.answer, key, ROUTE, hash);
  if (earlier) return earlier;
  await admit();
  const { ballot } = context;
  const now = Date.now();
  if (study.status !== "open") throw fail.conflict(`study ${study.id} is ${study.status}: it takes no votes`);
  if (ballot.status === "voted") throw fail.conflict(`ballot ${ballotId} already has your vote`, { vote_id: ballot.voteId });
  if (ballot.status !== "leased" || ballot.leaseToken !== input.lease_token) {
    throw fail.conflict(`the lease token does not match ballot ${ballotId}'s lease; claim the next ballot again`);
  }
  if ((ballot.leaseExpires ?? 0) < now) throw fail.conflict(`the lease of ballot ${ballotId} expired at ${new Date(ballot.leaseExpires!).toISOString()}; claim the next ballot again`);
  const design = study.design;
  if (input.choice === "tie" && !design.allowTies) throw fail.validation([{ path: "body.choice", message: "this study does not allow ties: choose A or B" }]);
  const allowed = new Set(design.reasons);
  const sides = sidesOf(ballot);
  const reasons: VoteRow["reasons"] = [];
  for (const side of ["A", "B"] as const) {
    for (const [i, code] of (input.reasons?.[side] ?? []).entries()) {
      if (!allowed.has(code)) {
        throw fail.validation([{ path: `body.reasons.${side}[${i}]`, message: allowed.size ? `"${code}" is not one of this study's reason codes: ${design.reasons.join(", ")}` : "this study has no reason codes" }]);
      }
      if (!reasons.some((r) => r.source === sides[side] && r.code === code)) reasons.push({ source: sides[side], code });
    }
  }
  const voterRow = context.voter as StudyVoterRow;
  const vote: VoteRow = {
    id: `vot_${ulid(now)}`,
    studyId: study.id,
    ballotId: ballot.id,
    pairId: ballot.pairId,
    imageId: ballot.imageId,
    kind: ballot.kind,
    a: ballot.a,
    b: ballot.b,
    left: sides.A,
    choice: input.choice,
    winner: input.choice === "tie" ? null : sides[input.choice],
    voter,
    reasons,
    activeMs: input.active_ms ?? null,
    durationMs: Math.max(0, now - (ballot.leasedAt ?? now)),
    leasedAt: ballot.leasedAt ?? now,
    at: now,
  };
  const voterVotes = voterRow.votes + 1;
  const share = design.gold.share;
  const gold = study.goldPairs > 0 && share > 0 ? { share, phase: stableHash(`${study.seed}:gold:${voter}`) % Math.max(1, Math.round(1 / share)), order: 1 + (stableHash(`${study.seed}:order:${voter}`) % 2_000_000_000) } : null;
  const repeat = ballot.kind === "pair" && isRepeatChosen(study.seed, voter, ballot.position, design.flipShare) ? { id: `bal_${randomHex(13)}`, dueAfter: voterVotes + REPEAT_GAP } : null;
  const body = answerOf({ vote, voterVotes }, study);
  const results = await runBatch(db.$client, voteStatements(db, { vote, ballot, now, gold, repeat, answer: { key, route: ROUTE, hash, status: 201, body } }));
  const cast = results[0]?.meta?.changes ?? 0;
  if (cast !== 1) throw fail.conflict(`ballot ${ballotId}'s lease ended before the vote was written (it expired, or the study closed); nothing was recorded`);
  return { status: 201, body };
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}
