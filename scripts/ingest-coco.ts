/**
 * Bulk ingestion of a COCO-panoptic folder into a Groundwork project.
 *
 *   node scripts/ingest-coco.ts --images val2017 --panoptic panoptic_val2017 \
 *     --json annotations/panoptic_val2017.json --api http://127.0.0.1:8787 --project coco --token $JWT
 *
 * Resumable: images whose external_id is already in the project are skipped, and the server
 * dedups by content, so rerunning after a crash or Ctrl-C only uploads what is missing.
 * Run with --help for every option and the exit codes.
 */
import { readFile, writeFile } from "node:fs/promises";
import { statSync } from "node:fs";
import { basename, extname } from "node:path";
import { pathToFileURL } from "node:url";
import { CocoJsonError, planIngest, type IngestItem } from "./lib/coco-folder.ts";
import { parseIngestArgs, USAGE, type IngestOptions, type PathKind } from "./lib/ingest-args.ts";
import {
  exitCodeFor,
  formatReport,
  localRejection,
  rejectionFromProblem,
  reportJson,
  type Failure,
  type Rejection,
  type SummaryContext,
} from "./lib/ingest-report.ts";
import { emptyCounts, ProgressReporter, type ProgressStream } from "./lib/progress.ts";
import { classifyStatus, describeNetworkError, fatalMessage, RETRY_DELAYS_MS, retryDelayMs } from "./lib/upload-policy.ts";

export const EXIT_OK = 0;
export const EXIT_REJECTED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** Generous: a 32 MiB upload over a slow link must not be cut off, but a hung server must be. */
const ATTEMPT_TIMEOUT_MS = 180_000;
const PAGE_SIZE = 200;
const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

export interface Io {
  stdout: { write(text: string): unknown };
  stderr: ProgressStream;
  env: Record<string, string | undefined>;
  /** Aborting it stops the run like Ctrl-C: no new uploads, a partial summary, exit 130. */
  signal?: AbortSignal;
}

/** Thrown when the API says the token or project is wrong: the whole run stops. */
class FatalApiError extends Error {}

