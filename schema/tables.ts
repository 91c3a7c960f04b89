import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Coverage as CaptionCoverage, CaptionStats } from "../worker/domain/coverage.ts";
import type { SubmissionEffort } from "../worker/domain/edit-effort.ts";
import type { ImageAgreement as ImageAgreementRecord } from "../worker/domain/region-agreement.ts";
import type { ProjectSettings } from "./project-settings.ts";
import type { StudyDesign } from "./study-design.ts";

// JSON columns hold the domain's own shapes (pure types, no runtime dependency).
export type { CaptionCoverage, CaptionStats, SubmissionEffort };

/** A campaign: its categories, images and (later) tasks, drafts and captions all hang off it. */
export const projects = sqliteTable("projects", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
  settings: text("settings", { mode: "json" }).$type<ProjectSettings>().notNull(),
  /** Bumped on every change; clients send it back as If-Match. */
  version: integer("version").notNull().default(1),
  /** Kept in the same batch as each ingest so listings and reports never count rows. */
  imageCount: integer("image_count").notNull().default(0),
  /** Fresh for every change: the rest of a change's batch is guarded by it, so only the writer that won applies it. */
  writeId: text("write_id"),
  createdBy: text("created_by").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const categories = sqliteTable(
  "categories",
  {
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    categoryId: integer("category_id").notNull(),
    name: text("name").notNull(),
    supercategory: text("supercategory").notNull().default(""),
    isthing: integer("isthing", { mode: "boolean" }).notNull(),
    color: text("color", { mode: "json" }).$type<[number, number, number]>(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.categoryId] })],
);

/** One ingested image with its verified panoptic annotation; bytes live in R2 by sha256. */
export const images = sqliteTable(
  "images",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    externalId: text("external_id"),
    fileName: text("file_name").notNull(),
    /** Dataset split (train/val/test…), for export filters. */
    split: text("split"),
    width: integer("width").notNull(),
    height: integer("height").notNull(),
    format: text("format", { enum: ["jpeg", "png"] }).notNull(),
    imageSha256: text("image_sha256").notNull(),
    imageBytes: integer("image_bytes").notNull(),
    panopticSha256: text("panoptic_sha256").notNull(),
    panopticBytes: integer("panoptic_bytes").notNull(),
    segmentCount: integer("segment_count").notNull(),
    /** Pixels with a non-zero panoptic id: the denominator of area coverage. */
    labelledArea: integer("labelled_area").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("images_project_sha").on(t.projectId, t.imageSha256),
    uniqueIndex("images_project_external")
      .on(t.projectId, t.externalId)
      .where(sql`${t.externalId} IS NOT NULL`),
    index("images_project_id").on(t.projectId, t.id),
  ],
);

/** A panoptic segment as measured from the PNG (never as declared by the uploader). */
export const segments = sqliteTable(
  "segments",
  {
    imageId: text("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    segmentId: integer("segment_id").notNull(),
    categoryId: integer("category_id").notNull(),
    iscrowd: integer("iscrowd", { mode: "boolean" }).notNull(),
    area: integer("area").notNull(),
    bboxX: integer("bbox_x").notNull(),
    bboxY: integer("bbox_y").notNull(),
    bboxW: integer("bbox_w").notNull(),
    bboxH: integer("bbox_h").notNull(),
    markX: integer("mark_x").notNull(),
    markY: integer("mark_y").notNull(),
    markDistance: real("mark_distance").notNull(),
  },
  (t) => [primaryKey({ columns: [t.imageId, t.segmentId] })],
);

/**
 * How many segments of a project's images use each category, kept in each ingest's batch: a
 * category still in use must not be dropped, and asking must not scan every segment.
 */
export const categoryUsage = sqliteTable(
  "category_usage",
  {
    projectId: text("project_id").notNull(),
    categoryId: integer("category_id").notNull(),
    segments: integer("segments").notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.categoryId] })],
);

export type ProjectRow = typeof projects.$inferSelect;
export type CategoryRow = typeof categories.$inferSelect;
export type ImageRow = typeof images.$inferSelect;
export type SegmentRow = typeof segments.$inferSelect;

