import { z } from "@hono/zod-openapi";
import { nonBlank } from "./common.ts";

export const MAX_REGION_TEXT = 2000;

export const ClaimRequest = z
  .strictObject({
    round: z
      .literal([1, 2], { error: "round must be 1 or 2" })
      .default(1)
      // The generator writes only the first value of a many-valued literal: say them all.
      .openapi({ description: "1: edit region texts; 2: edit the merged, grounded caption.", type: "integer", enum: [1, 2], default: 1 }),
    kind: z.enum(["edit", "review"]).default("edit"),
  })
  .openapi("ClaimRequest");

export const TaskIdParam = z.object({
  taskId: z.string().regex(/^tsk_[0-9a-z]{26}$/, "not a task id").openapi({ param: { name: "taskId", in: "path" } }),
});

export const LeaseTokenBody = z.strictObject({ lease_token: z.string().min(1).max(100) }).openapi("LeaseToken");

/** An Idempotency-Key's value; the header is required on keyed writes, optional on claims. */
export const IdempotencyKey = z
  .string({ error: "an Idempotency-Key header is required, so that a retried write is recorded once" })
  // Visible ASCII without edge spaces: HTTP trims a header's edge whitespace, so " " would arrive empty.
  .regex(/^[!-~](?:[ -~]{0,198}[!-~])?$/, "an Idempotency-Key is 1–200 visible ASCII characters (spaces only inside)")
  .openapi({ description: "Any unique string per logical write; a retry with the same key returns the first answer." });

export const IdempotencyHeader = z.object({ "idempotency-key": IdempotencyKey });

const RegionInput = z.discriminatedUnion("action", [
  z.strictObject({
    segment_id: z.int(),
    action: z.enum(["accepted", "edited", "rewritten"]),
    text: nonBlank(MAX_REGION_TEXT, "the text of a region that is not skipped must not be empty"),
  }),
  z.strictObject({
    segment_id: z.int(),
    action: z.literal("skipped"),
    reason: z.enum(["too_small", "not_visible", "ambiguous", "other"]),
    note: z.string().max(500).optional(),
  }),
]);

const CaptionInput = z.strictObject({
  text: z.string().min(1).max(20_000),
  spans: z
    .array(z.strictObject({ start: z.int().min(0), end: z.int().min(0), segment_ids: z.array(z.int()).min(1).max(1000) }))
    .max(2000),
});

export const SubmissionCreate = z
  .strictObject({
    lease_token: z.string().min(1).max(100),
    regions: z.array(RegionInput).min(1).max(5000).optional().openapi({ description: "Round 1: one entry per segment of the image." }),
    caption: CaptionInput.optional().openapi({
      description: "Round 2: the grounded caption; span offsets are Unicode code points of the NFC text, half-open.",
    }),
    inline: z
      .string()
      .min(1)
      .max(40_000)
      .optional()
      .openapi({
        description:
          "Round 2, instead of `caption`: the inline form. Bare numbers are segment ids, as in `caption`: " +
          "`A <3:man in a red jacket> walks <5,6:two dogs>.` Numbers written `#N` are mark numbers, the labels of the " +
          "set-of-marks image (the lease's `regions[].mark`): `A <#1:man in a red jacket> walks <#2,#4:two dogs>.` One tag " +
          "uses one kind; a mark that is not on the image is a 422 naming it. `\\<`, `\\>` and `\\\\` are a literal `<`, `>` and `\\`.",
        example: "A <3:man in a red jacket> walks <5,6:two dogs> on <1:the beach>.",
      }),
    missing_reasons: z
      .array(z.strictObject({ segment_id: z.int(), reason: nonBlank(500) }))
      .max(1000)
      .optional()
      .openapi({ description: "Round 2: why a thing the project requires to be grounded is not." }),
    active_seconds: z.int().min(0).max(86_400).optional().openapi({ description: "Time the annotator was actively working, as the front end measured it." }),
  })
  .openapi("SubmissionCreate");

const ReviewReason = nonBlank(2000, "a reason must not be blank");

