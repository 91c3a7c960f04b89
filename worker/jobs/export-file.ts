import { cacheKey } from "../domain/cache-key.ts";
import type { Env } from "../env.ts";
import { finalImagePages } from "../flows/export.ts";
import { formatPage, type ExportFormat } from "../routes/exports.ts";
import type { Db } from "../store/db.ts";
import { getExportJob, updateExportJob } from "../store/export-jobs.ts";
import { getProject, listCategories } from "../store/projects.ts";

/** R2 multipart parts must be at least 5 MiB (all but the last). */
const PART_BYTES = 8 * 1024 * 1024;

/**
 * Writes an export to R2 page by page as a multipart upload, hashing it as it goes, then a manifest
 * (counts, the file's sha256, the project's config hash) beside it. Memory holds one part at most.
 */
export async function runExportJob(env: Env, db: Db, jobId: string): Promise<void> {
  const job = await getExportJob(db, jobId);
  if (!job || job.status === "done") return;
  const project = await getProject(db, job.projectId);
  if (!project) return updateExportJob(db, jobId, { status: "failed", error: "the project no longer exists" });
  const configHash = await cacheKey({ settings: project.settings, categories: await listCategories(db, project.id) });
  const objectKey = `exports/${project.id}/${job.id}.${job.format}.ndjson`;
  await updateExportJob(db, jobId, { status: "running", rows: 0, bytes: 0, error: null, configHash });

  const upload = await env.BLOBS.createMultipartUpload(objectKey, { httpMetadata: { contentType: "application/x-ndjson; charset=utf-8" } });
  const digest = new crypto.DigestStream("SHA-256");
  const hashWriter = digest.getWriter();
  const parts: R2UploadedPart[] = [];
  const encoder = new TextEncoder();
  let buffered: Uint8Array[] = [];
  let bufferedBytes = 0;
  let rows = 0;
  let bytes = 0;
  const flush = async () => {
    if (bufferedBytes === 0) return;
    const part = new Uint8Array(bufferedBytes);
    let at = 0;
    for (const b of buffered) {
      part.set(b, at);
      at += b.byteLength;
    }
    parts.push(await upload.uploadPart(parts.length + 1, part));
    buffered = [];
    bufferedBytes = 0;
    await updateExportJob(db, jobId, { rows, bytes });
  };
  try {
    for await (const page of finalImagePages(db, { projectId: project.id, ...job.filter })) {
      const chunk = encoder.encode(await formatPage(env, db, job.format as ExportFormat, page));
      rows += page.length;
      bytes += chunk.byteLength;
      await hashWriter.write(chunk);
      buffered.push(chunk);
      bufferedBytes += chunk.byteLength;
      if (bufferedBytes >= PART_BYTES) await flush();
    }
    await flush();
    await hashWriter.close();
    const sha256 = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (parts.length === 0) {
      await upload.abort();
      await env.BLOBS.put(objectKey, new Uint8Array(0), { httpMetadata: { contentType: "application/x-ndjson; charset=utf-8" } });
    } else {
      await upload.complete(parts);
    }
    const manifestKey = `${objectKey}.manifest.json`;
    const manifest = { job_id: job.id, project_id: project.id, format: job.format, filter: job.filter, images: rows, bytes, sha256, config_hash: configHash, object: objectKey, created_at: new Date().toISOString() };
    await env.BLOBS.put(manifestKey, JSON.stringify(manifest, null, 2), { httpMetadata: { contentType: "application/json" } });
    await updateExportJob(db, jobId, { status: "done", rows, bytes, sha256, objectKey, manifestKey });
  } catch (err) {
    await upload.abort().catch(() => undefined);
    await updateExportJob(db, jobId, { status: "failed", error: String((err as Error).message ?? err).slice(0, 1000) });
    throw err;
  }
}
