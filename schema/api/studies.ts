import { z } from "@hono/zod-openapi";
import { nonBlank } from "./common.ts";
import { StudyDesignSchema } from "../study-design.ts";

export const StudyIdParam = z.object({
  studyId: z.string().regex(/^stu_[0-9a-z]{26}$/, "not a study id").openapi({ param: { name: "studyId", in: "path" }, example: "stu_01jd5v6w7x8y9z0a1b2c3d4e5f" }),
});

export const BallotIdParam = z.object({
  ballotId: z.string().regex(/^bal_[0-9a-f]{26}$/, "not a ballot id").openapi({ param: { name: "ballotId", in: "path" } }),
});

export const StudyCreate = z
  .strictObject({
    name: nonBlank(200),
    question: nonBlank(1000).openapi({ example: "Which caption describes the image more accurately and in more detail?" }),
    design: StudyDesignSchema,
  })
  .openapi("StudyCreate");

export const StudyPatch = z
  .strictObject({
    name: nonBlank(200).optional(),
    question: nonBlank(1000).optional(),
    design: StudyDesignSchema.optional().openapi({ description: "Replaces the design whole (drafts only)." }),
  })
  .openapi("StudyPatch");

const SourceReadiness = z.object({
  source: z.string(),
  images: z.int().openapi({ description: "Images of the selection's split that have a caption from this source now." }),
  drafts: z.record(z.string(), z.int()).optional().openapi({ description: "For `vlm:` sources: the describe drafts asked for, by status." }),
});

export const StudySchema = z
  .object({
    id: z.string(),
    project_id: z.string(),
    name: z.string(),
    question: z.string(),
    status: z.enum(["draft", "open", "closed"]),
    version: z.int(),
    seed: z.int(),
    design: z.unknown().openapi({ description: "The design as stored, defaults filled in (see StudyDesign)." }),
    pairs: z.int().openapi({ description: "Regular caption pairs in the plan (0 until the study opens)." }),
    gold_pairs: z.int(),
    votes: z.int().openapi({ description: "Votes cast on regular pairs." }),
    votes_needed: z.int().openapi({ description: "pairs × votes per pair." }),
    created_at: z.iso.datetime(),
    opened_at: z.iso.datetime().nullable(),
    closed_at: z.iso.datetime().nullable(),
    readiness: z.array(SourceReadiness).optional().openapi({ description: "Draft studies: how far each source is." }),
    vote_url: z.string().openapi({ description: "The voting page of this study (voters sign in with a token, or come through an invite link)." }),
  })
  .openapi("Study");

export const StudyOpened = StudySchema.extend({
  plan: z.object({ images: z.int(), pairs: z.int(), gold_pairs: z.int(), ballots: z.int(), planted_skipped: z.int() }),
}).openapi("StudyOpened");

export const PairSchema = z
  .object({
    id: z.string(),
    position: z.int(),
    image_id: z.string(),
    a: z.string(),
    b: z.string(),
    kind: z.enum(["pair", "gold"]),
    gold_answer: z.string().nullable(),
    planted: z.object({ kind: z.string(), from: z.string(), to: z.string() }).nullable(),
  })
  .openapi("StudyPair");

export const BallotSchema = z
  .object({
    ballot_id: z.string(),
    study_id: z.string(),
    lease_token: z.string(),
    lease_expires_at: z.iso.datetime(),
    question: z.string(),
    image: z.object({ id: z.string(), width: z.int(), height: z.int(), url: z.string(), som_url: z.string().nullable() }),
    A: z.object({ text: z.string() }).openapi({ description: "The caption shown on the left (key 1)." }),
    B: z.object({ text: z.string() }).openapi({ description: "The caption shown on the right (key 2)." }),
    allow_ties: z.boolean(),
    reasons: z.array(z.string()),
    progress: z.object({ votes: z.int(), quota: z.int().nullable() }),
  })
  .openapi("Ballot", { description: "Two captions of one image, blind: no source names, no sign of gold pairs or repeats." });

