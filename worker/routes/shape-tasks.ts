import type { ImageRow, ReviewRow, SubmissionRow, TaskRow } from "../../schema/tables.ts";
import type { Env } from "../env.ts";
import type { StartText } from "../flows/start-text.ts";
import { toInline } from "../domain/grounded-caption.ts";
import { numberMarks } from "../imaging/som.ts";
import type { SegmentWithCategory } from "../store/images.ts";
import { signedLink } from "./images.ts";

const iso = (ms: number) => new Date(ms).toISOString();

export async function leaseJson(env: Env, task: TaskRow, image: ImageRow, segments: SegmentWithCategory[], start: StartText, submission?: unknown) {
  const marks = new Map(numberMarks(segments.map((s) => ({ id: s.segmentId, area: s.area, mark: { x: s.markX, y: s.markY } }))).map((m) => [m.segmentId, m.number]));
  const [img, som] = await Promise.all([signedLink(env, image, "image"), signedLink(env, image, "som")]);
  return {
    task_id: task.id,
    kind: task.kind,
    round: task.round,
    lease_token: task.leaseToken!,
    lease_expires_at: iso(task.leaseExpires!),
    image: { id: image.id, width: image.width, height: image.height, url: img.url, som_url: som.url },
    regions: segments.map((s) => ({
      segment_id: s.segmentId,
      mark: marks.get(s.segmentId)!,
      category: s.categoryName ?? `category ${s.categoryId}`,
      isthing: s.isthing ?? false,
      area: s.area,
      bbox: [s.bboxX, s.bboxY, s.bboxW, s.bboxH],
    })),
    start: {
      ...(start.caption ? { caption: { ...start.caption, inline: toInline(start.caption) } } : {}),
      source: start.source,
      key: start.key,
      note: start.note,
      texts: [...start.texts].map(([segment_id, text]) => ({ segment_id, text })),
      ...(start.changedSegments ? { changed_segments: start.changedSegments } : {}),
    },
    ...(submission !== undefined ? { submission } : {}),
  };
}

export function submissionJson(s: SubmissionRow, review: ReviewRow | undefined) {
  return {
    id: s.id,
    task_id: s.taskId,
    image_id: s.imageId,
    round: s.round,
    subject: s.subject,
    status: review ? (review.decision === "accept" ? ("accepted" as const) : ("rejected" as const)) : ("submitted" as const),
    draft: { source: s.draftSource, key: s.draftKey },
    regions: s.regions.map((r) => ({
      segment_id: r.segmentId,
      action: r.action,
      text: r.text,
      reason: r.reason,
      draft_text: r.draftText,
      distance: r.distance,
      draft_words: r.draftWords,
    })),
    caption: s.caption ?? null,
    coverage: s.coverage ? { ...s.coverage } : null,
    effort: { ...s.effort },
    duration_ms: s.durationMs,
    active_seconds: s.activeSeconds,
    submitted_at: iso(s.submittedAt),
  };
}

export function reviewJson(r: ReviewRow) {
  return { id: r.id, submission_id: r.submissionId, decision: r.decision, reason: r.reason, subject: r.subject, at: iso(r.at) };
}
