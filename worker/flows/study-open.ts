import type { StudyRow } from "../../schema/tables.ts";
import { fail } from "../domain/errors.ts";
import { ulid } from "../domain/ids.ts";
import { plantError } from "../domain/planted-error.ts";
import { seededRandom } from "../domain/random.ts";
import { planStudy, plantedSource, type PlannedPair } from "../domain/study-plan.ts";
import { runBatch, type Db } from "../store/db.ts";
import { imagesWithSources, openStudyStatements, sourceCaptions, type OpenPlan } from "../store/studies.ts";

/** The most a plan may hold: regular pairs, and ballots (pairs × k), for one opening batch. */
export const MAX_PLAN_PAIRS = 20_000;
export const MAX_PLAN_BALLOTS = 200_000;

export interface OpenedStudy {
  pairs: number;
  goldPairs: number;
  images: number;
  ballots: number;
  plantedSkipped: number;
}

/**
 * Opens a draft study: the images that have every source now, the plan made from the seed
 * (`domain/study-plan.ts`), gold pairs with planted errors, and everything written in one batch
 * guarded by the study's version. From here the plan is frozen.
 */
export async function openStudy(db: Db, study: StudyRow, now: number): Promise<OpenedStudy> {
  const d = study.design;
  const candidates = await imagesWithSources(db, study, d.sources, d.selection.split);
  if (candidates.length === 0) {
    throw fail.unprocessable("study-not-ready", "No images have every source", `no image of project ${study.projectId}${d.selection.split ? ` (split ${d.selection.split})` : ""} has a caption from each of ${d.sources.join(", ")} yet`, { sources: d.sources });
  }
  const inCandidates = new Set(candidates);
  for (const [i, g] of d.gold.marked.entries()) {
    if (!inCandidates.has(g.image_id)) {
      throw fail.unprocessable("gold-not-ready", "A gold pair's image lacks a source", `gold.marked[${i}]: image ${g.image_id} does not have captions from every source of the study`, { path: `design.gold.marked[${i}].image_id` });
    }
  }
  const marked = d.gold.marked.map((g) => ({ imageId: g.image_id, better: g.better, worse: g.worse }));
  const base = planStudy({ seed: study.seed, sources: d.sources, candidates, sample: d.selection.sample, goldMarked: marked, goldPlanted: [] });

  // Planted gold: copies of one source's captions on images of the plan, each with one error.
  const planted: OpenPlan["planted"] = [];
  const plantedOn: { imageId: string; from: string }[] = [];
  const changes = new Map<string, { kind: string; from: string; to: string }>();
  let plantedSkipped = 0;
  if (d.gold.planted) {
    const { count, from } = d.gold.planted;
    const pool = [...base.images];
    const random = seededRandom((study.seed ^ 0x5bd1e995) >>> 0);
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    const texts = await sourceCaptions(db, study, from, pool.slice(0, Math.min(pool.length, count * 2)));
    for (const imageId of pool.slice(0, count * 2)) {
      if (plantedOn.length >= count) break;
      const text = texts.get(imageId);
      const change = text ? plantError(text, (study.seed + plantedOn.length + plantedSkipped) >>> 0) : null;
      if (!change) {
        plantedSkipped++;
        continue;
      }
      plantedOn.push({ imageId, from });
      changes.set(imageId, change.change);
      planted.push({ imageId, source: plantedSource(from), text: change.text, origin: `planted ${change.change.kind} into ${from}: ${JSON.stringify(change.change.from)} → ${JSON.stringify(change.change.to)}` });
    }
  }
  const plan = plantedOn.length ? planStudy({ seed: study.seed, sources: d.sources, candidates, sample: d.selection.sample, goldMarked: marked, goldPlanted: plantedOn }) : base;

  if (plan.pairs.length > MAX_PLAN_PAIRS || plan.pairs.length * d.votesPerPair > MAX_PLAN_BALLOTS) {
    throw fail.unprocessable(
      "plan-too-large",
      "The plan is too large",
      `${plan.pairs.length} pairs × ${d.votesPerPair} votes exceeds ${MAX_PLAN_PAIRS} pairs or ${MAX_PLAN_BALLOTS} ballots; set selection.sample`,
      { pairs: plan.pairs.length },
    );
  }
  const toRow = (p: PlannedPair) => ({
    id: `par_${ulid(now)}`,
    position: p.position,
    imageId: p.imageId,
    a: p.a,
    b: p.b,
    kind: p.kind,
    goldAnswer: p.goldAnswer,
    planted: p.b.startsWith("planted:") || p.a.startsWith("planted:") ? (changes.get(p.imageId) ?? null) : null,
  });
  const rows = [...plan.pairs, ...plan.gold].map(toRow);
  const writeId = crypto.randomUUID();
  const { flip, rest } = openStudyStatements(db, study, { pairs: rows, planted, regular: plan.pairs.length, gold: plan.gold.length }, writeId, now);
  const [flipped] = await runBatch(db.$client, [flip, ...rest]);
  if (flipped.results.length !== 1) throw fail.conflict(`study ${study.id} changed while it was being opened (it is no longer the draft at version ${study.version})`);
  return { pairs: plan.pairs.length, goldPairs: plan.gold.length, images: plan.images.length, ballots: plan.pairs.length * d.votesPerPair, plantedSkipped };
}
