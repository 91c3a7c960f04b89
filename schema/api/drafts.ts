import { z } from "@hono/zod-openapi";
import { ImageIdParam } from "./images.ts";

export const DraftParams = ImageIdParam.extend({
  round: z.enum(["1", "2"]).transform(Number).openapi({ param: { name: "round", in: "path" }, description: "1: per-region descriptions; 2: the merged caption." }),
});

export const DraftSchema = z
  .object({
    image_id: z.string(),
    round: z.int(),
    key: z.string().openapi({ description: "Hash over everything that changes the answer (image, masks, render, prompt, provider, model, parameters)." }),
    status: z.enum(["ready", "partial", "failed"]),
    source: z.enum(["vlm", "template", "template-fallback"]).openapi({
      description: "`template-fallback`: the model's draft failed, so these texts come from the offline template; annotators can still work.",
    }),
    provider: z.string(),
    model: z.string(),
    prompt: z.object({ id: z.string(), version: z.int() }),
    regions: z
      .array(z.object({ segment_id: z.int(), mark: z.int(), text: z.string() }))
      .nullable()
      .openapi({ description: "Round 1: one text per region, with the region's set-of-marks number." }),
    caption: z
      .object({ text: z.string(), spans: z.array(z.object({ start: z.int(), end: z.int(), segment_ids: z.array(z.int()) })) })
      .nullable()
      .openapi({ description: "Round 2: the merged caption; span offsets are code points, half-open." }),
    problems: z
      .object({
        missing_marks: z.array(z.int()).optional(),
        unknown_marks: z.array(z.string()).optional(),
        errors: z.array(z.string()).optional(),
        reason: z.string().optional(),
      })
      .nullable(),
    attempts: z.int(),
    tokens_in: z.int(),
    tokens_out: z.int(),
    render_key: z.string().nullable(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Draft");

export const PendingSchema = z
  .object({ image_id: z.string(), round: z.int(), key: z.string(), status: z.literal("pending"), retry_after_seconds: z.int() })
  .openapi("DraftPending");

export const DraftJobCreate = z
  .strictObject({ round: z.literal(1).default(1).openapi({ description: "Round-1 drafts; round-2 drafts follow consolidation." }) })
  .openapi("DraftJobCreate");

export const DraftJobSchema = z
  .object({
    id: z.string(),
    project_id: z.string(),
    round: z.int(),
    status: z.enum(["planning", "running", "done"]),
    queued: z.int().openapi({ description: "Drafts handed to the queue." }),
    skipped: z.int().openapi({ description: "Images that already had a current draft (or one in progress elsewhere)." }),
    done: z.int(),
    failed: z.int(),
    tokens_in: z.int(),
    tokens_out: z.int(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("DraftJob");

export const DraftJobParams = z.object({
  projectId: z.string().openapi({ param: { name: "projectId", in: "path" } }),
  jobId: z.string().regex(/^job_[0-9a-z]{26}$/, "not a job id").openapi({ param: { name: "jobId", in: "path" } }),
});
