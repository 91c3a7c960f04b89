import { z } from "@hono/zod-openapi";
import { INCONSISTENT } from "./api/common.ts";

/**
 * A study's design: the single source of its shape, validation and defaults, used by the API (and
 * so the OpenAPI document) and typed into the `studies.design` column. Frozen once the study opens.
 */

/** `final`, `merge-draft`, `vlm:<name>`, `import:<name>`: the names a study compares. */
export const SOURCE_NAME = /^(final|merge-draft|(vlm|import):[a-z0-9][a-z0-9_.-]{0,47})$/;
export const SourceName = z
  .string()
  .regex(SOURCE_NAME, "a source is final, merge-draft, vlm:<name> or import:<name> (name: 1–48 lowercase letters, digits, _ . -)")
  .openapi({ example: "vlm:qwen2-vl" });

/** A caption set's name, as uploaded (`import:<name>` refers to it). */
export const CaptionSetName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,47}$/, "a caption set name is 1–48 lowercase letters, digits, _ . -")
  .openapi({ param: { name: "name", in: "path" }, example: "gpt4v" });

/** The model that writes a `vlm:<name>` source's captions (the project's drafting settings, minus the wait). */
export const StudyVlm = z
  .strictObject({
    provider: z.enum(["template", "openai", "workers-ai"]),
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    model: z.string().min(1).max(200).optional(),
    apiKeySecret: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/).optional().openapi({ description: "Name of the Worker secret holding the API key." }),
    temperature: z.number().min(0).max(2).default(0.2),
    maxTokens: z.int().min(1).max(32768).default(1024),
    timeoutMs: z.int().min(1000).max(300_000).default(60_000),
    input: z
      .enum(["image", "som"])
      .default("image")
      .openapi({ description: "What the model sees: the original image, or its set-of-marks render." }),
  })
  .refine((v) => v.provider !== "openai" || (v.baseUrl !== undefined && v.model !== undefined), {
    message: "the openai provider needs baseUrl and model",
    path: ["baseUrl"],
    params: INCONSISTENT,
  })
  .openapi("StudyVlm");

const ReasonCode = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, "a reason code is 1–40 lowercase letters, digits, _ or -");

const Gold = z
  .strictObject({
    marked: z
      .array(
        z.strictObject({
          image_id: z.string().min(1).max(100),
          better: SourceName,
          worse: SourceName,
        }),
      )
      .max(500)
      .default([])
      .openapi({ description: "Pairs the lead knows the answer to: `better` is the correct choice over `worse` on that image." }),
    planted: z
      .strictObject({
        count: z.int().min(1).max(500),
        from: SourceName.openapi({ description: "The source whose captions are copied and given one planted error (colour, number, side, object, or a dropped sentence)." }),
      })
      .optional(),
    share: z
      .number()
      .min(0)
      .max(0.5)
      .default(0.1)
      .openapi({ description: "Share of each voter's ballots that are gold pairs (each voter sees a gold pair at most once)." }),
  })
  .openapi("StudyGold");

const VLM_NAME = /^[a-z0-9][a-z0-9_.-]{0,47}$/;

export const StudyDesignSchema = z
  .strictObject({
    sources: z
      .array(SourceName)
      .min(2)
      .max(8)
      .refine((s) => new Set(s).size === s.length, { message: "sources must be distinct" })
      .openapi({ description: "Two or more caption sources; every pair of them is compared equally often.", uniqueItems: true }),
    vlm: z
      .record(z.string().regex(VLM_NAME), StudyVlm)
      .default({})
      // The generator writes no propertyNames for a record's key schema: say it here (3.1 allows it).
      .openapi({ description: "For each `vlm:<name>` source, the model that writes its captions (key: the name).", ...({ propertyNames: { type: "string", pattern: VLM_NAME.source } } as object) }),
    selection: z
      .strictObject({
        sample: z.int().min(1).max(10_000).nullable().default(null).openapi({ description: "A seeded random sample of this many images; null: every image that has all sources." }),
        split: z.string().min(1).max(40).nullable().default(null),
      })
      .prefault({}),
    votesPerPair: z.int().min(1).max(50).default(3).openapi({ description: "k: every pair gets exactly this many votes, from k different voters." }),
    allowTies: z.boolean().default(true),
    reasons: z.array(ReasonCode).max(20).default([]).openapi({ example: ["hallucination", "missed_object", "wrong_detail", "less_detailed"] }),
    gold: Gold.prefault({}),
    quota: z.int().min(1).max(10_000).nullable().default(null).openapi({ description: "Most ballots one voter may answer (gold and repeats included); null: no limit." }),
    flipShare: z
      .number()
      .min(0)
      .max(0.5)
      .default(0)
      .openapi({ description: "Share of a voter's pairs shown to them again later with the sides swapped, to measure flip rate." }),
    qc: z
      .strictObject({
        maxGoldFailShare: z.number().min(0).max(1).default(0.34).openapi({ description: "A voter failing more than this share of gold pairs is flagged." }),
        minGoldVotes: z.int().min(1).max(100).default(3).openapi({ description: "Gold votes needed before the gold flag can be raised." }),
        minMedianSeconds: z.number().min(0).max(600).default(3).openapi({ description: "A voter whose median time per ballot is below this is flagged." }),
      })
      .prefault({}),
    showMarks: z.boolean().default(false).openapi({ description: "Ballots also carry the set-of-marks render." }),
    leaseSeconds: z.int().min(30).max(3600).default(600),
    seed: z.int().min(0).max(0xffff_ffff).optional().openapi({ description: "Seed of the plan (sample, order, gold); drawn at random when absent, and kept." }),
  })
  .superRefine((d, ctx) => {
    for (const s of d.sources) {
      if (s.startsWith("vlm:") && !d.vlm[s.slice(4)]) {
        ctx.addIssue({ code: "custom", params: INCONSISTENT, path: ["vlm", s.slice(4)], message: `source ${s} needs a model under vlm.${s.slice(4)}` });
      }
    }
    for (const [i, g] of d.gold.marked.entries()) {
      if (!d.sources.includes(g.better)) ctx.addIssue({ code: "custom", params: INCONSISTENT, path: ["gold", "marked", i, "better"], message: `${g.better} is not one of the study's sources` });
      if (!d.sources.includes(g.worse)) ctx.addIssue({ code: "custom", params: INCONSISTENT, path: ["gold", "marked", i, "worse"], message: `${g.worse} is not one of the study's sources` });
      if (g.better === g.worse) ctx.addIssue({ code: "custom", params: INCONSISTENT, path: ["gold", "marked", i, "worse"], message: "better and worse must be different sources" });
    }
    if (d.gold.planted && !d.sources.includes(d.gold.planted.from)) {
      ctx.addIssue({ code: "custom", params: INCONSISTENT, path: ["gold", "planted", "from"], message: `${d.gold.planted.from} is not one of the study's sources` });
    }
  })
  .openapi("StudyDesign");

export type StudyDesign = z.output<typeof StudyDesignSchema>;
export type StudyDesignInput = z.input<typeof StudyDesignSchema>;
export type StudyVlmSettings = z.output<typeof StudyVlm>;
