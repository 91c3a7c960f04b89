import type { ExportJobRow } from "../../schema/tables.ts";
import { cacheKey } from "../domain/cache-key.ts";
import type { DraftQueueMessage, Env } from "../env.ts";
import { exportPageSize, finalImagePage, PAGE_STATEMENTS, type ExportFilter, type ExportPage } from "../flows/export.ts";
import { exportMessageMs, exportStatementBudget, statementsSpent } from "../flows/export-budget.ts";
import { formatPage, type ExportFormat } from "../flows/export-format.ts";
import type { Db } from "../store/db.ts";
import { ExportFileWriter, type FileCheckpoint } from "../store/export-file.ts";
import { advanceExportJob, getExportJob, markExportJob } from "../store/export-jobs.ts";
import { getProject, listCategories } from "../store/projects.ts";

/** Statements kept back from the page loop: the checkpoint's compare-and-set, and an error note if it fails. */
const RESERVE = 2;

type ExportMessage = Extract<DraftQueueMessage, { kind: "export" }>;

/**
 * `early`: the message belongs to a checkpoint not yet taken (sent just before it); ask again soon.
 * `stale`: its checkpoint was taken already, or the job is over; drop it.
 */
export type ExportStepOutcome = "more" | "done" | "early" | "stale";

/**
 * One queue message of an export job: resume from the job's checkpoint, write the pages that fit
 * the invocation's statement budget, then either finish the file (last part, manifest) or leave a
 * new checkpoint and queue the message that goes on from it.
 *
 * Exactly-once rows from at-least-once messages: a message names the checkpoint it continues
 * (`seq`), and the checkpoint moves only by compare-and-set from the one the message read, so of
 * two deliveries at most one advances it; the other's bytes are never referenced. The next message
 * is queued before the checkpoint is taken, so a crash between the two cannot end the chain (the
 * redelivered message sends it again; the duplicate is dropped as stale).
 */
export async function runExportStep(env: Env, db: Db, message: ExportMessage, o: { final: boolean }): Promise<ExportStepOutcome> {
  const job = await getExportJob(db, message.jobId);
  if (!job || job.status === "done" || job.status === "failed") return "stale";
  const seq = message.seq ?? job.seq;
  if (seq < job.seq) return "stale";
  if (seq > job.seq) return "early";
  try {
    return await step(env, db, job);
  } catch (err) {
    const error = String((err as Error)?.message ?? err).slice(0, 1000);
    // The note itself may be refused (the budget, a D1 fault): the queue's retry matters more.
    await noteFailure(env, db, job, error, o.final).catch(() => undefined);
    throw err;
  }
}