/** A set-of-marks render, cached: bytes in R2 under `key`, mark numbers ↔ segment ids here. */
export const renders = sqliteTable(
  "renders",
  {
    key: text("key").primaryKey(),
    imageId: text("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    options: text("options", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    format: text("format", { enum: ["png", "jpeg"] }).notNull(),
    width: integer("width").notNull(),
    height: integer("height").notNull(),
    bytes: integer("bytes").notNull(),
    sha256: text("sha256").notNull(),
    marks: text("marks", { mode: "json" }).$type<RenderMark[]>().notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("renders_image").on(t.imageId)],
);

export interface RenderMark {
  number: number;
  segmentId: number;
  box: { x: number; y: number; w: number; h: number };
  placement: string;
}

export type DraftStatus = "pending" | "ready" | "partial" | "failed";

export interface DraftRegion {
  segmentId: number;
  mark: number;
  text: string;
}

export interface DraftCaption {
  text: string;
  spans: { start: number; end: number; segment_ids: number[] }[];
}

export interface DraftProblems {
  missingMarks?: number[];
  unknownMarks?: string[];
  errors?: string[];
  reason?: string;
}

/**
 * A VLM draft, keyed by a hash over everything that changes the answer. The row doubles as the
 * single-flight lock: whoever inserts (or takes over an expired) pending row with its claim token
 * is the only one calling the model for that key.
 */
export const drafts = sqliteTable(
  "drafts",
  {
    key: text("key").primaryKey(),
    imageId: text("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    round: integer("round").notNull(),
    status: text("status").$type<DraftStatus>().notNull(),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    promptId: text("prompt_id").notNull(),
    promptVersion: integer("prompt_version").notNull(),
    params: text("params", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    renderKey: text("render_key"),
    regions: text("regions", { mode: "json" }).$type<DraftRegion[]>(),
    caption: text("caption", { mode: "json" }).$type<DraftCaption>(),
    problems: text("problems", { mode: "json" }).$type<DraftProblems>(),
    claimToken: text("claim_token"),
    leaseUntil: integer("lease_until"),
    attempts: integer("attempts").notNull().default(0),
    tokensIn: integer("tokens_in").notNull().default(0),
    tokensOut: integer("tokens_out").notNull().default(0),
    jobId: text("job_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("drafts_image_round").on(t.imageId, t.round)],
);

/** Every model call, kept for cost and reliability reports. */
export const vlmCalls = sqliteTable(
  "vlm_calls",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    draftKey: text("draft_key").notNull(),
    attempt: integer("attempt").notNull(),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    outcome: text("outcome").notNull(),
    httpStatus: integer("http_status"),
    tokensIn: integer("tokens_in").notNull().default(0),
    tokensOut: integer("tokens_out").notNull().default(0),
    latencyMs: integer("latency_ms").notNull(),
    error: text("error"),
    at: integer("at").notNull(),
  },
  (t) => [index("vlm_calls_draft").on(t.draftKey)],
);

/** A batch pre-generation request; its counters move in the same batch as the drafts they count. */
export const draftJobs = sqliteTable(
  "draft_jobs",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    round: integer("round").notNull(),
    status: text("status", { enum: ["planning", "running", "done"] }).notNull(),
    queued: integer("queued").notNull().default(0),
    skipped: integer("skipped").notNull().default(0),
    done: integer("done").notNull().default(0),
    failed: integer("failed").notNull().default(0),
    tokensIn: integer("tokens_in").notNull().default(0),
    tokensOut: integer("tokens_out").notNull().default(0),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("draft_jobs_project").on(t.projectId, t.id)],
);

/** Messages that exhausted their retries, for inspection and replay. */
export const deadLetters = sqliteTable("dead_letters", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  queue: text("queue").notNull(),
  body: text("body", { mode: "json" }).$type<unknown>().notNull(),
  reason: text("reason").notNull(),
  at: integer("at").notNull(),
});

export type RenderRow = typeof renders.$inferSelect;
export type DraftRow = typeof drafts.$inferSelect;
export type DraftJobRow = typeof draftJobs.$inferSelect;

export type TaskKind = "edit" | "review";
/** `held`: waiting for the model's draft it will start from (see `holdUntil`), out of the queue until then. */
export type TaskStatus = "held" | "open" | "leased" | "submitted" | "accepted" | "rejected";

/**
 * One unit of work handed out by the lease engine: an edit slot of an image in a round, or the
 * review of a submission. The claim is one UPDATE over the queue index; triggers (see the
 * migration) record every state change in task_events and who has held which image.
 */
export const tasks = sqliteTable(
  "tasks",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    imageId: text("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    round: integer("round").notNull(),
    kind: text("kind").$type<TaskKind>().notNull(),
    slot: integer("slot").notNull(),
    status: text("status").$type<TaskStatus>().notNull(),
    /** Queue order, lower first (rework jumps ahead with a negative value). */
    priority: integer("priority").notNull().default(0),
    /** Review tasks: the submission under review, whose author may not review it. */
    submissionId: text("submission_id"),
    excludeSubject: text("exclude_subject").notNull().default(""),
    /** Rework: the rejected submission this task starts from, and why it was rejected. */
    reworkOf: text("rework_of"),
    reworkReason: text("rework_reason"),
    leaseOwner: text("lease_owner"),
    leaseToken: text("lease_token"),
    /**
     * What the work starts from: draft key and its source. Known before the claim for tasks that
     * waited for their draft (and for template and rework tasks), else set right after it.
     */
    startKey: text("start_key"),
    startSource: text("start_source"),
    /** A held task opens when its draft is done, or at this time with the template texts, whichever comes first. */
    holdUntil: integer("hold_until"),
    leaseExpires: integer("lease_expires"),
    leasedAt: integer("leased_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  // The lease indexes are partial, each holding only the tasks in the state it serves: a claim then
  // deletes one queue entry and adds one expiry and one owner entry, instead of moving an entry
  // within each of three full indexes (fewer pages written per claim, smaller indexes).
  (t) => [
    index("tasks_open_queue").on(t.projectId, t.round, t.kind, t.priority, t.id).where(sql`${t.status} = 'open'`),
    index("tasks_lease_expiry").on(t.leaseExpires).where(sql`${t.status} = 'leased'`),
    index("tasks_image").on(t.imageId, t.round, t.kind),
    index("tasks_lease_owner").on(t.leaseOwner, t.id).where(sql`${t.status} = 'leased'`),
    index("tasks_held_draft").on(t.startKey).where(sql`${t.status} = 'held'`),
    index("tasks_held_until").on(t.holdUntil).where(sql`${t.status} = 'held'`),
  ],
);

/** Who has held an edit task of an image in a round: the claim refuses a second time. */
export const imageWorkers = sqliteTable(
  "image_workers",
  {
    imageId: text("image_id").notNull(),
    round: integer("round").notNull(),
    subject: text("subject").notNull(),
    taskId: text("task_id").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.imageId, t.round, t.subject] })],
);

/** Append-only log of task state changes, written by trigger in the statement that changes the task. */
export const taskEvents = sqliteTable(
  "task_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    taskId: text("task_id").notNull(),
    imageId: text("image_id").notNull(),
    round: integer("round").notNull(),
    kind: text("kind").notNull(),
    fromStatus: text("from_status").notNull(),
    toStatus: text("to_status").notNull(),
    subject: text("subject"),
    leaseExpires: integer("lease_expires"),
    /** The lease expiry this change ended (tells an expiry from a release). */
    prevLeaseExpires: integer("prev_lease_expires"),
    at: integer("at").notNull(),
  },
  (t) => [index("task_events_image").on(t.imageId, t.id)],
);