/** An answer about one image that the retries could not turn into a success. */
type UploadResult =
  | { kind: "created" }
  | { kind: "present" }
  | { kind: "rejected"; rejection: Rejection }
  | { kind: "failed"; failure: Failure }
  | { kind: "stopped" };

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseIngestArgs(argv, io.env, pathKind);
  if (parsed.kind === "help") {
    io.stdout.write(USAGE + "\n");
    return EXIT_OK;
  }
  if (parsed.kind === "error") {
    io.stderr.write(`ingest-coco: ${parsed.message.split("\n").join("\ningest-coco: ")}\n(run with --help for usage)\n`);
    return EXIT_USAGE;
  }
  const opts = parsed.options;

  let plan;
  try {
    const json: unknown = JSON.parse(await readFile(opts.json, "utf8"));
    plan = planIngest(json, { images: opts.images, panoptic: opts.panoptic }, opts.limit);
  } catch (err) {
    const why = err instanceof SyntaxError ? `not valid JSON (${err.message})` : (err as Error).message;
    if (err instanceof CocoJsonError || err instanceof SyntaxError || (err as NodeJS.ErrnoException).code) {
      io.stderr.write(`ingest-coco: --json ${opts.json}: ${why}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }

  const total = plan.items.length + plan.problems.length;
  io.stderr.write(`Read ${total} annotation(s) from ${basename(opts.json)}; checking which are already in project "${opts.project}"…\n`);

  // One controller for the run: Ctrl-C and a fatal answer both stop every worker's in-flight request.
  const run = new AbortController();
  const onOuterAbort = () => run.abort();
  io.signal?.addEventListener("abort", onOuterAbort, { once: true });

  let existing: Set<string>;
  try {
    existing = await listExternalIds(opts, run.signal, (msg) => io.stderr.write(msg + "\n"));
  } catch (err) {
    io.signal?.removeEventListener("abort", onOuterAbort);
    if (run.signal.aborted) return EXIT_INTERRUPTED;
    io.stderr.write(`ingest-coco: ${err instanceof FatalApiError ? err.message : `cannot list the project's images: ${(err as Error).message}`}\n`);
    return EXIT_USAGE;
  }

  const counts = emptyCounts();
  const rejections: Rejection[] = plan.problems.map((p) => localRejection(p, p.reason));
  const failures: Failure[] = [];
  counts.rejected = rejections.length;
  const queue: IngestItem[] = [];
  for (const item of plan.items) {
    if (existing.has(item.externalId)) counts.skipped++;
    else queue.push(item);
  }

  const startedAt = Date.now();
  const doneAtStart = counts.skipped + counts.rejected;
  const progress = new ProgressReporter(io.stderr, total, { ...counts });
  progress.update(counts);
  // Keeps rate and ETA moving (and CI logs alive) while every worker waits on a slow upload.
  const ticker = setInterval(() => progress.update(counts), 1000);
  ticker.unref();

  let fatal: string | null = null;
  let next = 0;
  const worker = async () => {
    while (!run.signal.aborted && next < queue.length) {
      const item = queue[next++];
      let result: UploadResult;
      try {
        result = await ingestOne(item, opts, run.signal, (msg) => progress.log(msg));
      } catch (err) {
        // Either way the other workers must stop too, not keep uploading behind an error.
        run.abort();
        if (!(err instanceof FatalApiError)) throw err;
        fatal ??= err.message;
        return;
      }
      if (result.kind === "stopped") return;
      if (result.kind === "created") counts.created++;
      else if (result.kind === "present") counts.present++;
      else if (result.kind === "rejected") {
        counts.rejected++;
        rejections.push(result.rejection);
      } else {
        counts.failed++;
        failures.push(result.failure);
      }
      progress.update(counts);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, Math.max(1, queue.length)) }, worker));
  } finally {
    clearInterval(ticker);
    io.signal?.removeEventListener("abort", onOuterAbort);
  }
  progress.finish(counts);

  const interrupted = fatal === null && run.signal.aborted;
  const ctx: SummaryContext = {
    project: opts.project,
    total,
    elapsedMs: Date.now() - startedAt,
    doneAtStart,
    ...(fatal !== null ? { stoppedBecause: "the API refused the token or project" } : interrupted ? { stoppedBecause: "interrupted" } : {}),
  };
  if (fatal !== null) io.stderr.write(`ingest-coco: ${fatal}\n`);
  io.stdout.write(formatReport(counts, ctx, rejections, failures) + "\n");
  if (opts.report) {
    await writeFile(opts.report, JSON.stringify(reportJson(counts, ctx, rejections, failures), null, 2) + "\n");
    io.stderr.write(`Report written to ${opts.report}\n`);
  }
  if (fatal !== null) return EXIT_USAGE;
  if (interrupted) return EXIT_INTERRUPTED;
  return exitCodeFor(counts);
}

/** Every external_id already in the project, paging the list endpoint (200 per request). */
async function listExternalIds(opts: IngestOptions, signal: AbortSignal, log: (msg: string) => void): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const url = `${opts.api}/v1/projects/${encodeURIComponent(opts.project)}/images?limit=${PAGE_SIZE}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const res = await requestWithRetry(() => ({ url, init: { headers: auth(opts) } }), signal, (why, delayMs, attempt) =>
      log(`retrying the image list in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${MAX_ATTEMPTS}): ${why}`),
    );
    if (res.kind === "stopped") throw new Error("interrupted");
    if (res.kind === "network") throw new Error(res.error);
    const body = await readBody(res.response);
    const verdict = classifyStatus(res.response.status);
    if (verdict === "fatal") throw new FatalApiError(fatalMessage(res.response.status, problemText(body, "title"), problemText(body, "detail")));
    if (res.response.status !== 200) throw new Error(`HTTP ${res.response.status}: ${problemText(body, "detail") || body.text.slice(0, 200)}`);
    const page = body.json as { items?: unknown; next_cursor?: unknown } | null;
    if (!page || !Array.isArray(page.items)) throw new Error(`${url} did not answer with an image page (is --api the Groundwork API?)`);
    for (const img of page.items as { external_id?: unknown }[]) {
      if (typeof img.external_id === "string") ids.add(img.external_id);
    }
    cursor = typeof page.next_cursor === "string" ? page.next_cursor : null;
  } while (cursor);
  return ids;
}

async function ingestOne(item: IngestItem, opts: IngestOptions, signal: AbortSignal, log: (msg: string) => void): Promise<UploadResult> {
  // Read only now, and both before uploading: a missing half is reported without touching the server.
  const [image, panoptic] = await Promise.all([readIfPresent(item.imagePath), readIfPresent(item.panopticPath)]);
  if (image instanceof Error || panoptic instanceof Error) {
    const missing = [
      image instanceof Error ? `image file ${describeReadError(item.imagePath, image)}` : "",
      panoptic instanceof Error ? `panoptic PNG ${describeReadError(item.panopticPath, panoptic)}` : "",
    ];
    return { kind: "rejected", rejection: localRejection(item, missing.filter(Boolean).join("; ")) };
  }

  const url = `${opts.api}/v1/projects/${encodeURIComponent(opts.project)}/images`;
  const segmentsInfo = JSON.stringify(item.segmentsInfo);
  // A FormData body is consumed by fetch, so each attempt builds its own from the same buffers.
  const build = () => {
    const form = new FormData();
    form.append("image", new Blob([image], { type: mimeOf(item.fileName) }), basename(item.fileName));
    form.append("panoptic", new Blob([panoptic], { type: "image/png" }), basename(item.panopticPath));
    form.append("segments_info", segmentsInfo);
    form.append("file_name", item.fileName);
    form.append("external_id", item.externalId);
    return { url, init: { method: "POST", headers: auth(opts), body: form } };
  };

  const res = await requestWithRetry(build, signal, (why, delayMs, attempt) =>
    log(`retrying ${item.fileName} (image ${item.externalId}) in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${MAX_ATTEMPTS}): ${why}`),
  );
  if (res.kind === "stopped") return res;
  if (res.kind === "network") return { kind: "failed", failure: { fileName: item.fileName, externalId: item.externalId, attempts: res.attempts, error: res.error } };

  const { status } = res.response;
  const verdict = classifyStatus(status);
  if (verdict === "created" || verdict === "present") {
    // Drain the body so the connection goes back to the pool.
    await res.response.arrayBuffer().catch(() => undefined);
    return { kind: verdict };
  }
  const body = await readBody(res.response);
  if (verdict === "fatal") throw new FatalApiError(fatalMessage(status, problemText(body, "title"), problemText(body, "detail")));
  if (verdict === "retry") {
    const error = `HTTP ${status}: ${problemText(body, "detail") || body.text.slice(0, 200)}`;
    return { kind: "failed", failure: { fileName: item.fileName, externalId: item.externalId, attempts: res.attempts, error } };
  }
  return { kind: "rejected", rejection: rejectionFromProblem(item, status, body.json, body.text) };
}

type Attempted =
  | { kind: "response"; response: Response; attempts: number }
  | { kind: "network"; error: string; attempts: number }
  | { kind: "stopped" };

/**
 * Retries network errors and retryable statuses (5xx, 408, 429) with backoff. The last answer is
 * returned as is, so the caller decides what a final 5xx means.
 */
async function requestWithRetry(
  build: () => { url: string; init: RequestInit },
  signal: AbortSignal,
  onRetry: (why: string, delayMs: number, attempt: number) => void,
): Promise<Attempted> {
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) return { kind: "stopped" };
    const { url, init } = build();
    let why: string;
    let delay: number | null;
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.any([signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]) });
      if (classifyStatus(response.status) !== "retry") return { kind: "response", response, attempts: attempt };
      delay = retryDelayMs(attempt - 1, response.headers.get("retry-after"));
      if (delay === null) return { kind: "response", response, attempts: attempt };
      const body = await readBody(response);
      why = `HTTP ${response.status} ${problemText(body, "detail") || body.text.slice(0, 120)}`.trim();
    } catch (err) {
      if (signal.aborted) return { kind: "stopped" };
      why = describeNetworkError(err);
      delay = retryDelayMs(attempt - 1);
      if (delay === null) return { kind: "network", error: why, attempts: attempt };
    }
    onRetry(why, delay, attempt);
    if (!(await sleep(delay, signal))) return { kind: "stopped" };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