async function step(env: Env, db: Db, job: ExportJobRow): Promise<ExportStepOutcome> {
  const started = Date.now();
  let configHash = job.configHash;
  if (job.seq === 0) {
    const project = await getProject(db, job.projectId);
    if (!project) {
      await advanceExportJob(db, job.id, job.seq, { status: "failed", error: "the project no longer exists" });
      return "done";
    }
    configHash = await cacheKey({ settings: project.settings, categories: await listCategories(db, project.id) });
  }
  const objectKey = objectKeyOf(job);
  const writer = await ExportFileWriter.open(env.BLOBS, objectKey, job.seq === 0 ? null : checkpointOf(job));
  const filter: ExportFilter = { projectId: job.projectId, ...job.filter };
  const pageSize = exportPageSize(env.EXPORT_PAGE_IMAGES);
  const budget = exportStatementBudget(env.D1_STATEMENT_LIMIT);
  const maxMs = exportMessageMs(env.EXPORT_MESSAGE_SECONDS);
  const room = () => statementsSpent() + PAGE_STATEMENTS + RESERVE <= budget && Date.now() - started < maxMs;
  const encoder = new TextEncoder();

  let cursor = job.cursor;
  let rows = job.rows;
  let lines = job.lines;
  let finished = false;
  // One page ahead: D1 reads the next page while this one is formatted, hashed and uploaded.
  let ahead = room() ? prefetch(db, filter, cursor, pageSize) : null;
  while (ahead) {
    const page = await ahead;
    ahead = page.next !== null && room() ? prefetch(db, filter, page.next, pageSize) : null;
    const out = await formatPage(env.BLOBS, job.format as ExportFormat, page);
    await writer.write(encoder.encode(out.text));
    rows += page.images.length;
    lines += out.lines;
    if (page.next === null) finished = true;
    else cursor = page.next;
  }

  const peakStatements = Math.max(job.peakStatements, statementsSpent() + 1);
  if (finished) {
    const file = await writer.finish();
    const manifestKey = `${objectKey}.manifest.json`;
    const manifest = {
      job_id: job.id,
      project_id: job.projectId,
      format: job.format,
      filter: job.filter,
      images: rows,
      lines,
      bytes: file.bytes,
      sha256: file.sha256,
      config_hash: configHash,
      object: objectKey,
      messages: job.seq + 1,
      created_at: new Date().toISOString(),
    };
    await env.BLOBS.put(manifestKey, JSON.stringify(manifest, null, 2), { httpMetadata: { contentType: "application/json" } });
    const won = await advanceExportJob(db, job.id, job.seq, {
      status: "done",
      rows,
      lines,
      bytes: file.bytes,
      sha256: file.sha256,
      objectKey,
      manifestKey,
      configHash,
      cursor,
      carryKey: null,
      hashState: null,
      error: null,
      peakStatements,
    });
    if (won) await dropCarried(env.BLOBS, objectKey);
    return "done";
  }

  const checkpoint = await writer.checkpoint(String(job.seq + 1));
  try {
    await env.DRAFT_QUEUE.send({ kind: "export", jobId: job.id, seq: job.seq + 1 });
  } catch (err) {
    // Nothing will name these bytes. (Once the compare-and-set is sent they stay: it may have committed.)
    if (checkpoint.carryKey) await env.BLOBS.delete(checkpoint.carryKey).catch(() => undefined);
    throw err;
  }
  const won = await advanceExportJob(db, job.id, job.seq, {
    status: "running",
    rows,
    lines,
    cursor,
    objectKey,
    configHash,
    error: null,
    peakStatements,
    ...checkpoint,
  });
  // The bytes no checkpoint names any more: the one replaced, or this attempt's if it lost.
  const orphan = won ? job.carryKey : checkpoint.carryKey;
  if (orphan) await env.BLOBS.delete(orphan).catch(() => undefined);
  return "more";
}

/** Every carried-bytes object of the file, the last checkpoint's and any a failed attempt left. */
async function dropCarried(bucket: R2Bucket, objectKey: string): Promise<void> {
  try {
    for (let cursor: string | undefined, more = true; more; ) {
      const listed = await bucket.list({ prefix: `${objectKey}.carry/`, cursor });
      if (listed.objects.length) await bucket.delete(listed.objects.map((o) => o.key));
      more = listed.truncated;
      cursor = listed.truncated ? listed.cursor : undefined;
    }
  } catch {
    // Best effort: leftovers only cost storage, and a lifecycle rule on the prefix can expire them.
  }
}

function prefetch(db: Db, filter: ExportFilter, after: string | null, pageSize: number): Promise<ExportPage> {
  const p = finalImagePage(db, filter, after, pageSize);
  // Awaited later; until then a failure must not count as unhandled.
  p.catch(() => undefined);
  return p;
}

function checkpointOf(job: ExportJobRow): FileCheckpoint {
  if (job.hashState === null) throw new Error(`export job ${job.id} is at checkpoint ${job.seq} without a hash state`);
  return { uploadId: job.uploadId, parts: job.parts, carryKey: job.carryKey, bytes: job.bytes, hashState: job.hashState };
}

/** Keeps why the attempt failed on the job; the last attempt fails the job and drops its file. */
async function noteFailure(env: Env, db: Db, job: ExportJobRow, error: string, final: boolean): Promise<void> {
  if (!final) return markExportJob(db, job.id, job.seq, { error: `attempt failed (it will be retried from checkpoint ${job.seq}): ${error}` });
  await markExportJob(db, job.id, job.seq, { status: "failed", error });
  await ExportFileWriter.discard(env.BLOBS, objectKeyOf(job), job);
  await dropCarried(env.BLOBS, objectKeyOf(job));
}

const objectKeyOf = (job: ExportJobRow) => job.objectKey ?? `exports/${job.projectId}/${job.id}.${job.format}.ndjson`;