export interface SubmittedRegion {
  segmentId: number;
  action: "accepted" | "edited" | "rewritten" | "skipped";
  text: string | null;
  reason: string | null;
  draftText: string;
  distance: number;
  draftWords: number;
}

/** A submission, kept whole and never changed; its fate is in reviews. */
export const submissions = sqliteTable(
  "submissions",
  {
    id: text("id").primaryKey(),
    taskId: text("task_id").notNull(),
    projectId: text("project_id").notNull(),
    imageId: text("image_id").notNull(),
    round: integer("round").notNull(),
    subject: text("subject").notNull(),
    leaseToken: text("lease_token").notNull(),
    draftKey: text("draft_key"),
    draftSource: text("draft_source").notNull(),
    draftModel: text("draft_model"),
    draftPrompt: text("draft_prompt"),
    regions: text("regions", { mode: "json" }).$type<SubmittedRegion[]>().notNull(),
    /** Round 2: the grounded caption, the caption it started from, and its coverage. */
    caption: text("caption", { mode: "json" }).$type<DraftCaption>(),
    startCaption: text("start_caption", { mode: "json" }).$type<DraftCaption>(),
    coverage: text("coverage", { mode: "json" }).$type<CaptionCoverage>(),
    missingReasons: text("missing_reasons", { mode: "json" }).$type<Record<string, string>>(),
    effort: text("effort", { mode: "json" }).$type<SubmissionEffort>().notNull(),
    leasedAt: integer("leased_at").notNull(),
    durationMs: integer("duration_ms").notNull(),
    activeSeconds: integer("active_seconds"),
    submittedAt: integer("submitted_at").notNull(),
  },
  (t) => [
    uniqueIndex("submissions_task").on(t.taskId),
    index("submissions_image").on(t.imageId, t.round),
    index("submissions_subject").on(t.subject, t.id),
  ],
);

