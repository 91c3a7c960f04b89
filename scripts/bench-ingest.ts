/**
 * Ingestion benchmark on the COCO-panoptic sample image 000000142238 (640×427, 18 segments).
 *
 *   node scripts/bench-ingest.ts [--warmup=10] [--iterations=100] [--upload-warmup=10] [--uploads=60] [--no-worker]
 *
 * Section 1 times the pure part of ingesting one image, in-process: decode the JPEG, decode the
 * panoptic PNG, check their sizes agree, measure the segments and check segments_info. It also times
 * a JPEG encode of the decoded pixels, which set-of-marks rendering needs (not part of ingestion).
 *
 * Section 2 times whole uploads through the Worker: `wrangler dev` on a free loopback port with a
 * fresh temporary state folder, a lead token, a project, then sequential multipart uploads, each
 * of distinct bytes in both files, so none is answered as a re-upload and each writes two new R2
 * objects: the sample JPEG with a COM segment after SOI (other bytes, same pixels), and a distinct
 * panoptic PNG of the same size with its segments_info, a synthetic scene
 * (worker/imaging/synthetic.ts synthesizeScene(seed)), generated before the timing starts. After
 * the run the state folder is checked: as many distinct image and panoptic blobs as uploads.
 * Latency is what the client observes. The server is stopped and its state folder deleted after.
 *
 * The sample is read from ../shared/data/coco-panoptic-sample (or GROUNDWORK_SAMPLE_DIR).
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { checkSegmentsInfo } from "../worker/domain/segments-check.ts";
import type { SegmentInfo } from "../worker/domain/segments-check.ts";
import { decodeImage } from "../worker/imaging/decode.ts";
import { encodeJpeg } from "../worker/imaging/jpeg.ts";
import { decodePanoptic } from "../worker/imaging/panoptic.ts";
import { measureSegments } from "../worker/imaging/segments.ts";
import { synthesizeScene } from "../worker/imaging/synthetic.ts";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { installNodeJpegCodec } from "./lib/jpeg-node.ts";
import { findD1File } from "./lib/seed-tasks.ts";
import { applyLocalMigrations, freePort, startDevServer, stopServer, waitForHealthy } from "./lib/wrangler.ts";
import { devToken } from "./token.ts";

const ROOT = resolve(import.meta.dirname, "..");
const IMAGE = "000000142238";

export interface BenchSample {
  dir: string;
  jpeg: Uint8Array;
  png: Uint8Array;
  segmentsInfo: SegmentInfo[];
  categoryIds: ReadonlySet<number>;
}

export interface Summary {
  median: number;
  p95: number;
}

export interface PureBenchResult {
  width: number;
  height: number;
  iterations: number;
  total: Summary;
  stages: Record<PureStage, Summary>;
  /** encodeJpeg of the decoded sample at quality 85 (set-of-marks output), outside the total. */
  encodeJpeg: Summary & { bytes: number };
}

export interface WorkerBenchResult {
  uploads: number;
  /** Mean bytes per upload (image + panoptic + segments_info). */
  requestBytes: number;
  /** Mean segments per upload's panoptic PNG. */
  segments: number;
  latency: Summary;
  /** Images the database holds after the run (warm-up included), and their distinct image and panoptic sha256. */
  stored: { images: number; distinctImages: number; distinctPanoptics: number };
  /** Objects in the local R2 bucket after the run (each upload writes its image and its panoptic). */
  r2Objects: number | null;
}

const STAGES = ["decodeImage", "decodePanoptic", "sizeCheck", "measureSegments", "checkSegmentsInfo"] as const;
type PureStage = (typeof STAGES)[number];

export function sampleDir(): string {
  return process.env.GROUNDWORK_SAMPLE_DIR ?? resolve(ROOT, "..", "shared", "data", "coco-panoptic-sample");
}

export function loadSample(dir = sampleDir()): BenchSample {
  if (!existsSync(join(dir, "panoptic_examples.json"))) {
    throw new Error(`COCO-panoptic sample not found at ${dir} (set GROUNDWORK_SAMPLE_DIR)`);
  }
  const examples = JSON.parse(readFileSync(join(dir, "panoptic_examples.json"), "utf8")) as {
    annotations: { file_name: string; segments_info: SegmentInfo[] }[];
  };
  const ann = examples.annotations.find((a) => a.file_name === `${IMAGE}.png`);
  if (!ann) throw new Error(`panoptic_examples.json has no annotation for ${IMAGE}`);
  const categories = JSON.parse(readFileSync(join(dir, "panoptic_coco_categories.json"), "utf8")) as { id: number }[];
  return {
    dir,
    jpeg: new Uint8Array(readFileSync(join(dir, "images", `${IMAGE}.jpg`))),
    png: new Uint8Array(readFileSync(join(dir, "panoptic", `${IMAGE}.png`))),
    segmentsInfo: ann.segments_info,
    categoryIds: new Set(categories.map((c) => c.id)),
  };
}

