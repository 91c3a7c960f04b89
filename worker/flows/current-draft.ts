import type { DraftRow, ImageRow, ProjectRow } from "../../schema/tables.ts";
import type { Env } from "../env.ts";
import type { Db } from "../store/db.ts";
import { getDraft, type DraftOutcome } from "../store/drafts.ts";
import { finalRegionTexts } from "../store/region-texts.ts";
import { attemptDraft, claim, draftClaimFor, templateFallback, type RegionText } from "./draft.ts";

export type CurrentDraft =
  | { state: "ready"; row: DraftRow; fallback: DraftOutcome | null }
  | { state: "pending"; key: string }
  | { state: "unavailable"; reason: string };

/** Round 2 drafts from the final round-1 texts; without them there is nothing to merge yet. */
export async function mergeInput(db: Db, imageId: string): Promise<RegionText[] | null> {
  const finals = await finalRegionTexts(db, imageId);
  if (finals.length === 0) return null;
  return finals.filter((r) => r.text !== null).map((r) => ({ segmentId: r.segmentId, text: r.text! }));
}

/**
 * The draft of (image, round) under the project's current settings. A missing draft is started
 * here: the template provider answers at once, a model is asked through the queue (and the caller
 * gets "pending"). Concurrent callers share one claim, so one model call.
 */
export async function currentDraft(env: Env, db: Db, image: ImageRow, project: ProjectRow, round: 1 | 2): Promise<CurrentDraft> {
  const regions = round === 2 ? await mergeInput(db, image.id) : undefined;
  if (regions === null) return { state: "unavailable", reason: "round-2 drafts need the image's final round-1 region texts, which it does not have yet" };
  const spec = await draftClaimFor(image, project, round, regions);
  let row = await getDraft(db, spec.key);
  if (!row || (row.status === "pending" && (row.leaseUntil ?? 0) < Date.now())) {
    const token = await claim(db, spec, false);
    if (token) {
      if (spec.provider === "template") await attemptDraft(env, db, spec.key, token, { final: true, retryBaseMs: 0 });
      else await env.DRAFT_QUEUE.send({ kind: "draft", key: spec.key, token, jobId: null });
    }
    row = await getDraft(db, spec.key);
  }
  if (!row || row.status === "pending") return { state: "pending", key: spec.key };
  return { state: "ready", row, fallback: row.status === "failed" ? await templateFallback(db, image, row) : null };
}
