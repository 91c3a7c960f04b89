import type { StudyRow } from "../../schema/tables.ts";
import { studyResults, type StudyResults } from "../domain/study-results.ts";
import type { Db } from "../store/db.ts";
import { goldAnswers } from "../store/studies.ts";
import { excludedVoters } from "../store/voters.ts";
import { allVotes } from "../store/votes.ts";

/**
 * A study's results from its votes: three reads (votes, gold answers, exclusions), then the pure
 * statistics of `domain/study-results.ts`. `ms` is the computing time alone, for Server-Timing.
 */
export async function studyResultsOf(db: Db, study: StudyRow, o: { includeExcluded: boolean; resamples: number; seed: number }): Promise<{ results: StudyResults; ms: number }> {
  const [votes, gold, excluded] = await Promise.all([allVotes(db, study.id), goldAnswers(db, study.id), excludedVoters(db, study.id)]);
  const started = performance.now();
  const results = studyResults({
    sources: study.design.sources,
    k: study.design.votesPerPair,
    allowTies: study.design.allowTies,
    pairsPlanned: study.pairs,
    votes: votes.map((v) => ({
      pairId: v.pairId,
      imageId: v.imageId,
      kind: v.kind,
      a: v.a,
      b: v.b,
      left: v.left,
      winner: v.winner,
      voter: v.voter,
      reasons: v.reasons,
      activeMs: v.activeMs,
      durationMs: v.durationMs,
      goldAnswer: gold.get(v.pairId) ?? null,
      repeatOf: v.kind === "repeat" ? v.pairId : null,
    })),
    excluded,
    includeExcluded: o.includeExcluded,
    qc: study.design.qc,
    resamples: o.resamples,
    seed: o.seed,
  });
  return { results, ms: performance.now() - started };
}
