import { and, eq, ne } from "drizzle-orm";
import { reviews, tasks, type FinalCaptionRow, type ImageRow, type ReviewRow, type SubmissionRow } from "../../schema/tables.ts";
import { captionStats } from "../domain/coverage.ts";
import { getFinalCaption } from "../store/captions.ts";
import { listSegments } from "../store/images.ts";
import { finalRegionTexts } from "../store/region-texts.ts";
import { ulid } from "../domain/ids.ts";
import { REWORK_PRIORITY } from "../domain/lease.ts";
import type { Db } from "../store/db.ts";
import { openTask } from "../store/tasks.ts";

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
