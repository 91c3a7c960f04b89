import type { DraftCaption, DraftRow, ImageRow, ProjectRow, TaskRow } from "../../schema/tables.ts";
import type { SegmentWithCategory } from "../store/images.ts";
import type { Env } from "../env.ts";
import type { Db } from "../store/db.ts";
import { getFinalCaption } from "../store/captions.ts";
import { getDraft } from "../store/drafts.ts";
import { finalRegionTexts } from "../store/region-texts.ts";
import { getSubmission } from "../store/submissions.ts";
import { currentDraft } from "./current-draft.ts";
import { templateFallback, templateRegionTexts } from "./draft.ts";

export type StartSource = "vlm" | "template" | "template-fallback" | "rework";

export interface StartText {
  /** Round 2: the grounded caption to start from. */
  caption?: DraftCaption;
  source: StartSource;
  /** The draft key (vlm, template) or the rejected submission (rework). */
  key: string | null;
  note: string | null;
  texts: Map<number, string>;
  /** Round-2 rework of a stale caption: the segments whose region text changed since the caption was made. */
  changedSegments?: number[];
}


/**
 * What an edit task starts from, decided once at claim time: the rejected text for rework, else
 * the model's draft; while that is missing, pending or failed, the template draft, flagged. A
 * claim never waits on the model.
 */
export async function chooseStart(
  env: Env,
  db: Db,
  image: ImageRow,
  segments: SegmentWithCategory[],
  project: ProjectRow,
  task: TaskRow,
  known: DraftRow | null = null,
  /** Round 2: the final region texts, when the claim returned them. */
  knownTexts: Map<number, string> | null = null,
): Promise<StartText> {
  if (task.reworkOf) {
    const start = await startTexts(db, image, segments, "rework", task.reworkOf, task.reworkReason);
    return task.round === 2 ? withRegionChanges(db, image, start, task.reworkOf, task.reworkReason) : start;
  }
  // A task that waited for its draft starts from it, as the claim returned it: nothing to read.
  if (task.round === 1 && known && task.startKey === known.key) {
    if (task.startSource === "vlm" && known.status !== "failed" && known.status !== "pending") return fromDraft(known, image, segments);
    if (task.startSource === "template-fallback") {
      const note = known.status === "failed" ? `the model's draft failed (${known.problems?.reason ?? "unknown reason"}); template texts instead` : "the model's draft was not ready within the project's wait; template texts instead";
      return { source: "template-fallback", key: known.key, note, texts: templateRegionTexts(image, segments) };
    }
  }
  if (task.round === 2 && known && task.startKey === known.key && (task.startSource === "vlm" || task.startSource === "template") && known.caption) {
    const texts = knownTexts ?? new Map((await finalRegionTexts(db, image.id)).filter((r) => r.text !== null).map((r) => [r.segmentId, r.text!]));
    return { caption: known.caption, source: task.startSource, key: known.key, note: null, texts };
  }
  if (task.round === 2) return chooseCaptionStart(env, db, image, project);
  // The template provider's texts are a pure function of the segments: nothing to read or write.
  if (project.settings.vlm.provider === "template") return { source: "template", key: null, note: null, texts: templateRegionTexts(image, segments) };
  const draft = await currentDraft(env, db, image, project, 1);
  if (draft.state === "ready" && !draft.fallback) return fromDraft(draft.row, image, segments);
  const note =
    draft.state === "ready" ? `the model's draft failed (${draft.row.problems?.reason ?? "unknown reason"}); template texts instead` : "the model's draft is not ready yet; template texts instead";
  return { source: "template-fallback", key: draft.state === "ready" ? draft.row.key : null, note, texts: templateRegionTexts(image, segments) };
}

/** The model's texts over the template's, so regions the model missed still have a start. */
function fromDraft(row: DraftRow, image: ImageRow, segments: SegmentWithCategory[]): StartText {
  const texts = templateRegionTexts(image, segments);
  for (const r of row.regions ?? []) texts.set(r.segmentId, r.text);
  const missing = row.problems?.missingMarks?.length ?? 0;
  return {
    source: row.provider === "template" ? "template" : "vlm",
    key: row.key,
    note: missing ? `${missing} region(s) missing from the model's answer use template texts` : null,
    texts,
  };
}

