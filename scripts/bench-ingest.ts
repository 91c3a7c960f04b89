/**
 * Ingestion benchmark on the COCO-panoptic sample image 000000142238 (640×427, 18 segments).
 *
 *   node scripts/bench-ingest.ts [--warmup=10] [--iterations=100]
 *
 * Section 1 times the pure part of ingesting one image, in-process: decode the JPEG, decode the
 * panoptic PNG, check their sizes agree, measure the segments and check segments_info. The sample
 * is read from ../shared/data/coco-panoptic-sample (or GROUNDWORK_SAMPLE_DIR).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { checkSegmentsInfo } from "../worker/domain/segments-check.ts";
import type { SegmentInfo } from "../worker/domain/segments-check.ts";
import { decodeImage } from "../worker/imaging/decode.ts";
import { decodePanoptic } from "../worker/imaging/panoptic.ts";
import { measureSegments } from "../worker/imaging/segments.ts";

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
function ingestOnce(s: BenchSample): Record<PureStage, number> & { width: number; height: number } {
  const t0 = performance.now();
  const image = decodeImage(s.jpeg, "image");
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

export function benchPure(s: BenchSample, warmup = 10, iterations = 100): PureBenchResult {
  for (let i = 0; i < warmup; i++) ingestOnce(s);
  const totals: number[] = [];
  const perStage = Object.fromEntries(STAGES.map((k) => [k, [] as number[]])) as Record<PureStage, number[]>;
  let size = { width: 0, height: 0 };
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    const r = ingestOnce(s);
    totals.push(performance.now() - t);
    for (const k of STAGES) perStage[k].push(r[k]);
    size = { width: r.width, height: r.height };
  }
  const stages = Object.fromEntries(STAGES.map((k) => [k, summarize(perStage[k])])) as Record<PureStage, Summary>;
  return { ...size, iterations, total: summarize(totals), stages };
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { median: at(0.5), p95: at(0.95) };
}

export function pureLine(r: PureBenchResult): string {
  return `pure ingest ${r.width}x${r.height}: median ${r.total.median.toFixed(2)} ms, p95 ${r.total.p95.toFixed(2)} ms`;
}

export function printPure(r: PureBenchResult): void {
  console.log(`\n== Pure ingestion (${IMAGE}, ${r.iterations} iterations, Node ${process.version}) ==`);
  for (const k of STAGES) {
    console.log(`  ${k.padEnd(18)} median ${r.stages[k].median.toFixed(2).padStart(7)} ms   p95 ${r.stages[k].p95.toFixed(2).padStart(7)} ms`);
  }
  console.log(pureLine(r));
}

function intArg(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg ? Number(arg.slice(name.length + 3)) : fallback;
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const sample = loadSample();
  printPure(benchPure(sample, intArg("warmup", 10), Math.max(1, intArg("iterations", 100))));
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
