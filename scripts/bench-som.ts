/**
 * Set-of-marks benchmark on the COCO-panoptic sample image 000000142238 (640×427, 18 segments),
 * in Node, on the same code the Worker runs:
 *
 *   node scripts/bench-som.ts [--warmup=10] [--iterations=50] [--layout=som|side-by-side] [--encoders]
 *
 * Per iteration: decode the JPEG (decodeImage), decode the panoptic PNG, measureSegments,
 * renderSetOfMarks, encodeRender(png). The headline total is what the Worker does per render:
 * decode both images, render, encode; measureSegments is shown but not counted, because the Worker
 * reads the mark points measured at ingest from D1. Prints median and p95 per stage, the peak
 * RSS, heap used and ArrayBuffer bytes (process.memoryUsage() sampled after every stage), and a
 * headline line. `--encoders` adds a size-versus-time comparison of encoders for the same render:
 * encode.ts per PNG filter, fast-png per deflate level, and the JPEG path of encodeRender.
 * The sample is read from ../shared/data/coco-panoptic-sample (or GROUNDWORK_SAMPLE_DIR).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { encode as encodeFastPng } from "fast-png";
import { decodeImage } from "../worker/imaging/decode.ts";
import { encodePngRgb } from "../worker/imaging/encode.ts";
import type { PngFilter } from "../worker/imaging/encode.ts";
import { decodePanoptic } from "../worker/imaging/panoptic.ts";
import { measureSegments } from "../worker/imaging/segments.ts";
import { encodeRender, renderSetOfMarks, SOM_JPEG_QUALITY } from "../worker/imaging/som.ts";
import type { SomOptions, SomRender } from "../worker/imaging/som.ts";
import { installNodeJpegCodec } from "./lib/jpeg-node.ts";

const ROOT = resolve(import.meta.dirname, "..");
const IMAGE = "000000142238";
const STAGES = ["decodeImage", "decodePanoptic", "measureSegments", "renderSetOfMarks", "encodeRender"] as const;
type Stage = (typeof STAGES)[number];

interface Summary {
  median: number;
  p95: number;
}

function sampleDir(): string {
  return process.env.GROUNDWORK_SAMPLE_DIR ?? resolve(ROOT, "..", "shared", "data", "coco-panoptic-sample");
}

function loadSample(dir = sampleDir()): { jpeg: Uint8Array; png: Uint8Array } {
  if (!existsSync(join(dir, "images", `${IMAGE}.jpg`))) throw new Error(`COCO-panoptic sample not found at ${dir} (set GROUNDWORK_SAMPLE_DIR)`);
  return {
    jpeg: new Uint8Array(readFileSync(join(dir, "images", `${IMAGE}.jpg`))),
    png: new Uint8Array(readFileSync(join(dir, "panoptic", `${IMAGE}.png`))),
  };
}

class Peak {
  rss = 0;
  heapUsed = 0;
  arrayBuffers = 0;
  sample(): void {
    const m = process.memoryUsage();
    if (m.rss > this.rss) this.rss = m.rss;
    if (m.heapUsed > this.heapUsed) this.heapUsed = m.heapUsed;
    if (m.arrayBuffers > this.arrayBuffers) this.arrayBuffers = m.arrayBuffers;
  }
}

async function once(s: { jpeg: Uint8Array; png: Uint8Array }, options: SomOptions, peak: Peak) {
  const t0 = performance.now();
  const image = await decodeImage(s.jpeg, "image");
  const t1 = performance.now();
  peak.sample();
  const t1b = performance.now();
  const panoptic = decodePanoptic(s.png, "panoptic");
  const t2 = performance.now();
  peak.sample();
  const t2b = performance.now();
  const segments = measureSegments(panoptic);
  const t3 = performance.now();
  peak.sample();
  const t3b = performance.now();
  const render = renderSetOfMarks({ image, panoptic, segments, options });
  const t4 = performance.now();
  peak.sample();
  const t4b = performance.now();
  const bytes = await encodeRender(render, options.format);
  const t5 = performance.now();
  peak.sample();
  const times: Record<Stage, number> = {
    decodeImage: t1 - t0,
    decodePanoptic: t2 - t1b,
    measureSegments: t3 - t2b,
    renderSetOfMarks: t4 - t3b,
    encodeRender: t5 - t4b,
  };
  return { times, render, bytes: bytes.length };
}

function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { median: at(0.5), p95: at(0.95) };
}

const ms = (v: number) => `${v.toFixed(2).padStart(7)} ms`;
const mb = (v: number) => `${(v / 2 ** 20).toFixed(0)} MB`;

/** Size versus time of encoders for one render. */
async function compareEncoders(render: SomRender, iterations: number): Promise<void> {
  const time = async (fn: () => Uint8Array | Promise<Uint8Array>) => {
    let bytes = await fn();
    const runs: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t = performance.now();
      bytes = await fn();
      runs.push(performance.now() - t);
    }
    return { bytes: bytes.length, ...summarize(runs) };
  };
  const rows: [string, Awaited<ReturnType<typeof time>>][] = [];
  for (const filter of ["paeth", "up", "sub", "none"] as PngFilter[]) {
    rows.push([`encode.ts PNG, ${filter} filter`, await time(() => encodePngRgb(render.rgba, render.width, render.height, { filter }))]);
  }
  const rgb = new Uint8Array(render.width * render.height * 3);
  for (let i = 0, j = 0; i < render.rgba.length; i += 4, j += 3) rgb.set(render.rgba.subarray(i, i + 3), j);
  for (const level of [0, 1, 3, 6] as const) {
    rows.push([
      `fast-png PNG, level ${level}`,
      await time(() => encodeFastPng({ width: render.width, height: render.height, data: rgb, channels: 3, depth: 8 }, { zlib: { level } })),
    ]);
  }
  rows.push([`encodeRender JPEG, quality ${SOM_JPEG_QUALITY}`, await time(() => encodeRender(render, "jpeg"))]);
  console.log(`\n== Encoders on the render (${render.width}×${render.height}, raw RGB ${(rgb.length / 1024).toFixed(0)} KiB) ==`);
  for (const [name, r] of rows) {
    console.log(`  ${name.padEnd(32)} ${(r.bytes / 1024).toFixed(0).padStart(5)} KiB   median ${ms(r.median)}   p95 ${ms(r.p95)}`);
  }
}