export const reviews = sqliteTable(
  "reviews",
  {
    id: text("id").primaryKey(),
    submissionId: text("submission_id").notNull(),
    taskId: text("task_id"),
    imageId: text("image_id").notNull(),
    subject: text("subject").notNull(),
    decision: text("decision", { enum: ["accept", "reject"] }).notNull(),
    reason: text("reason"),
    at: integer("at").notNull(),
  },
  (t) => [uniqueIndex("reviews_submission").on(t.submissionId), index("reviews_image").on(t.imageId)],
);

/** A retried write returns its first answer: the key, who sent it, a hash of what was sent, the answer. */
export const idempotency = sqliteTable(
  "idempotency",
  {
    subject: text("subject").notNull(),
    key: text("key").notNull(),
    route: text("route").notNull(),
    requestHash: text("request_hash").notNull(),
    status: integer("status").notNull(),
    response: text("response").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.subject, t.key] })],
);

/** An image's consolidated round: which submissions, and how much they agreed. */
export const consolidations = sqliteTable(
  "consolidations",
  {
    imageId: text("image_id").notNull(),
    round: integer("round").notNull(),
    submissionIds: text("submission_ids", { mode: "json" }).$type<string[]>().notNull(),
    agreement: real("agreement"),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.imageId, t.round] })],
);

/** The final text of each region after round 1, versioned; adjudication bumps the version. */
export const regionTexts = sqliteTable(
  "region_texts",
  {
    imageId: text("image_id").notNull(),
    segmentId: integer("segment_id").notNull(),
    text: text("text"),
    source: text("source", { enum: ["consolidated", "adjudicated"] }).notNull(),
    submissionId: text("submission_id"),
    agreement: real("agreement"),
    version: integer("version").notNull(),
    /** Fresh for every adjudication: its record and the stale marks are guarded by it, so a writer that lost the race leaves nothing. */
    writeId: text("write_id"),
    updatedBy: text("updated_by").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.imageId, t.segmentId] })],
);

/**
 * Images whose round 1 may have become complete: written in the batch of every accept, removed by
 * the consolidation that follows. What a failure between the two leaves here, the cron sweep
 * consolidates. `marker` is the last accept's: a consolidation removes only the marker it read.
 */
