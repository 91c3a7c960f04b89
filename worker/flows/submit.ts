import { and, eq } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { SubmissionCreate } from "../../schema/api/tasks.ts";
import { submissions, tasks, type ImageRow, type ProjectRow, type SubmissionRow, type SubmittedRegion, type TaskRow } from "../../schema/tables.ts";
import { checkAction, regionEffort, submissionEffort } from "../domain/edit-effort.ts";
import { ulid } from "../domain/ids.ts";
import { problems } from "../http/problem.ts";
import type { Db } from "../store/db.ts";
import { listSegments } from "../store/images.ts";
import { newTaskId } from "../store/tasks.ts";
import { startTexts, type StartSource } from "./start-text.ts";

type Body = z.output<typeof SubmissionCreate>;

/**
 * Checks a round-1 submission against the image and the texts the task started from, and builds
 * the rows it writes. Throws a 422 listing every offending region; nothing is written here.
 */
export async function buildSubmission(db: Db, image: ImageRow, task: TaskRow, subject: string, body: Body, now: number): Promise<SubmissionRow> {
  const segments = await listSegments(db, image);
  const known = new Set(segments.map((s) => s.segmentId));
  const seen = new Map<number, number>();
  const errors: { path: string; message: string }[] = [];
  body.regions.forEach((r, i) => {
    if (!known.has(r.segment_id)) errors.push({ path: `body.regions[${i}].segment_id`, message: `segment ${r.segment_id} is not a segment of image ${image.id}` });
    if (seen.has(r.segment_id)) errors.push({ path: `body.regions[${i}].segment_id`, message: `segment ${r.segment_id} is listed twice (also at regions[${seen.get(r.segment_id)}])` });
    seen.set(r.segment_id, i);
  });
  const missing = segments.filter((s) => !seen.has(s.segmentId)).map((s) => s.segmentId);
  if (missing.length) errors.push({ path: "body.regions", message: `missing segment(s) ${missing.join(", ")}: every segment of the image needs an entry` });

  const start = await startTexts(db, image, (task.startSource ?? "template-fallback") as StartSource, task.startKey, task.reworkReason);
  const regions: SubmittedRegion[] = [];
  body.regions.forEach((r, i) => {
    if (!known.has(r.segment_id)) return;
    const draftText = start.texts.get(r.segment_id) ?? "";
    const text = r.action === "skipped" ? null : r.text;
    const contradiction = checkAction(r.action, draftText, text);
    if (contradiction) errors.push({ path: `body.regions[${i}].action`, message: contradiction });
    const effort = text === null ? { distance: 0, draftWords: 0 } : regionEffort(draftText, text);
    regions.push({
      segmentId: r.segment_id,
      action: r.action,
      text,
      reason: r.action === "skipped" ? (r.note ? `${r.reason}: ${r.note}` : r.reason) : null,
      draftText,
      distance: effort.distance,
      draftWords: effort.draftWords,
    });
  });
  if (errors.length) {
    throw problems.unprocessable("invalid-submission", "The submission does not fit the image or its draft", errors.map((e) => `${e.path}: ${e.message}`).join("; "), { errors });
  }

  regions.sort((a, b) => a.segmentId - b.segmentId);
  const effort = submissionEffort(regions.map((r) => ({ action: r.action, draft: r.draftText, final: r.text })));
  return {
    id: `sub_${ulid(now)}`,
    taskId: task.id,
    projectId: task.projectId,
    imageId: image.id,
    round: task.round,
    subject,
    leaseToken: body.lease_token,
    draftKey: start.key,
    draftSource: start.source,
    draftModel: null,
    draftPrompt: null,
    regions,
    effort,
    leasedAt: task.leasedAt ?? now,
    durationMs: now - (task.leasedAt ?? now),
    activeSeconds: body.active_seconds ?? null,
    submittedAt: now,
  };
}

/**
 * The statements of a submit: the submission (its trigger refuses a lease not held), the task's
 * move to submitted, and its review task — or, with review off, straight to accepted.
 */
export function submitStatements(db: Db, project: ProjectRow, task: TaskRow, row: SubmissionRow, now: number) {
  const reviewRequired = project.settings.review.required;
  return [
    db.insert(submissions).values(row),
    db
      .update(tasks)
      .set({ status: reviewRequired ? "submitted" : "accepted", updatedAt: now })
      .where(and(eq(tasks.id, task.id), eq(tasks.leaseToken, row.leaseToken))),
    ...(reviewRequired
      ? [
          db.insert(tasks).values({
            id: newTaskId(),
            projectId: task.projectId,
            imageId: task.imageId,
            round: task.round,
            kind: "review",
            slot: task.slot,
            status: "open",
            priority: task.priority,
            submissionId: row.id,
            excludeSubject: row.subject,
            reworkOf: null,
            reworkReason: null,
            leaseOwner: null,
            leaseToken: null,
            startKey: null,
            startSource: null,
            leaseExpires: null,
            leasedAt: null,
            createdAt: now,
            updatedAt: now,
          }),
        ]
      : []),
  ] as const;
}