function arg(name: string): string | undefined {
  const a = process.argv.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
  return a === undefined ? undefined : a.slice(name.length + 3);
}

function intArg(name: string, fallback: number): number {
  const v = arg(name);
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const warmup = intArg("warmup", 10);
  const iterations = Math.max(1, intArg("iterations", 50));
  const layout = arg("layout") ?? "som";
  if (layout !== "som" && layout !== "side-by-side") throw new Error("--layout must be som or side-by-side");
  const options: SomOptions = { fillAlpha: 0.45, contour: true, layout, format: "png" };

  await installNodeJpegCodec();
  const sample = loadSample();
  const peak = new Peak();
  peak.sample();
  let last = await once(sample, options, peak);
  for (let i = 0; i < warmup; i++) last = await once(sample, options, peak);
  const totals: number[] = [];
  const perStage = Object.fromEntries(STAGES.map((k) => [k, [] as number[]])) as Record<Stage, number[]>;
  for (let i = 0; i < iterations; i++) {
    last = await once(sample, options, peak);
    let total = 0;
    for (const k of STAGES) {
      perStage[k].push(last.times[k]);
      if (k !== "measureSegments") total += last.times[k];
    }
    totals.push(total);
  }
  const { render } = last;
  const placements = render.marks.map((m) => m.placement);
  const count = (p: string) => placements.filter((x) => x === p).length;
  console.log(`\n== Set-of-marks render (${IMAGE}, layout ${layout}, ${iterations} iterations after ${warmup} warm-up, Node ${process.version}) ==`);
  for (const k of STAGES) {
    const s = summarize(perStage[k]);
    console.log(`  ${k.padEnd(18)} median ${ms(s.median)}   p95 ${ms(s.p95)}`);
  }
  console.log(
    `  output ${render.width}×${render.height} PNG, ${(last.bytes / 1024).toFixed(0)} KiB; ${render.marks.length} marks: ` +
      `${count("at-mark")} at mark, ${count("nudged")} nudged, ${count("overlapping")} fallback`,
  );
  console.log(`  peak RSS ${mb(peak.rss)}, peak heap used ${mb(peak.heapUsed)}, peak ArrayBuffers ${mb(peak.arrayBuffers)}`);
  const total = summarize(totals);
  const size = `${render.width - render.offsetX}x${render.height}`;
  console.log(
    `som ${size}: median ${total.median.toFixed(1)} ms, p95 ${total.p95.toFixed(1)} ms (decode image+panoptic, render, encode; marks from ingest), peak RSS ${(peak.rss / 2 ** 20).toFixed(0)} MB`,
  );
  if (arg("encoders") !== undefined) await compareEncoders(render, Math.min(iterations, 20));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