async function readBody(res: Response): Promise<{ text: string; json: unknown }> {
  const text = await res.text().catch(() => "");
  try {
    return { text, json: JSON.parse(text) };
  } catch {
    return { text, json: null };
  }
}

function problemText(body: { json: unknown }, key: "title" | "detail"): string {
  const v = typeof body.json === "object" && body.json !== null ? (body.json as Record<string, unknown>)[key] : undefined;
  return typeof v === "string" ? v : "";
}

function auth(opts: IngestOptions): Record<string, string> {
  return { authorization: `Bearer ${opts.token}` };
}

async function readIfPresent(path: string): Promise<Uint8Array | Error> {
  try {
    return await readFile(path);
  } catch (err) {
    return err as Error;
  }
}

function describeReadError(path: string, err: Error): string {
  return (err as NodeJS.ErrnoException).code === "ENOENT" ? `not found: ${path}` : `unreadable: ${path} (${err.message})`;
}

function mimeOf(fileName: string): string {
  return extname(fileName).toLowerCase() === ".png" ? "image/png" : "image/jpeg";
}

function pathKind(path: string): PathKind {
  try {
    return statSync(path).isDirectory() ? "dir" : "file";
  } catch {
    return null;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const interrupt = new AbortController();
  process.once("SIGINT", () => {
    process.stderr.write("\ninterrupted: stopping; run the same command again to resume (Ctrl-C again to quit at once)\n");
    interrupt.abort();
    process.once("SIGINT", () => process.exit(EXIT_INTERRUPTED));
  });
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: interrupt.signal }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`ingest-coco: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = EXIT_USAGE;
    },
  );
}
