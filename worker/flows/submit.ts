import { and, eq } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { SubmissionCreate } from "../../schema/api/tasks.ts";
import { submissions, tasks, type DraftRow, type ImageRow, type ProjectRow, type SubmissionRow, type SubmittedRegion, type TaskRow } from "../../schema/tables.ts";
import { coverage, missingRequiredThings } from "../domain/coverage.ts";
import { aggregateEffort, checkAction, regionEffort } from "../domain/edit-effort.ts";
import { CaptionError, captionFromInline, UnknownMarkError, validateCaption, type GroundedCaption } from "../domain/grounded-caption.ts";
import { ulid } from "../domain/ids.ts";
import { numberMarks } from "../imaging/som.ts";
import { fail } from "../domain/errors.ts";
import type { Db } from "../store/db.ts";
import type { SegmentWithCategory } from "../store/images.ts";
import { openTask } from "../store/tasks.ts";
import { startCaption, startTexts, type StartSource } from "./start-text.ts";

type Body = z.output<typeof SubmissionCreate>;

/**
 * Checks a round-1 submission against the image and the texts the task started from, and builds
 * the rows it writes. Throws a 422 listing every offending region; nothing is written here.
 */
/** What a submission is checked against, read with its task in one statement. */
export interface SubmitInput {
  image: ImageRow;
  segments: SegmentWithCategory[];
  /** The draft the task started from, when it is one (as the task's read returned it). */
  draft: DraftRow | null;
}

export async function buildSubmission(db: Db, input: SubmitInput, project: ProjectRow, task: TaskRow, subject: string, body: Body, now: number): Promise<SubmissionRow> {
  const { image, segments } = input;
  if (task.round === 2) return buildCaptionSubmission(db, input, project, task, subject, body, now);
  if (!body.regions) throw fail.validation([{ path: "body.regions", message: "a round-1 submission needs one entry per segment" }]);
  if (body.caption || body.inline) throw fail.validation([{ path: "body.caption", message: "round-1 submissions carry region texts, not a caption" }]);
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

  const start = await startTexts(db, image, segments, (task.startSource ?? "template-fallback") as StartSource, task.startKey, task.reworkReason, input.draft);
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
    throw fail.unprocessable("invalid-submission", "The submission does not fit the image or its draft", errors.map((e) => `${e.path}: ${e.message}`).join("; "), { errors });
  }

  regions.sort((a, b) => a.segmentId - b.segmentId);
  const effort = aggregateEffort(regions);
  return submissionRow(task, image, subject, body, start.source, start.key, now, { regions, effort });
}

function submissionRow(
  task: TaskRow,
  image: ImageRow,
  subject: string,
  body: Body,
  source: StartSource,
  key: string | null,
  now: number,
  content: Pick<SubmissionRow, "regions" | "effort"> & Partial<Pick<SubmissionRow, "caption" | "startCaption" | "coverage" | "missingReasons">>,
): SubmissionRow {
  return {
    id: `sub_${ulid(now)}`,
    taskId: task.id,
    projectId: task.projectId,
    imageId: image.id,
    round: task.round,
    subject,
    leaseToken: body.lease_token,
    draftKey: key,
    draftSource: source,
    draftModel: null,
    draftPrompt: null,
    caption: null,
    startCaption: null,
    coverage: null,
    missingReasons: null,
    ...content,
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
          db.insert(tasks).values(
            openTask(
              {
                projectId: task.projectId,
                imageId: task.imageId,
                round: task.round,
                kind: "review",
                slot: task.slot,
                priority: task.priority,
                submissionId: row.id,
                excludeSubject: row.subject,
              },
              now,
            ),
          ),
        ]
      : []),
  ] as const;
}

/**
 * A round-2 submission: one grounded caption (canonical or inline), every grounding pointing at a
 * segment of this image, coverage computed, and the project's rule on ungrounded things applied.
 * Problems are 422s that say where (code point) and what.
 */