export const consolidationsDue = sqliteTable(
  "consolidations_due",
  {
    imageId: text("image_id").primaryKey(),
    marker: text("marker").notNull(),
    subject: text("subject").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [index("consolidations_due_at").on(t.at)],
);

export const adjudications = sqliteTable(
  "adjudications",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    imageId: text("image_id").notNull(),
    segmentId: integer("segment_id").notNull(),
    text: text("text"),
    previousText: text("previous_text"),
    reason: text("reason"),
    subject: text("subject").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [index("adjudications_image").on(t.imageId, t.id)],
);

export type TaskRow = typeof tasks.$inferSelect;
export type SubmissionRow = typeof submissions.$inferSelect;
export type ReviewRow = typeof reviews.$inferSelect;

/**
 * The image's current final caption, with its lineage: the accepted round-2 submission, the merge
 * draft it started from and the version of every region text it was built on. An adjudicated
 * region marks it stale.
 */
export const finalCaptions = sqliteTable(
  "final_captions",
  {
    imageId: text("image_id")
      .primaryKey()
      .references(() => images.id, { onDelete: "cascade" }),
    projectId: text("project_id").notNull(),
    version: integer("version").notNull(),
    text: text("text").notNull(),
    spans: text("spans", { mode: "json" }).$type<DraftCaption["spans"]>().notNull(),
    submissionId: text("submission_id").notNull(),
    draftKey: text("draft_key"),
    regionVersions: text("region_versions", { mode: "json" }).$type<Record<string, number>>().notNull(),
    coverage: text("coverage", { mode: "json" }).$type<CaptionCoverage>().notNull(),
    stats: text("stats", { mode: "json" }).$type<CaptionStats>().notNull(),
    effort: text("effort", { mode: "json" }).$type<SubmissionEffort>().notNull(),
    stale: integer("stale", { mode: "boolean" }).notNull().default(false),
    staleReason: text("stale_reason"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("final_captions_project").on(t.projectId, t.imageId), index("final_captions_stale").on(t.projectId, t.stale, t.imageId)],
);

/** Every version a final caption has had: append-only. */
export const finalCaptionVersions = sqliteTable(
  "final_caption_versions",
  {
    imageId: text("image_id").notNull(),
    version: integer("version").notNull(),
    text: text("text").notNull(),
    spans: text("spans", { mode: "json" }).$type<DraftCaption["spans"]>().notNull(),
    submissionId: text("submission_id").notNull(),
    draftKey: text("draft_key"),
    regionVersions: text("region_versions", { mode: "json" }).$type<Record<string, number>>().notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.imageId, t.version] })],
);

export type FinalCaptionRow = typeof finalCaptions.$inferSelect;

/** A file export run through the queue for projects too large to stream in one request. */
export const exportJobs = sqliteTable(
  "export_jobs",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    format: text("format").notNull(),
    filter: text("filter", { mode: "json" }).$type<{ split?: string; status: "final" | "stale" | "all"; since?: number }>().notNull(),
    status: text("status", { enum: ["queued", "running", "done", "failed"] }).notNull(),
    rows: integer("rows").notNull().default(0),
    /** NDJSON lines written (`refer` writes one per span, so not one per image). */
    lines: integer("lines").notNull().default(0),
    bytes: integer("bytes").notNull().default(0),
    sha256: text("sha256"),
    objectKey: text("object_key"),
    manifestKey: text("manifest_key"),
    configHash: text("config_hash"),
    error: text("error"),
    // The checkpoint: a job is written a queue message at a time, each resuming where the last stopped.
    /** Checkpoints taken so far; a message advances the job only from the one it read (compare-and-set). */
    seq: integer("seq").notNull().default(0),
    /** The last image id written. */
    cursor: text("cursor"),
    /** The R2 multipart upload of the file, once its first part is full. */
    uploadId: text("upload_id"),
    /** ETags of the parts uploaded so far, part n at index n − 1. */
    parts: text("parts", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /** The R2 object holding the bytes after the last whole part, until the next part fills. */
    carryKey: text("carry_key"),
    /** The running SHA-256 of every byte written (domain/sha256.ts). */
    hashState: text("hash_state"),
    /** The most D1 statements of any queue invocation that moved the job on (the limit is per invocation). */
    peakStatements: integer("peak_statements").notNull().default(0),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("export_jobs_project").on(t.projectId, t.id)],
);

