import { and, eq, ne } from "drizzle-orm";
import { consolidations, regionTexts, reviews, tasks, type FinalCaptionRow, type ImageRow, type ProjectRow, type ReviewRow, type SubmissionRow } from "../../schema/tables.ts";
import { captionStats } from "../domain/coverage.ts";
import { getFinalCaption } from "../store/captions.ts";
import { listSegments } from "../store/images.ts";
import { finalRegionTexts } from "../store/region-texts.ts";
import { consolidateImage } from "../domain/consolidate.ts";
import { ulid } from "../domain/ids.ts";
import { editSlots, REWORK_PRIORITY } from "../domain/lease.ts";
import { chunk, rowsPerInsert, type Db } from "../store/db.ts";
import { isUniqueViolation } from "../store/images.ts";
import { reviewOf, submissionsOfImage } from "../store/submissions.ts";
import { editTaskRows, openTask, tasksOfImage } from "../store/tasks.ts";

/**
 * The statements of a review: the review itself (one per submission; the unique index refuses a
 * second), the edit task's move to accepted or rejected, the review task closed, and on rejection
 * a rework task for the same slot that starts from the rejected text.
 */
export function reviewStatements(db: Db, submission: SubmissionRow, review: ReviewRow, now: number) {
  const accepted = review.decision === "accept";
  return [
    db.insert(reviews).values(review),
    db
      .update(tasks)
      .set({ status: accepted ? "accepted" : "rejected", updatedAt: now })
      .where(and(eq(tasks.id, submission.taskId), eq(tasks.status, "submitted"))),
    db
      .update(tasks)
      .set({ status: accepted ? "accepted" : "rejected", updatedAt: now })
      // Through the image's tasks (index tasks_image), not a scan of every task for the submission id.
      .where(
        and(
          eq(tasks.imageId, submission.imageId),
          eq(tasks.round, submission.round),
          eq(tasks.kind, "review"),
          eq(tasks.submissionId, submission.id),
          ne(tasks.status, "accepted"),
          ne(tasks.status, "rejected"),
        ),
      ),
    ...(accepted
      ? []
      : [
          db.insert(tasks).values(
            openTask(
              {
                projectId: submission.projectId,
                imageId: submission.imageId,
                round: submission.round,
                kind: "edit",
                slot: 0,
                priority: REWORK_PRIORITY,
                reworkOf: submission.id,
                reworkReason: review.reason,
              },
              now,
            ),
          ),
        ]),
  ] as const;
}

export function newReview(submission: SubmissionRow, subject: string, decision: "accept" | "reject", reason: string | null, taskId: string | null, now: number): ReviewRow {
  return { id: `rev_${ulid(now)}`, submissionId: submission.id, taskId, imageId: submission.imageId, subject, decision, reason, at: now };
}

/**
 * When every edit slot of an image's round 1 has an accepted submission, its region texts become
 * final (the most central text per region, agreement recorded) and its round-2 tasks are created,
 * all in one batch. Safe to call after every accept: the consolidation's primary key lets exactly
 * one of two racing callers through.
 */
export async function consolidateIfComplete(db: Db, image: ImageRow, project: ProjectRow, subject: string, now: number): Promise<boolean> {
  const edits = await tasksOfImage(db, image.id, 1, "edit");
  const live = edits.filter((t) => t.status !== "rejected");
  if (live.length === 0 || live.some((t) => t.status !== "accepted")) return false;

  const accepted = [];
  for (const s of await submissionsOfImage(db, image.id, 1)) {
    if (live.some((t) => t.id === s.taskId) && (await reviewOf(db, s.id))?.decision !== "reject") accepted.push(s);
  }
  if (accepted.length === 0) return false;
  const result = consolidateImage(
    accepted.map((s) => ({ submissionId: s.id, regions: Object.fromEntries(s.regions.map((r) => [r.segmentId, r.text])) })),
  );
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
  const round2 = editTaskRows(image.projectId, image.id, 2, editSlots(2, image.imageSha256, project.settings.redundancy), now);
  try {
    await db.batch([
      db.insert(consolidations).values({ imageId: image.id, round: 1, submissionIds: accepted.map((s) => s.id), agreement: accepted.length > 1 ? result.agreement : null, at: now }),
      ...chunk(finals, rowsPerInsert(9)).map((part) => db.insert(regionTexts).values(part)),
      ...chunk(round2, rowsPerInsert(22)).map((part) => db.insert(tasks).values(part)),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) return false; // a concurrent accept consolidated it first
    throw err;
  }
  return true;
}

/**
 * An accepted round-2 submission becomes the image's final caption: the next version, with its
 * lineage (submission, merge draft, the version of every region text) and its dataset statistics.
 */
export async function finalCaptionFor(db: Db, image: ImageRow, submission: SubmissionRow, now: number): Promise<FinalCaptionRow> {
  const [current, regions, segments] = await Promise.all([getFinalCaption(db, image.id), finalRegionTexts(db, image.id), listSegments(db, image)]);
  const caption = submission.caption!;
  return {
    imageId: image.id,
    projectId: image.projectId,
    version: (current?.version ?? 0) + 1,
    text: caption.text,
    spans: caption.spans,
    submissionId: submission.id,
    draftKey: submission.draftKey,
    regionVersions: Object.fromEntries(regions.map((r) => [String(r.segmentId), r.version])),
    coverage: submission.coverage!,
    stats: captionStats(caption, segments.length),
    effort: submission.effort,
    stale: false,
    staleReason: null,
    updatedAt: now,
  };
}