async function buildCaptionSubmission(db: Db, input: SubmitInput, project: ProjectRow, task: TaskRow, subject: string, body: Body, now: number): Promise<SubmissionRow> {
  const { image, segments } = input;
  if (body.regions) throw fail.validation([{ path: "body.regions", message: "round-2 submissions carry a caption, not region texts" }]);
  if ((body.caption === undefined) === (body.inline === undefined)) {
    throw fail.validation([{ path: "body.caption", message: "send exactly one of caption (canonical form) or inline" }]);
  }
  let caption: GroundedCaption;
  if (body.inline !== undefined) {
    // The numbering the lease's `regions[].mark` and the set-of-marks render show, for `#N` tags.
    const segmentOfMark = new Map(numberMarks(segments.map((s) => ({ id: s.segmentId, area: s.area, mark: { x: s.markX, y: s.markY } }))).map((m) => [m.number, m.segmentId]));
    try {
      caption = captionFromInline(body.inline, segmentOfMark);
    } catch (err) {
      if (err instanceof UnknownMarkError) {
        throw fail.unprocessable("invalid-caption", "The caption does not hold", `inline: ${err.message}`, {
          errors: [{ path: "body.inline", message: err.message }],
          position: err.position,
          unknown_marks: err.marks,
        });
      }
      if (!(err instanceof CaptionError)) throw err;
      throw fail.unprocessable("invalid-caption", "The caption markup is malformed", `inline: ${err.message}`, {
        errors: [{ path: "body.inline", message: err.message }],
        position: err.position,
      });
    }
  } else {
    caption = { text: body.caption!.text, spans: body.caption!.spans };
  }
  const found = validateCaption(caption, new Set(segments.map((s) => s.segmentId)));
  if (found.length) {
    const prefix = body.inline !== undefined ? "body.inline" : "body.caption";
    throw fail.unprocessable("invalid-caption", "The caption does not hold", found.map((p) => `${p.path}: ${p.message}`).join("; "), {
      errors: found.map((p) => ({ path: body.inline !== undefined ? prefix : `${prefix}.${p.path}`, message: p.message })),
    });
  }

  const coverageSegments = segments.map((s) => ({ id: s.segmentId, area: s.area, isthing: s.isthing ?? false }));
  const cov = coverage(caption, coverageSegments);
  const reasons = new Map((body.missing_reasons ?? []).map((r) => [r.segment_id, r.reason]));
  const unexplained = missingRequiredThings(cov, coverageSegments, project.settings.caption.requireThingsAbove).filter((id) => !reasons.has(id));
  if (unexplained.length) {
    throw fail.unprocessable(
      "ungrounded-things",
      "Required things are not grounded",
      `segment(s) ${unexplained.join(", ")} are things larger than ${project.settings.caption.requireThingsAbove} px that no phrase grounds; ground them or give a reason in missing_reasons`,
      { missing_segments: unexplained, errors: unexplained.map((id) => ({ path: "body.missing_reasons", message: `segment ${id} is not grounded and has no reason` })) },
    );
  }

  const source = (task.startSource ?? "template-fallback") as StartSource;
  const start = await startCaption(db, image, source, task.startKey, input.draft);
  const startText = start?.text ?? "";
  const e = regionEffort(startText, caption.text);
  const effort = {
    regions: 1,
    accepted: e.unchanged ? 1 : 0,
    edited: e.unchanged ? 0 : 1,
    rewritten: 0,
    skipped: 0,
    acceptedShare: e.unchanged ? 1 : 0,
    totalDistance: e.distance,
    totalDraftWords: e.draftWords,
    editRate: e.editRate,
    changedShare: e.unchanged ? 0 : 1,
  };
  return submissionRow(task, image, subject, body, source, task.startKey, now, {
    regions: [],
    effort,
    caption,
    startCaption: start,
    coverage: cov,
    missingReasons: reasons.size ? Object.fromEntries([...reasons].map(([k, v]) => [String(k), v])) : null,
  });
}