export type ExportJobRow = typeof exportJobs.$inferSelect;

/**
 * Captions a lead uploaded as a named set (e.g. another model's or another dataset's captions of
 * the same images): what an `import:<name>` study source reads. An upload replaces the set whole.
 */
export const importedCaptions = sqliteTable(
  "imported_captions",
  {
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    imageId: text("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    text: text("text").notNull(),
    uploadId: text("upload_id").notNull(),
    line: integer("line").notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.name, t.imageId] })],
);

/** Every caption-set upload, kept: who sent which bytes, and how many lines they held. */
export const captionUploads = sqliteTable(
  "caption_uploads",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    lines: integer("lines").notNull(),
    bytes: integer("bytes").notNull(),
    sha256: text("sha256").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("caption_uploads_set").on(t.projectId, t.name, t.id)],
);

export type StudyStatus = "draft" | "open" | "closed";

/** A pairwise user study: which caption sources, how voted; its plan is made and frozen when it opens. */
export const studies = sqliteTable(
  "studies",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    question: text("question").notNull(),
    status: text("status").$type<StudyStatus>().notNull(),
    design: text("design", { mode: "json" }).$type<StudyDesign>().notNull(),
    seed: integer("seed").notNull(),
    version: integer("version").notNull().default(1),
    /** Fresh for every change: the rest of the change's batch is guarded by it. */
    writeId: text("write_id"),
    /** Regular pairs and gold pairs in the plan, and regular votes cast (kept by each vote's batch). */
    pairs: integer("pairs").notNull().default(0),
    goldPairs: integer("gold_pairs").notNull().default(0),
    votes: integer("votes").notNull().default(0),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    openedAt: integer("opened_at"),
    closedAt: integer("closed_at"),
  },
  (t) => [index("studies_project").on(t.projectId, t.id)],
);

/** The model captions a study asked for: per `vlm:` source and image, the draft (round 3) that holds it. */
export const studyDescribeRequests = sqliteTable(
  "study_describe_requests",
  {
    studyId: text("study_id")
      .notNull()
      .references(() => studies.id, { onDelete: "cascade" }),
    source: text("source").notNull(),
    imageId: text("image_id").notNull(),
    draftKey: text("draft_key").notNull(),
  },
  (t) => [primaryKey({ columns: [t.studyId, t.source, t.imageId] })],
);

/** The caption each source gave each image of the plan, copied when the study opened: what voters saw. */
export const studyCaptions = sqliteTable(
  "study_captions",
  {
    studyId: text("study_id")
      .notNull()
      .references(() => studies.id, { onDelete: "cascade" }),
    source: text("source").notNull(),
    imageId: text("image_id").notNull(),
    text: text("text").notNull(),
    spans: text("spans", { mode: "json" }).$type<DraftCaption["spans"]>(),
    /** Where the text came from (final caption version, draft key, upload), for the record. */
    origin: text("origin").notNull(),
  },
  (t) => [primaryKey({ columns: [t.studyId, t.source, t.imageId] })],
);

export type PairKind = "pair" | "gold";