/** One pass of the pure ingestion path, returning each stage's duration in ms. */
async function ingestOnce(s: BenchSample): Promise<Record<PureStage, number> & { width: number; height: number }> {
  const t0 = performance.now();
  const image = await decodeImage(s.jpeg, "image");
  const t1 = performance.now();
  const map = decodePanoptic(s.png, "panoptic");
  const t2 = performance.now();
  if (image.width !== map.width || image.height !== map.height) {
    throw new Error(`image is ${image.width}×${image.height} but panoptic is ${map.width}×${map.height}`);
  }
  const t3 = performance.now();
  const measured = measureSegments(map);
  const t4 = performance.now();
  const problems = checkSegmentsInfo(s.segmentsInfo, measured, s.categoryIds);
  const t5 = performance.now();
  if (problems.length > 0) throw new Error(`sample failed the segments check: ${JSON.stringify(problems)}`);
  return {
    width: image.width,
    height: image.height,
    decodeImage: t1 - t0,
    decodePanoptic: t2 - t1,
    sizeCheck: t3 - t2,
    measureSegments: t4 - t3,
    checkSegmentsInfo: t5 - t4,
  };
}

export async function benchPure(s: BenchSample, warmup = 10, iterations = 100): Promise<PureBenchResult> {
  await installNodeJpegCodec();
  for (let i = 0; i < warmup; i++) await ingestOnce(s);
  const totals: number[] = [];
  const perStage = Object.fromEntries(STAGES.map((k) => [k, [] as number[]])) as Record<PureStage, number[]>;
  let size = { width: 0, height: 0 };
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    const r = await ingestOnce(s);
    totals.push(performance.now() - t);
    for (const k of STAGES) perStage[k].push(r[k]);
    size = { width: r.width, height: r.height };
  }
  const stages = Object.fromEntries(STAGES.map((k) => [k, summarize(perStage[k])])) as Record<PureStage, Summary>;

  const pixels = await decodeImage(s.jpeg, "image");
  const encodeTimes: number[] = [];
  let bytes = 0;
  const encodeRuns = Math.max(5, Math.ceil(iterations / 4));
  for (let i = 0; i < warmup + encodeRuns; i++) {
    const t = performance.now();
    bytes = (await encodeJpeg(pixels.rgba, pixels.width, pixels.height, 85)).byteLength;
    if (i >= warmup) encodeTimes.push(performance.now() - t);
  }
  return { ...size, iterations, total: summarize(totals), stages, encodeJpeg: { ...summarize(encodeTimes), bytes } };
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { median: at(0.5), p95: at(0.95) };
}

export function pureLine(r: PureBenchResult): string {
  return `pure ingest ${r.width}x${r.height} (Node): median ${r.total.median.toFixed(2)} ms, p95 ${r.total.p95.toFixed(2)} ms`;
}

export function printPure(r: PureBenchResult): void {
  console.log(`\n== Pure ingestion (${IMAGE}, ${r.iterations} iterations, Node ${process.version}) ==`);
  for (const k of STAGES) {
    console.log(`  ${k.padEnd(18)} median ${r.stages[k].median.toFixed(2).padStart(7)} ms   p95 ${r.stages[k].p95.toFixed(2).padStart(7)} ms`);
  }
  console.log(pureLine(r));
  const e = r.encodeJpeg;
  console.log(`  (not ingestion) encodeJpeg q85 ${r.width}x${r.height}: median ${e.median.toFixed(2)} ms, p95 ${e.p95.toFixed(2)} ms, ${e.bytes} bytes`);
}

/**
 * The sample JPEG with a COM segment right after SOI: still a valid JPEG with the same pixels, but
 * other bytes (and so another sha256) for every n.
 */
export function uniqueJpeg(jpeg: Uint8Array, n: number): Uint8Array {
  const text = new TextEncoder().encode(`bench-${n}-${process.pid}`);
  const segment = new Uint8Array(4 + text.length);
  segment.set([0xff, 0xfe, (text.length + 2) >> 8, (text.length + 2) & 0xff]);
  segment.set(text, 4);
  const out = new Uint8Array(jpeg.length + segment.length);
  out.set(jpeg.subarray(0, 2));
  out.set(segment, 2);
  out.set(jpeg.subarray(2), 2 + segment.length);
  return out;
}