export const VoteCreate = z
  .strictObject({
    lease_token: z.string().min(1).max(100),
    choice: z.enum(["A", "B", "tie"]),
    reasons: z
      .strictObject({ A: z.array(z.string().max(40)).max(20).optional(), B: z.array(z.string().max(40)).max(20).optional() })
      .optional()
      .openapi({ description: "Reason codes (from the study's list) ticked against caption A or B." }),
    active_ms: z.int().min(0).max(3_600_000).optional().openapi({ description: "Time the voter actively spent on this ballot, as the client measured it." }),
  })
  .openapi("VoteCreate");

export const Progress = z
  .object({
    votes: z.int(),
    quota: z.int().nullable(),
    done: z.boolean().openapi({ description: "No more ballots for this voter: quota reached, or every pair they may vote on has its votes." }),
    completion_code: z.string().nullable().openapi({ description: "For participants who came through an invite: the code to give the crowd platform, once done." }),
  })
  .openapi("VoterProgress");

export const VoteSchema = z
  .object({
    vote_id: z.string(),
    ballot_id: z.string(),
    choice: z.enum(["A", "B", "tie"]),
    at: z.iso.datetime(),
    progress: Progress,
  })
  .openapi("Vote");

export const InviteCreate = z
  .strictObject({
    label: z.string().max(200).default(""),
    participant_param: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/)
      .default("PROLIFIC_PID")
      .openapi({ description: "The query parameter the crowd platform puts the participant id in (Prolific: PROLIFIC_PID; MTurk: workerId)." }),
    max_participants: z.int().min(1).max(100_000).nullable().default(null),
    expires_in_days: z.int().min(1).max(365).nullable().default(30),
    completion_code: z
      .string()
      .regex(/^[A-Za-z0-9_-]{4,40}$/)
      .optional()
      .openapi({ description: "The code shown at the end (e.g. the one Prolific gives the study); drawn at random when absent." }),
  })
  .openapi("InviteCreate");

export const InviteSchema = z
  .object({
    id: z.string(),
    study_id: z.string(),
    label: z.string(),
    participant_param: z.string(),
    completion_code: z.string(),
    max_participants: z.int().nullable(),
    participants: z.int(),
    expires_at: z.iso.datetime().nullable(),
    link: z.string().openapi({ description: "The link to give the platform; it appends the participant id (e.g. `&PROLIFIC_PID={{%PROLIFIC_PID%}}`)." }),
  })
  .openapi("Invite");

export const ParticipantCreate = z
  .strictObject({
    invite: z.string().regex(/^inv_[0-9a-z]{26}$/, "not an invite id"),
    participant_id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, "a participant id is 1–128 letters, digits, _ . -"),
  })
  .openapi("ParticipantCreate");

export const ParticipantToken = z
  .object({ token: z.string(), voter: z.string(), expires_at: z.iso.datetime(), returning: z.boolean() })
  .openapi("ParticipantToken");

export const ExclusionCreate = z
  .strictObject({
    voter: z.string().min(1).max(200),
    action: z.enum(["exclude", "include"]).default("exclude"),
    reason: nonBlank(1000),
  })
  .openapi("ExclusionCreate");

export const VoterSchema = z
  .object({
    voter: z.string(),
    invite_id: z.string().nullable(),
    participant_id: z.string().nullable(),
    votes: z.int(),
    excluded: z.boolean(),
    excluded_reason: z.string().nullable(),
    joined_at: z.iso.datetime(),
    last_vote_at: z.iso.datetime().nullable(),
  })
  .openapi("StudyVoter");

export const CaptionSetSchema = z
  .object({ name: z.string(), source: z.string(), upload_id: z.string(), lines: z.int(), bytes: z.int(), sha256: z.string(), created_by: z.string(), created_at: z.iso.datetime() })
  .openapi("CaptionSet");
