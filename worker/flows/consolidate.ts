import { imageAgreement } from "../domain/region-agreement.ts";
import { and, asc, eq, lt } from "drizzle-orm";
import { consolidations, consolidationsDue, imageAgreement as imageAgreementTable, regionTexts, tasks, type ImageRow, type ProjectRow } from "../../schema/tables.ts";
import { consolidateImage } from "../domain/consolidate.ts";
import { editSlots } from "../domain/lease.ts";
import { chunk, rowsPerInsert, type Db } from "../store/db.ts";
import { isUniqueViolation } from "../store/images.ts";
import { reviewsOfImage, submissionsOfImage } from "../store/submissions.ts";
import { editTaskRows, heldForDraft, tasksOfImage } from "../store/tasks.ts";
import type { DraftQueueMessage } from "../env.ts";
import { insertFinishedDraft } from "../store/drafts.ts";
import { listSegments } from "../store/images.ts";
import { draftClaimFor, requestDraft, templateDraftRow } from "./draft.ts";

/**
 * Consolidation is the consequence of an accept, but it reads every submission of the image, so it
 * cannot be decided inside the accept's own batch without racing a concurrent accept. Instead the
 * accept's batch records that the image is due (this statement); the consolidation follows at once,
 * and whatever a failure between the two leaves, the cron sweep finishes. Nothing is lost and, by
 * the consolidation's primary key, nothing is done twice.
 */
export function markConsolidationDue(db: Db, imageId: string, subject: string, now: number) {
  const marker = crypto.randomUUID();
  return db
    .insert(consolidationsDue)
    .values({ imageId, marker, subject, at: now })
    .onConflictDoUpdate({ target: consolidationsDue.imageId, set: { marker, subject, at: now } });
}

/**
 * When every edit slot of an image's round 1 has an accepted submission, its region texts become
 * final (the most central text per region, agreement recorded) and its round-2 tasks are created,
 * all in one batch, which also clears the due marker. The marker is read first and removed only if
 * unchanged: an accept that lands meanwhile leaves its own marker for its own consolidation.
 */
export async function consolidateIfComplete(db: Db, queue: Queue<DraftQueueMessage>, image: ImageRow, project: ProjectRow, subject: string, now: number): Promise<boolean> {
  const due = await db.select().from(consolidationsDue).where(eq(consolidationsDue.imageId, image.id)).get();
  const clear = due ? [db.delete(consolidationsDue).where(and(eq(consolidationsDue.imageId, image.id), eq(consolidationsDue.marker, due.marker)))] : [];
  const clearOnly = async () => {
    if (clear.length) await clear[0];
    return false;
  };

  const [edits, subs, reviews] = await Promise.all([tasksOfImage(db, image.id, 1, "edit"), submissionsOfImage(db, image.id, 1), reviewsOfImage(db, image.id)]);
  const live = edits.filter((t) => t.status !== "rejected");
  if (live.length === 0 || live.some((t) => t.status !== "accepted")) return clearOnly();
  const liveIds = new Set(live.map((t) => t.id));
  const rejected = new Set(reviews.filter((r) => r.decision === "reject").map((r) => r.submissionId));
  const accepted = subs.filter((s) => liveIds.has(s.taskId) && !rejected.has(s.id));
  if (accepted.length === 0) return clearOnly();

  const result = consolidateImage(accepted.map((s) => ({ submissionId: s.id, regions: Object.fromEntries(s.regions.map((r) => [r.segmentId, r.text])) })));
  const finals = Object.entries(result.regions).map(([segmentId, r]) => ({
    imageId: image.id,
    segmentId: Number(segmentId),
    text: r.text,
    source: "consolidated" as const,
    submissionId: r.chosen,
    agreement: r.agreement,
    version: 1,
    updatedBy: subject,
    updatedAt: now,
  }));
  // Round 2 starts from the merge draft of these texts. The template's is made here and written in
  // this batch; a model's is asked for right after it, and the round-2 tasks wait for it.
  const vlm = project.settings.vlm;
  // The overlap sample: several annotators of one image, whose agreement the report aggregates.
  const overlap = new Set(accepted.map((s) => s.subject)).size > 1;
  const segs = overlap || vlm.provider === "template" ? await listSegments(db, image) : [];
  const thing = new Map(segs.map((g) => [g.segmentId, g.isthing ?? false]));
  const agreement =
    overlap
      ? imageAgreement(
          accepted.map((s) => ({ subject: s.subject, regions: s.regions.map((r) => ({ segmentId: r.segmentId, action: r.action, text: r.text })) })),
          (id) => thing.get(id) ?? false,
          new Map(finals.map((f) => [f.segmentId, f.text])),
        )
      : null;
  const spec = await draftClaimFor(image, project, 2, finals.filter((f) => f.text !== null).map((f) => ({ segmentId: f.segmentId, text: f.text! })));
  const template = vlm.provider === "template" ? templateDraftRow(spec, image, segs, now) : null;
  const merge = template ? null : spec;
  const hold = merge && vlm.draftWaitSeconds > 0 ? { key: merge.key, until: now + vlm.draftWaitSeconds * 1000 } : null;
  const round2 = editTaskRows(image.projectId, image.id, 2, editSlots(2, image.imageSha256, project.settings.redundancy), now).map((t) =>
    hold ? heldForDraft(t, hold) : template ? { ...t, startKey: spec.key, startSource: "template" } : t,
  );
  try {
    await db.batch([
      db.insert(consolidations).values({ imageId: image.id, round: 1, submissionIds: accepted.map((s) => s.id), agreement: accepted.length > 1 ? result.agreement : null, at: now }),
      ...chunk(finals, rowsPerInsert(9)).map((part) => db.insert(regionTexts).values(part)),
      ...(template ? [insertFinishedDraft(db, template)] : []),
      ...(agreement ? [db.insert(imageAgreementTable).values({ imageId: image.id, projectId: image.projectId, annotators: agreement.annotators.length, record: agreement, at: now })] : []),
      ...chunk(round2, rowsPerInsert(22)).map((part) => db.insert(tasks).values(part)),
      ...clear,
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) return clearOnly(); // consolidated already, by a concurrent accept or the sweep
    throw err;
  }
  if (merge) await requestDraft(db, queue, merge);
  return true;
}

/** Images whose consolidation is due and older than `before`, oldest first. */
export async function dueConsolidations(db: Db, before: number, limit: number) {
  return db.select().from(consolidationsDue).where(lt(consolidationsDue.at, before)).orderBy(asc(consolidationsDue.at)).limit(limit).all();
}

/**
 * The consolidation that follows an accept, in the accepting request. Its failure does not fail the
 * accept, which is committed with its due marker: the sweep consolidates what is left.
 */
export async function consolidateAfterAccept(db: Db, queue: Queue<DraftQueueMessage>, image: ImageRow, project: ProjectRow, subject: string): Promise<void> {
  try {
    await consolidateIfComplete(db, queue, image, project, subject, Date.now());
  } catch (err) {
    console.error(JSON.stringify({ level: "warn", event: "consolidation-deferred", imageId: image.id, error: String(err) }));
  }
}