/** One caption pair of the plan: an image and two sources (gold pairs carry their correct answer). */
export const studyPairs = sqliteTable(
  "study_pairs",
  {
    id: text("id").primaryKey(),
    studyId: text("study_id")
      .notNull()
      .references(() => studies.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    imageId: text("image_id").notNull(),
    a: text("a").notNull(),
    b: text("b").notNull(),
    kind: text("kind").$type<PairKind>().notNull(),
    goldAnswer: text("gold_answer"),
    /** How a planted gold pair's error was made. */
    planted: text("planted", { mode: "json" }).$type<{ kind: string; from: string; to: string }>(),
  },
  (t) => [uniqueIndex("study_pairs_position").on(t.studyId, t.position), index("study_pairs_kind").on(t.studyId, t.kind, t.position)],
);

export type BallotKind = "pair" | "gold" | "repeat";
export type BallotStatus = "open" | "leased" | "voted";

/**
 * One vote to be cast, handed out by the lease engine as tasks are: `k` shared ballots per pair,
 * and personal ones (a voter's gold pairs and swapped repeats) that only their voter can take,
 * once they have cast `dueAfter` votes. Sides are decided at the claim (see `swapped`).
 */
export const ballots = sqliteTable(
  "ballots",
  {
    id: text("id").primaryKey(),
    studyId: text("study_id")
      .notNull()
      .references(() => studies.id, { onDelete: "cascade" }),
    pairId: text("pair_id").notNull(),
    position: integer("position").notNull(),
    slot: integer("slot").notNull(),
    kind: text("kind").$type<BallotKind>().notNull(),
    status: text("status").$type<BallotStatus>().notNull(),
    imageId: text("image_id").notNull(),
    a: text("a").notNull(),
    b: text("b").notNull(),
    /** Personal ballots: the only voter who may take it ('' for shared ballots). */
    assignedTo: text("assigned_to").notNull().default(""),
    dueAfter: integer("due_after").notNull().default(0),
    repeatOf: text("repeat_of"),
    /** 1: `b` is shown as A (left), `a` as B. */
    swapped: integer("swapped").notNull().default(0),
    leaseOwner: text("lease_owner"),
    leaseToken: text("lease_token"),
    leaseExpires: integer("lease_expires"),
    leasedAt: integer("leased_at"),
    voteId: text("vote_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("ballots_open_queue").on(t.studyId, t.position, t.slot).where(sql`${t.status} = 'open' AND ${t.kind} = 'pair'`),
    index("ballots_personal").on(t.studyId, t.assignedTo, t.dueAfter).where(sql`${t.status} = 'open' AND ${t.kind} != 'pair'`),
    index("ballots_lease_expiry").on(t.leaseExpires).where(sql`${t.status} = 'leased'`),
    index("ballots_held").on(t.studyId, t.leaseOwner).where(sql`${t.status} = 'leased'`),
    // Only ballots someone has held: a claim then adds one entry here instead of moving one.
    index("ballots_voter").on(t.studyId, t.leaseOwner, t.kind, t.a, t.b).where(sql`${t.leaseOwner} IS NOT NULL`),
    index("ballots_assigned").on(t.studyId, t.assignedTo, t.pairId),
    index("ballots_pair").on(t.pairId),
  ],
);

/** Who has held a shared ballot of a pair: the claim never gives them a second one (written by trigger). */
export const pairVoters = sqliteTable(
  "pair_voters",
  {
    pairId: text("pair_id").notNull(),
    voter: text("voter").notNull(),
    ballotId: text("ballot_id").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.pairId, t.voter] })],
);

export type VoteChoice = "A" | "B" | "tie";

