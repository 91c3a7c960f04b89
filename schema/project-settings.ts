import { z } from "@hono/zod-openapi";
import { INCONSISTENT } from "./api/common.ts";

/**
 * A project's settings: the single source of their shape, validation and defaults, used by the API
 * (and so the OpenAPI document) and typed into the `projects.settings` column.
 */
const Redundancy = z
  .strictObject({
    round1: z.int().min(1).max(10).default(1).openapi({ description: "Annotators per image in round 1." }),
    round2: z.int().min(1).max(10).default(1).openapi({ description: "Annotators per image in round 2 (merge edit)." }),
    overlapShare: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .openapi({ description: "Share of images (chosen by a stable hash) that get `overlapRound1` annotators, for agreement." }),
    overlapRound1: z.int().min(1).max(10).default(3),
  })
  .openapi("Redundancy");

const Vlm = z
  .strictObject({
    provider: z
      .enum(["template", "openai", "workers-ai"])
      .default("template")
      .openapi({ description: "`template` needs no model; `openai` is any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, SGLang); `workers-ai` uses the AI binding." }),
    baseUrl: z.url({ protocol: /^https?$/ }).optional().openapi({ example: "http://127.0.0.1:8000/v1" }),
    model: z.string().min(1).max(200).optional().openapi({ example: "Qwen/Qwen2-VL-7B-Instruct" }),
    apiKeySecret: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]{0,63}$/)
      .optional()
      .openapi({ description: "Name of the Worker secret holding the API key (never the key itself)." }),
    temperature: z.number().min(0).max(2).default(0.2),
    maxTokens: z.int().min(1).max(32768).default(1024),
    timeoutMs: z.int().min(1000).max(300_000).default(60_000),
    draftWaitSeconds: z
      .int()
      .min(0)
      .max(86_400)
      .default(300)
      .openapi({
        description:
          "With a model: how long an image's tasks wait out of the queue for its draft (requested at ingest), so claims start from the model's texts. " +
          "Past it they open with template texts, flagged. 0: they open at once and a claim takes whatever draft is ready then.",
      }),
  })
  .refine((v) => v.provider !== "openai" || (v.baseUrl !== undefined && v.model !== undefined), {
    message: "the openai provider needs baseUrl and model",
    path: ["baseUrl"],
    params: INCONSISTENT,
  })
  .openapi("VlmSettings");

const Render = z
  .strictObject({
    fillAlpha: z.number().min(0).max(1).default(0.45),
    contour: z.boolean().default(true),
    layout: z.enum(["som", "side-by-side"]).default("som"),
    format: z.enum(["png", "jpeg"]).default("png"),
  })
  .openapi("RenderSettings");

/**
 * Abuse limits: each tier is a Workers rate-limiting binding (RATE_LIMIT_<TIER> in wrangler.toml),
 * whose limit and window are fixed by its declaration, so a project chooses among tiers.
 */
export const RATE_TIERS = { strict: "10 per 10 s", standard: "100 per 10 s", generous: "1000 per 10 s" } as const;
export type RateTier = keyof typeof RATE_TIERS;
const tierText = Object.entries(RATE_TIERS)
  .map(([t, v]) => `\`${t}\` ${v}`)
  .join(", ");
const Tier = z.enum([...(Object.keys(RATE_TIERS) as RateTier[]), "off"]);

export const RateLimits = z
  .strictObject({
    writes: Tier.default("generous").openapi({
      description: `Per member of the project: task claims, submissions and reviews (${tierText}; \`off\` never limits). Heartbeats and releases are never limited: refusing them would cost work already done.`,
    }),
    votes: Tier.default("standard").openapi({ description: `Per voter of the project's studies: ballot claims and votes (${tierText}).` }),
    joins: Tier.default("standard").openapi({
      description: `Per client address and study: crowd participants coming in through an invite link (${tierText}), so one client cannot mint identities in bulk.`,
    }),
  })
  .openapi("RateLimitSettings");

export const ProjectSettingsSchema = z
  .strictObject({
    redundancy: Redundancy.prefault({}),
    leaseSeconds: z.int().min(60).max(86_400).default(1800).openapi({ description: "How long a claimed task stays leased without a heartbeat." }),
    review: z
      .strictObject({
        required: z.boolean().default(true).openapi({ description: "Every submission gets a review task; when false, submissions are accepted as they arrive." }),
      })
      .prefault({}),
    caption: z
      .strictObject({
        requireThingsAbove: z
          .int()
          .min(0)
          .nullable()
          .default(null)
          .openapi({ description: "Area in pixels: a round-2 caption must ground every thing segment larger than this, or give a reason per missing segment. null = no such rule." }),
      })
      .prefault({}),
    vlm: Vlm.prefault({}),
    render: Render.prefault({}),
    prices: z
      .record(
        z.string().min(1).max(200),
        z.strictObject({ inputPerMillion: z.number().min(0).max(1e6), outputPerMillion: z.number().min(0).max(1e6) }),
      )
      .default({})
      .openapi({ description: "Price per million tokens by model name, for the report's VLM cost (e.g. {\"gpt-4o\": {\"inputPerMillion\": 2.5, \"outputPerMillion\": 10}})." }),
    rateLimits: RateLimits.prefault({}),
  })
  .openapi("ProjectSettings");

export type ProjectSettings = z.output<typeof ProjectSettingsSchema>;
export type RenderSettings = ProjectSettings["render"];
export type VlmSettings = ProjectSettings["vlm"];
export type RateLimitSettings = ProjectSettings["rateLimits"];
export type ProjectSettingsInput = z.input<typeof ProjectSettingsSchema>;
