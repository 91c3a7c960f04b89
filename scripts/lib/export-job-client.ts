/**
 * An export job as a client runs it: create it, poll it until it is done, then download its file
 * and manifest and check them (size, lines, sha256 against the job and the manifest). For the
 * export benchmark; the figures of the job (messages, the largest statement count of one queue
 * invocation) come from the job itself, as any client sees them.
 */
import { createHash } from "node:crypto";

export interface JobProgress {
  atMs: number;
  images: number;
  messages: number;
}

export interface JobRun {
  id: string;
  status: string;
  error: string | null;
  /** POST until the client saw it done (includes the polling interval). */
  ms: number;
  /** The job's own created_at → updated_at (its last checkpoint), on the server's clock. */
  serverMs: number;
  images: number;
  lines: number;
  bytes: number;
  messages: number;
  peakStatements: number;
  sha256: string | null;
  manifest: Record<string, unknown> | null;
  file: { bytes: number; lines: number; sha256: string; ms: number } | null;
  progress: JobProgress[];
  problems: string[];
}

interface JobJson {
  id: string;
  status: string;
  images: number;
  lines: number;
  bytes: number;
  messages: number;
  peak_statements: number;
  sha256: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
  download: { url: string; manifest_url: string } | null;
}

/** The body's size, newline count and sha256, read as it arrives. */
async function digestBody(res: Response): Promise<{ bytes: number; lines: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  let lines = 0;
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    bytes += value.byteLength;
    for (let at = value.indexOf(10); at !== -1; at = value.indexOf(10, at + 1)) lines++;
  }
  return { bytes, lines, sha256: hash.digest("hex") };
}

export async function runExportJob(
  base: string,
  token: string,
  projectId: string,
  format: string,
  o: { timeoutMs: number; pollMs?: number; stop?: () => boolean },
): Promise<JobRun> {
  const headers = { authorization: `Bearer ${token}` };
  const t0 = performance.now();
  const created = await fetch(`${base}/v1/projects/${projectId}/exports`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ format }),
  });
  if (created.status !== 202) throw new Error(`POST /exports answered ${created.status}: ${(await created.text()).slice(0, 300)}`);
  let job = (await created.json()) as JobJson;
  const progress: JobProgress[] = [];
  const deadline = Date.now() + o.timeoutMs;
  while (job.status !== "done" && job.status !== "failed") {
    if (Date.now() > deadline) throw new Error(`export job ${job.id} not done after ${o.timeoutMs / 1000} s (${job.status}, ${job.images} images)`);
    if (o.stop?.()) throw new Error("interrupted");
    await new Promise((ok) => setTimeout(ok, o.pollMs ?? 200));
    const r = await fetch(`${base}/v1/projects/${projectId}/exports/jobs/${job.id}`, { headers });
    if (r.status !== 200) throw new Error(`GET export job answered ${r.status}: ${(await r.text()).slice(0, 300)}`);
    job = (await r.json()) as JobJson;
    if (progress.at(-1)?.messages !== job.messages) progress.push({ atMs: performance.now() - t0, images: job.images, messages: job.messages });
  }
  const ms = performance.now() - t0;
  const run: JobRun = {
    id: job.id,
    status: job.status,
    error: job.error,
    ms,
    serverMs: Date.parse(job.updated_at) - Date.parse(job.created_at),
    images: job.images,
    lines: job.lines,
    bytes: job.bytes,
    messages: job.messages,
    peakStatements: job.peak_statements,
    sha256: job.sha256,
    manifest: null,
    file: null,
    progress,
    problems: [],
  };
  if (job.status !== "done" || !job.download) {
    run.problems.push(`the job ended ${job.status}: ${job.error}`);
    return run;
  }
  const t1 = performance.now();
  const file = await fetch(`${base}${job.download.url}`);
  if (file.status !== 200) run.problems.push(`the file download answered ${file.status}`);
  else run.file = { ...(await digestBody(file)), ms: performance.now() - t1 };
  const manifest = await fetch(`${base}${job.download.manifest_url}`);
  if (manifest.status === 200) run.manifest = (await manifest.json()) as Record<string, unknown>;
  else run.problems.push(`the manifest download answered ${manifest.status}`);
  if (run.file) {
    if (run.file.sha256 !== job.sha256) run.problems.push(`the file's sha256 ${run.file.sha256} is not the job's ${job.sha256}`);
    if (run.file.bytes !== job.bytes) run.problems.push(`the file has ${run.file.bytes} bytes, the job says ${job.bytes}`);
    if (run.file.lines !== job.lines) run.problems.push(`the file has ${run.file.lines} lines, the job says ${job.lines}`);
  }
  const m = run.manifest;
  if (m && (m.sha256 !== job.sha256 || m.images !== job.images || m.lines !== job.lines || m.bytes !== job.bytes)) {
    run.problems.push(`the manifest (${m.images} images, ${m.lines} lines, ${m.bytes} bytes, ${m.sha256}) disagrees with the job`);
  }
  return run;
}