/** A vote, append-only: what was shown where, what was chosen, why, and how long it took. */
export const votes = sqliteTable(
  "votes",
  {
    id: text("id").primaryKey(),
    studyId: text("study_id").notNull(),
    ballotId: text("ballot_id").notNull(),
    pairId: text("pair_id").notNull(),
    imageId: text("image_id").notNull(),
    kind: text("kind").$type<BallotKind>().notNull(),
    a: text("a").notNull(),
    b: text("b").notNull(),
    /** The source shown on the left (as A). */
    left: text("left").notNull(),
    choice: text("choice").$type<VoteChoice>().notNull(),
    /** The source chosen; null for a tie. */
    winner: text("winner"),
    voter: text("voter").notNull(),
    reasons: text("reasons", { mode: "json" }).$type<{ source: string; code: string }[]>().notNull(),
    activeMs: integer("active_ms"),
    durationMs: integer("duration_ms").notNull(),
    leasedAt: integer("leased_at").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [
    uniqueIndex("votes_ballot").on(t.ballotId),
    uniqueIndex("votes_pair_voter").on(t.pairId, t.voter).where(sql`${t.kind} != 'repeat'`),
    index("votes_study").on(t.studyId, t.id),
  ],
);

/** A voter in a study: counters its claims read, and whether a lead excluded it. */
export const studyVoters = sqliteTable(
  "study_voters",
  {
    studyId: text("study_id")
      .notNull()
      .references(() => studies.id, { onDelete: "cascade" }),
    voter: text("voter").notNull(),
    /** Crowd participants: the invite they came through and the platform's participant id. */
    inviteId: text("invite_id"),
    participantId: text("participant_id"),
    votes: integer("votes").notNull().default(0),
    excluded: integer("excluded", { mode: "boolean" }).notNull().default(false),
    excludedReason: text("excluded_reason"),
    joinedAt: integer("joined_at").notNull(),
    lastVoteAt: integer("last_vote_at"),
  },
  (t) => [primaryKey({ columns: [t.studyId, t.voter] })],
);

/** Every exclusion (and re-inclusion) of a voter by a lead, append-only. */
export const voterExclusions = sqliteTable(
  "voter_exclusions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    studyId: text("study_id").notNull(),
    voter: text("voter").notNull(),
    action: text("action", { enum: ["exclude", "include"] }).notNull(),
    reason: text("reason").notNull(),
    subject: text("subject").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [index("voter_exclusions_study").on(t.studyId, t.id)],
);

/** A link crowd participants come through (Prolific, MTurk…): it carries their id and ends with a completion code. */
export const studyInvites = sqliteTable(
  "study_invites",
  {
    id: text("id").primaryKey(),
    studyId: text("study_id")
      .notNull()
      .references(() => studies.id, { onDelete: "cascade" }),
    label: text("label").notNull().default(""),
    participantParam: text("participant_param").notNull(),
    completionCode: text("completion_code").notNull(),
    maxParticipants: integer("max_participants"),
    participants: integer("participants").notNull().default(0),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("study_invites_study").on(t.studyId, t.id)],
);

export type StudyRow = typeof studies.$inferSelect;
export type StudyPairRow = typeof studyPairs.$inferSelect;
export type BallotRow = typeof ballots.$inferSelect;
export type VoteRow = typeof votes.$inferSelect;
export type StudyVoterRow = typeof studyVoters.$inferSelect;
export type StudyInviteRow = typeof studyInvites.$inferSelect;

/**
 * What reports count, kept at write time by triggers in the statement that makes each change
 * (migrations/0012): per project, metric and dimension (a round and task kind, a round, a
 * provider|model|prompt, a study…), as a total (`day` '') and per UTC day. Reports read only these.
 * Gauges (`status:<s>`, `stale`) move up and down; everything else only grows.
 */
export const reportCounters = sqliteTable(
  "report_counters",
  {
    projectId: text("project_id").notNull(),
    metric: text("metric").notNull(),
    dim: text("dim").notNull().default(""),
    day: text("day").notNull().default(""),
    value: real("value").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.metric, t.dim, t.day] })],
);

/** Per person, project and round: sums of their work and its fate, kept by triggers like report_counters. */
export const annotatorCounters = sqliteTable(
  "annotator_counters",
  {
    projectId: text("project_id").notNull(),
    subject: text("subject").notNull(),
    round: integer("round").notNull(),
    metric: text("metric").notNull(),
    value: real("value").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.subject, t.round, t.metric] })],
);

export type ReportCounterRow = typeof reportCounters.$inferSelect;
export type AnnotatorCounterRow = typeof annotatorCounters.$inferSelect;

/** How much an image's round-1 annotators agreed (domain/region-agreement.ts), computed and stored when it consolidates. */
export const imageAgreement = sqliteTable(
  "image_agreement",
  {
    imageId: text("image_id").primaryKey(),
    projectId: text("project_id").notNull(),
    annotators: integer("annotators").notNull(),
    record: text("record", { mode: "json" }).$type<ImageAgreementRecord>().notNull(),
    at: integer("at").notNull(),
  },
  (t) => [index("image_agreement_project").on(t.projectId, t.imageId)],
);
