import { z } from "@hono/zod-openapi";

const Interval = z
  .object({
    estimate: z.number(),
    low: z.number(),
    high: z.number(),
  })
  .openapi("StudyInterval", { description: "A proportion with its 95 % Wilson score interval." });

const PairResult = z
  .object({
    a: z.string().openapi({ description: "The pair's first source in study order; `wins` are votes for it." }),
    b: z.string(),
    wins: z.int(),
    ties: z.int(),
    losses: z.int(),
    n: z.int(),
    win_rate: Interval.nullable().openapi({ description: "wins / (wins + losses), ties left out; null without a decided vote." }),
    win_rate_ties_half: Interval.nullable().openapi({ description: "(wins + ties/2) / n; null without a vote." }),
    sign_test_p: z.number().nullable().openapi({ description: "Exact two-sided sign test of wins against losses." }),
  })
  .openapi("StudyPairResult");

const SourceStrength = z
  .object({
    source: z.string(),
    score: z.number().nullable().openapi({ description: "Bradley–Terry log-strength, centred on 0 (ties half a win each way); null where the votes cannot place the source." }),
    elo: z.number().nullable().openapi({ description: "The score on the Elo-like scale: 1000 + 400·log10(strength)." }),
    low: z.number().nullable().openapi({ description: "2.5 % bootstrap percentile of the score, resampling images." }),
    high: z.number().nullable().openapi({ description: "97.5 % bootstrap percentile of the score." }),
    elo_low: z.number().nullable(),
    elo_high: z.number().nullable(),
  })
  .openapi("StudySourceStrength");

const VoterRow = z
  .object({
    voter: z.string(),
    excluded: z.boolean(),
    votes: z.int().openapi({ description: "Regular (non-gold, non-repeat) votes." }),
    gold_votes: z.int(),
    gold_correct: z.int().openapi({ description: "A tie on a gold pair counts as wrong." }),
    gold_accuracy: z.number().nullable(),
    repeats: z.int().openapi({ description: "Repeat votes whose first vote is on record." }),
    flips: z.int().openapi({ description: "Repeats with a different answer than the first vote." }),
    flip_rate: z.number().nullable(),
    median_seconds: z.number().nullable().openapi({ description: "Median time per regular or gold vote: active time where the client sent it, else lease to vote." }),
    majority_agreement: z
      .number()
      .nullable()
      .openapi({ description: "Share of the voter's regular votes matching the other counted voters' unique plurality on the pair." }),
    flags: z.array(z.enum(["gold", "fast"])).openapi({ description: "gold: fails too many gold pairs; fast: median time below the study's minimum." }),
  })
  .openapi("StudyVoterRow");

export const StudyResultsSchema = z
  .object({
    voters: z.enum(["included", "all"]).openapi({ description: "included: excluded voters' votes are left out; all: every voter's votes count." }),
    votes_counted: z.int().openapi({ description: "Regular votes the source results are computed from." }),
    coverage: z.object({
      pairs_planned: z.int(),
      pairs_with_k_votes: z.int(),
      share: z.number().nullable(),
      votes: z.int(),
    }),
    pairs: z.array(PairResult).openapi({ description: "One entry per source pair, in study order." }),
    bradley_terry: z.object({
      sources: z.array(SourceStrength),
      resamples: z.int(),
      seed: z.int(),
      converged: z.boolean(),
    }),
    davidson: z
      .object({
        tie: z.number().openapi({ description: "Davidson's tie parameter ν." }),
        sources: z.array(z.object({ source: z.string(), score: z.number().nullable() })),
      })
      .nullable()
      .openapi({ description: "Strengths with ties as their own outcome; null when the study allows no ties or has none." }),
    position_bias: z.object({
      left_votes: z.int(),
      decided_votes: z.int(),
      share_left: Interval.nullable(),
      p: z.number().nullable().openapi({ description: "Exact two-sided binomial test of the left share against 1/2." }),
    }),
    agreement: z.object({
      fleiss_kappa: z.number().nullable().openapi({ description: "Over the pairs with exactly k counted votes; null when undefined (no such pair, or every vote alike)." }),
      fleiss_pairs: z.int(),
      krippendorff_alpha: z.number().nullable().openapi({ description: "Nominal, over every voted pair, voters as coders." }),
    }),
    reasons: z.array(z.object({ source: z.string(), code: z.string(), count: z.int() })),
    voters_table: z.array(VoterRow).openapi({ description: "Every voter of the study, excluded or not." }),
  })
  .openapi("StudyResults");