/** A rejection needs its reason: the schema says so (one shape per decision), so the document does too. */
export const ReviewCreate = z
  .discriminatedUnion("decision", [
    z.strictObject({ decision: z.literal("accept"), reason: ReviewReason.optional() }),
    z.strictObject({ decision: z.literal("reject"), reason: ReviewReason.openapi({ description: "Why: the annotator sees it with the reworked task." }) }),
  ])
  .openapi("ReviewCreate");

export const SubmissionIdParam = z.object({
  submissionId: z.string().regex(/^sub_[0-9a-z]{26}$/, "not a submission id").openapi({ param: { name: "submissionId", in: "path" } }),
});

export const AdjudicationParams = z.object({
  imageId: z.string().regex(/^img_[0-9a-z]{26}$/, "not an image id").openapi({ param: { name: "imageId", in: "path" } }),
  segmentId: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).openapi({ param: { name: "segmentId", in: "path" } }),
});

export const AdjudicationCreate = z
  .strictObject({
    text: nonBlank(MAX_REGION_TEXT).nullable().openapi({ description: "The region's final text; null means the region gets no text." }),
    reason: z.string().max(2000).optional(),
  })
  .openapi("AdjudicationCreate");

const Region = z.object({ segment_id: z.int(), mark: z.int(), category: z.string(), isthing: z.boolean(), area: z.int(), bbox: z.array(z.int()) });

export const LeaseSchema = z
  .object({
    task_id: z.string(),
    kind: z.enum(["edit", "review"]),
    round: z.int(),
    lease_token: z.string(),
    lease_expires_at: z.iso.datetime(),
    image: z.object({ id: z.string(), width: z.int(), height: z.int(), url: z.string(), som_url: z.string() }),
    regions: z.array(Region),
    start: z.object({
      caption: z
        .object({
          text: z.string(),
          spans: z.array(z.object({ start: z.int(), end: z.int(), segment_ids: z.array(z.int()) })),
          inline: z.string().openapi({ description: "The same caption inline; its numbers are segment ids." }),
        })
        .optional()
        .openapi({ description: "Round 2: the caption to start from (the merge draft, or the rejected caption for rework)." }),
      source: z.enum(["vlm", "template", "template-fallback", "rework"]),
      key: z.string().nullable(),
      note: z.string().nullable().openapi({ description: "Why the texts are not the model's (fallback) or why the work came back (rework)." }),
      texts: z.array(z.object({ segment_id: z.int(), text: z.string() })),
      changed_segments: z
        .array(z.int())
        .optional()
        .openapi({ description: "Round-2 rework of a stale caption: the segments whose region text changed since the caption was made (their current texts are in `texts`)." }),
    }),
    submission: z.unknown().optional().openapi({ description: "Review tasks: the submission to review." }),
  })
  .openapi("Lease");

export const SubmissionSchema = z
  .object({
    id: z.string(),
    task_id: z.string(),
    image_id: z.string(),
    round: z.int(),
    subject: z.string(),
    status: z.enum(["submitted", "accepted", "rejected"]),
    draft: z.object({ source: z.string(), key: z.string().nullable() }),
    regions: z.array(
      z.object({
        segment_id: z.int(),
        action: z.string(),
        text: z.string().nullable(),
        reason: z.string().nullable(),
        draft_text: z.string(),
        distance: z.int(),
        draft_words: z.int(),
      }),
    ),
    caption: z.object({ text: z.string(), spans: z.array(z.object({ start: z.int(), end: z.int(), segment_ids: z.array(z.int()) })) }).nullable(),
    coverage: z.record(z.string(), z.unknown()).nullable(),
    effort: z.record(z.string(), z.number()),
    duration_ms: z.int(),
    active_seconds: z.int().nullable(),
    submitted_at: z.iso.datetime(),
  })
  .openapi("Submission");

export const ReviewSchema = z
  .object({ id: z.string(), submission_id: z.string(), decision: z.enum(["accept", "reject"]), reason: z.string().nullable(), subject: z.string(), at: z.iso.datetime() })
  .openapi("Review");