export async function benchWorker(s: BenchSample, warmup = 10, uploads = 60): Promise<WorkerBenchResult> {
  ensureDevVars();
  const stateDir = mkdtempSync(join(tmpdir(), "groundwork-bench-"));
  let server: ChildProcess | undefined;
  let serverLog = "";
  try {
    applyLocalMigrations(stateDir, true);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = startDevServer(port, stateDir, true, { devTracing: false });
    // Drain wrangler's stderr (a full pipe would stall it) and keep the tail for error reports.
    server.stderr?.on("data", (d: Buffer) => (serverLog = (serverLog + d.toString()).slice(-4000)));
    await waitForHealthy(base, server);

    const token = await devToken("lead", ["*"], "bench");
    const auth = { authorization: `Bearer ${token}` };
    const created = await fetch(`${base}/v1/projects`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ id: "bench", name: "bench" }),
    });
    if (created.status !== 201) throw new Error(`creating the bench project answered ${created.status}: ${await created.text()}`);

    // Distinct panoptic PNGs of the sample's size, made before the timing starts.
    const { width, height } = decodePanoptic(s.png, "panoptic");
    const scenes = Array.from({ length: warmup + uploads }, (_, n) => synthesizeScene(10_000 + n, { width, height }));
    let bytes = 0;
    let segments = 0;
    const upload = async (n: number): Promise<number> => {
      const jpeg = uniqueJpeg(s.jpeg, n);
      const scene = scenes[n];
      const segmentsInfo = JSON.stringify(scene.segmentsInfo);
      const form = new FormData();
      form.set("image", new Blob([jpeg], { type: "image/jpeg" }), `${IMAGE}.jpg`);
      form.set("panoptic", new Blob([scene.panoptic], { type: "image/png" }), `${IMAGE}-${n}.png`);
      form.set("segments_info", segmentsInfo);
      const t = performance.now();
      const res = await fetch(`${base}/v1/projects/bench/images`, { method: "POST", headers: auth, body: form });
      const body = await res.text();
      const ms = performance.now() - t;
      if (res.status !== 201) throw new Error(`upload ${n} answered ${res.status}, expected 201: ${body.slice(0, 500)}`);
      return ms;
    };
    for (let i = 0; i < warmup; i++) await upload(i);
    const times: number[] = [];
    for (let i = 0; i < uploads; i++) {
      const scene = scenes[warmup + i];
      bytes += uniqueJpeg(s.jpeg, warmup + i).length + scene.panoptic.length + JSON.stringify(scene.segmentsInfo).length;
      segments += scene.segmentsInfo.length;
      times.push(await upload(warmup + i));
    }
    await stopServer(server);
    server = undefined;
    return { uploads, requestBytes: bytes / uploads, segments: segments / uploads, latency: summarize(times), stored: storedImages(stateDir), r2Objects: r2ObjectCount(stateDir) };
  } catch (err) {
    if (serverLog) console.error(`wrangler dev output (tail):\n${serverLog}`);
    throw err;
  } finally {
    if (server) await stopServer(server);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** What the database holds after the run: every upload a new image with its own bytes. */
function storedImages(stateDir: string): WorkerBenchResult["stored"] {
  const db = new DatabaseSync(findD1File(stateDir), { readOnly: true });
  try {
    const row = db.prepare("SELECT COUNT(*) AS images, COUNT(DISTINCT image_sha256) AS di, COUNT(DISTINCT panoptic_sha256) AS dp FROM images").get() as { images: number; di: number; dp: number };
    return { images: Number(row.images), distinctImages: Number(row.di), distinctPanoptics: Number(row.dp) };
  } finally {
    db.close();
  }
}

/** Miniflare keeps each R2 object's bytes as one file under v3/r2/<bucket>/blobs; null if that layout is not found. */
function r2ObjectCount(stateDir: string): number | null {
  const root = join(stateDir, "v3", "r2");
  if (!existsSync(root)) return null;
  let count = 0;
  let found = false;
  for (const bucket of readdirSync(root)) {
    const blobs = join(root, bucket, "blobs");
    if (!existsSync(blobs) || !statSync(blobs).isDirectory()) continue;
    found = true;
    count += readdirSync(blobs).length;
  }
  return found ? count : null;
}

export function workerLine(r: WorkerBenchResult): string {
  return `through the Worker (wrangler dev, loopback): median ${r.latency.median.toFixed(2)} ms, p95 ${r.latency.p95.toFixed(2)} ms per upload`;
}

export function printWorker(r: WorkerBenchResult): void {
  console.log(
    `\n== Through the Worker (${IMAGE}.jpg made distinct + a distinct synthetic panoptic PNG of its size, ${r.segments.toFixed(1)} segments on average; ` +
      `${r.uploads} sequential uploads of ${(r.requestBytes / 1024).toFixed(0)} KiB on average, each 201) ==`,
  );
  console.log(workerLine(r));
  const st = r.stored;
  console.log(
    `  stored: ${st.images} images (warm-up included) with ${st.distinctImages} distinct image and ${st.distinctPanoptics} distinct panoptic sha256; ` +
      `R2 objects ${r.r2Objects ?? "n/a (unknown local layout)"}${st.distinctImages === st.images && st.distinctPanoptics === st.images ? "" : "  WARNING: some uploads shared bytes"}`,
  );
}

function intArg(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg ? Number(arg.slice(name.length + 3)) : fallback;
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const sample = loadSample();
  const pure = await benchPure(sample, intArg("warmup", 10), Math.max(1, intArg("iterations", 100)));
  printPure(pure);
  const worker = process.argv.includes("--no-worker")
    ? null
    : await benchWorker(sample, intArg("upload-warmup", 10), Math.max(1, intArg("uploads", 60)));
  if (worker) printWorker(worker);
  console.log(`\n${pureLine(pure)}`);
  if (worker) console.log(workerLine(worker));
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