/** The same start texts again, from what the task recorded (at submission, to measure the edits). */
export async function startTexts(
  db: Db,
  image: ImageRow,
  segments: SegmentWithCategory[],
  source: StartSource,
  key: string | null,
  reworkReason: string | null,
  /** The draft `key` names, when the caller already has it (read with the task). */
  known: DraftRow | null = null,
): Promise<StartText> {
  const template = templateRegionTexts(image, segments);
  if (source === "rework" && key) {
    const rejected = await getSubmission(db, key);
    const texts = new Map(template);
    for (const r of rejected?.regions ?? []) texts.set(r.segmentId, r.text ?? "");
    return { ...(rejected?.caption ? { caption: rejected.caption } : {}), source, key, note: reworkReason ? `rejected: ${reworkReason}` : "rejected", texts };
  }
  if ((source === "vlm" || source === "template") && key) {
    const row = known?.key === key ? known : await getDraft(db, key);
    if (row) return fromDraft(row, image, segments);
  }
  return { source, key, note: null, texts: template };
}

/**
 * Round-2 rework starts from the caption it reworks, beside the region texts as they are now. When
 * that caption is the final one and went stale (a region was adjudicated since), the lease names
 * the regions whose text changed, so the annotator knows what to bring the caption in line with.
 */
async function withRegionChanges(db: Db, image: ImageRow, start: StartText, reworkOf: string, reason: string | null): Promise<StartText> {
  const [regions, final] = await Promise.all([finalRegionTexts(db, image.id), getFinalCaption(db, image.id)]);
  const texts = new Map(regions.filter((r) => r.text !== null).map((r) => [r.segmentId, r.text!]));
  if (!final || final.submissionId !== reworkOf || !final.stale) return { ...start, texts };
  const changedSegments = regions.filter((r) => final.regionVersions[String(r.segmentId)] !== r.version).map((r) => r.segmentId);
  const note = `the final caption (v${final.version}) is stale: ${reason ?? final.staleReason ?? "a region text changed"}; bring it in line with the current text of segment(s) ${changedSegments.join(", ")}`;
  return { ...start, texts, note, changedSegments };
}

/** Round 2 starts from the merge draft: the model's, or the deterministic merge while it is missing. */
async function chooseCaptionStart(env: Env, db: Db, image: ImageRow, project: ProjectRow): Promise<StartText> {
  const texts = new Map((await finalRegionTexts(db, image.id)).filter((r) => r.text !== null).map((r) => [r.segmentId, r.text!]));
  const draft = await currentDraft(env, db, image, project, 2);
  if (draft.state === "ready" && !draft.fallback && draft.row.caption) {
    return { caption: draft.row.caption, source: draft.row.provider === "template" ? "template" : "vlm", key: draft.row.key, note: null, texts };
  }
  const regions = [...texts].map(([segmentId, text]) => ({ segmentId, text }));
  const merged = await templateFallback(db, image, { round: 2, params: { regions } });
  const note = draft.state === "ready" ? "the model's merge failed; deterministic merge instead" : "the model's merge is not ready yet; deterministic merge instead";
  return { caption: merged.caption!, source: "template-fallback", key: draft.state === "ready" ? draft.row.key : null, note, texts };
}

/** Round 2 again at submission time: what the task started from, to measure the edits. */
export async function startCaption(db: Db, image: ImageRow, source: StartSource, key: string | null, known: DraftRow | null = null): Promise<DraftCaption | null> {
  if (source === "rework" && key) return (await getSubmission(db, key))?.caption ?? null;
  if ((source === "vlm" || source === "template") && key) return (known?.key === key ? known : await getDraft(db, key))?.caption ?? null;
  const regions = (await finalRegionTexts(db, image.id)).filter((r) => r.text !== null).map((r) => ({ segmentId: r.segmentId, text: r.text! }));
  return (await templateFallback(db, image, { round: 2, params: { regions } })).caption ?? null;
}
