/**
 * Export benchmark: a project whose every image has a final caption, exported both ways the API
 * offers, on the same server: streamed (`GET /v1/projects/{id}/exports/{format}`, page after page,
 * following each response's trailer) and as an export job (`POST /v1/projects/{id}/exports`), which
 * writes the file to R2 over many queue messages, each within D1's statements per invocation.
 *
 *   node scripts/bench-export.ts [--captions=118000] [--scales=10000,40000] [--format=pancap] [--gcg=2000] [--no-replay]
 *
 * 1. A fresh temporary state folder; the D1 migrations; then one project per scale seeded straight
 *    into the SQLite file Miniflare uses (scripts/lib/seed-captions.ts: images, 13 segments each,
 *    round-1 submissions holding the drafts, region texts, a ~200-word final caption with 13 spans),
 *    in one transaction, then ANALYZE. The `--captions` project is `bench`; each other scale N of
 *    `--scales` is `bench-N`. All live in the one database (image ids increase across them).
 * 2. Unless --gcg=0: gcg needs masks in R2, which only ingestion writes: a short-lived server ingests
 *    a few synthetic scenes through the API, then `bench-gcg` is seeded with --gcg images that share
 *    their panoptic PNGs and segments (scripts/lib/seed-masked-captions.ts). Smaller than --captions
 *    because every gcg image reads and decodes a PNG and encodes an RLE per segment.
 * 3. Unless --no-replay: the Worker's own export code (finalImagePage + formatPage) run in Node
 *    over the same SQLite file for `bench`, every query timed, with its query plans: where the time
 *    goes without workerd and the D1 binding (printed at the end, next to the real figure).
 * 4. For each scale, smallest first, then gcg: start `wrangler dev` on a free loopback port (a fresh
 *    workerd each time, so every scale's memory is measured from the same start; D1_STATEMENT_LIMIT
 *    1000 from wrangler.toml, so the Worker refuses what production D1 would), mint a lead token,
 *    wait (at most 2 min) for the shared machine to be quiet, then
 *    a. the streamed export, read chunk by chunk: every page (at most 10,000 images, fewer where the
 *       request's statement budget ends it) must end with its trailer, whose `next` the next request
 *       sends; every line parsed as JSON; the line count, the image order, the shape of every pancap
 *       record (13 segments, 13 spans, 13 regions with drafts), five records compared field by field
 *       with the seed; the sha256 of all data lines;
 *    b. the export job: created, polled every 200 ms until done; its time (client: POST until seen
 *       done; server: created_at → last checkpoint), its messages and the largest statement count of
 *       one queue invocation that moved it on (the job reports both); its file downloaded and hashed:
 *       sha256, bytes and lines must match the job, its manifest, and the streamed export of (a);
 *    c. for the `--single-pass` scale only (default 40,000), on another fresh server started with
 *       D1_STATEMENT_LIMIT lifted and no time limit per message: the single-pass baseline, the same
 *       job in one queue invocation, as it ran before it was paged. Not at 118K: wrangler dev loses
 *       a queue invocation that long (the RPC between its workerd processes breaks, "incoming RPC
 *       message exceeds size limit", and the message is never retried), and so would production
 *       D1 refuse its ~2,400 statements.
 *    Meanwhile a worker thread reads /proc/<pid>/status of every process in the wrangler dev tree
 *    every 200 ms (RSS at start and peak, of the tree and of the workerd process, with its anonymous
 *    and file-backed parts, and CPU), and the user Worker's V8 heap is polled through the inspector
 *    wrangler serves (what production's 128 MB isolate limit counts; the workerd process also holds
 *    Miniflare's D1 object, other internal isolates and the allocator's free memory).
 * 5. Print per scale: wall time, rows/s, MB/s, time to first byte, RSS at start and peak, heap, CPU,
 *    for each; then the headline and the targets: the paged job within 1.2× the streamed export and
 *    within 1.2× the single-pass job at its scale, and (118K pancap) within 1.2× the 48 s that
 *    bench:export measured for the single-request export before paging; no queue invocation of a
 *    paged job above 1,000 statements; the job's file = the stream; the stream ≤ 60 s; peak server
 *    RSS flat across scales.
 * 6. Stop the server and delete the state folder, also on error and on Ctrl-C. wrangler dev runs in
 *    our own process group (scripts/lib/wrangler.ts does not detach it), so instead of a group kill:
 *    SIGTERM to wrangler, then SIGKILL, by pid, to whatever of its process tree is still there.
 *
 * wrangler dev restarts workerd when a source file changes (others editing worker/ while this runs):
 * a scale that sees a restart or fails is run again, at most 3 times in all. Everything listens on
 * loopback only.
 */
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { finalImagePage } from "../worker/flows/export.ts";
import { formatPage } from "../worker/flows/export-format.ts";
import { synthesizeScene } from "../worker/imaging/synthetic.ts";
import { dbOf } from "../worker/store/db.ts";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { runExportJob, type JobRun } from "./lib/export-job-client.ts";
import { SEGMENTS, seedCaptionBench, SPANS, syntheticImage, type CaptionSeedResult } from "./lib/seed-captions.ts";
import { seedMaskedCaptions } from "./lib/seed-masked-captions.ts";
import { findD1File } from "./lib/seed-tasks.ts";
import { applyLocalMigrations, cleanUpOnInterrupt, freePort, startDevServer, waitForHealthy } from "./lib/wrangler.ts";
import { devToken } from "./token.ts";
import { awaitQuiet as waitForQuiet } from "./lib/machine.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const MAIN_PROJECT = "bench";
const GCG_PROJECT = "bench-gcg";
const GCG_SOURCE = "bench-gcg-src";
const GCG_SCENES = 12;
const LEAD = "bench-lead";
const SAMPLE_MS = 200;
const EXPORT_TIMEOUT_MS = 15 * 60_000;
const MAX_ATTEMPTS = 3;
const MAX_LINE_PROBLEMS = 10;
/** Images asked for per streamed response: the API's most. */
const STREAM_PAGE = 10_000;
/** bench:export's 118K pancap export in one request (one invocation), before exports were paged. */
const SINGLE_INVOCATION_SECONDS = 48;
const STATEMENT_LIMIT = 1000;
const TARGET = { seconds: 60, rssGrowthMiB: 50, jobOverStream: 1.2 };
const FORMATS = ["pancap", "llava", "refer", "t2i", "regions"] as const;
type Format = (typeof FORMATS)[number] | "gcg";

interface Args {
  captions: number;
  scales: number[];
  format: (typeof FORMATS)[number];
  gcg: number;
  /** The scale whose job also runs single-pass (0: none). */
  singlePass: number;
  replay: boolean;
}

function parseArgs(argv: string[]): Args {
  const usage = "usage: node scripts/bench-export.ts [--captions=118000] [--scales=10000,40000] [--format=pancap] [--gcg=2000] [--single-pass=40000] [--no-replay]";
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  for (const a of argv) if (!/^--(captions|scales|format|gcg|single-pass)=/.test(a) && a !== "--no-replay") throw new Error(`unknown argument ${a}\n${usage}`);
  const num = (s: string) => Number(s.replace(/_/g, ""));
  const captions = num(get("captions") ?? "118000");
  if (!Number.isInteger(captions) || captions < 1 || captions > 2_000_000) throw new Error("--captions must be an integer in 1..2000000");
  const rawScales = get("scales");
  const scales = rawScales === undefined ? [10_000, 40_000].filter((n) => n < captions) : rawScales === "" ? [] : rawScales.split(",").map(num);
  if (scales.some((n) => !Number.isInteger(n) || n < 1 || n > 2_000_000)) throw new Error("--scales must be a comma-separated list of integers in 1..2000000");
  const format = (get("format") ?? "pancap") as Args["format"];
  if (!FORMATS.includes(format)) throw new Error(`--format must be one of ${FORMATS.join(", ")} (gcg runs on its own project: --gcg=N)`);
  const gcg = num(get("gcg") ?? "2000");
  if (!Number.isInteger(gcg) || gcg < 0 || gcg > 200_000) throw new Error("--gcg must be an integer in 0..200000 (0: no gcg run)");
  const all = [...new Set([...scales, captions])].sort((a, b) => a - b);
  const singlePass = num(get("single-pass") ?? String(all.includes(40_000) ? 40_000 : 0));
  if (singlePass !== 0 && !all.includes(singlePass)) throw new Error("--single-pass must be one of the scales (or 0)");
  return { captions, scales: all, format, gcg, singlePass, replay: !argv.includes("--no-replay") };
}

const projectOf = (n: number, a: Args) => (n === a.captions ? MAIN_PROJECT : `bench-${n}`);

// ---------------------------------------------------------------------------------------------
// Server lifecycle (also undone on SIGINT)

const live: { server?: ChildProcess; stateDir?: string; sampler?: Worker } = {};


interface ProcInfo {
  ppid: number;
  name: string;
  /** Start time in clock ticks since boot: with the pid, identifies the process. */
  start: number;
}

function readProcs(): Map<number, ProcInfo> {
  const all = new Map<number, ProcInfo>();
  if (!existsSync("/proc/self/stat")) return all;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      all.set(Number(entry), { ppid: Number(fields[1]), name: text.slice(text.indexOf("(") + 1, text.lastIndexOf(")")), start: Number(fields[19]) });
    } catch {
      // gone
    }
  }
  return all;
}

/** The process tree under `root` (root included). */
function treeOf(root: number): Map<number, ProcInfo> {
  const all = readProcs();
  const out = new Map<number, ProcInfo>();
  const queue = [root];
  for (let guard = 0; queue.length > 0 && guard < 10_000; guard++) {
    const pid = queue.pop()!;
    const p = all.get(pid);
    if (!p || out.has(pid)) continue;
    out.set(pid, p);
    for (const [child, c] of all) if (c.ppid === pid) queue.push(child);
  }
  return out;
}

/**
 * SIGTERM to wrangler (it stops workerd), then, after it exits or 10 s, SIGKILL to any process of
 * the tree seen before that is still there (same pid and start time): only processes we started.
 */
async function stopServer(child: ChildProcess): Promise<void> {
  const tree = child.pid === undefined ? new Map<number, ProcInfo>() : treeOf(child.pid);
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  for (let wait = 0; wait < 50; wait++) {
    const now = readProcs();
    const left = [...tree].filter(([pid, p]) => now.get(pid)?.start === p.start);
    if (left.length === 0) return;
    if (wait === 25) for (const [pid] of left) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

async function cleanup(): Promise<void> {
  const { server, stateDir, sampler } = live;
  live.server = undefined;
  live.stateDir = undefined;
  live.sampler = undefined;
  if (sampler) await sampler.terminate();
  if (server) await stopServer(server);
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
}

const interrupted = cleanUpOnInterrupt(cleanup);

// ---------------------------------------------------------------------------------------------
// The machine is shared: measured phases wait for it to be quiet (see lib/machine.ts).

const QUIET_CORES = 0.3;
const QUIET_MAX_WAIT_MS = 120_000;
const awaitQuiet = (label: string) => waitForQuiet(label, { quietCores: QUIET_CORES, maxWaitMs: QUIET_MAX_WAIT_MS, stop: interrupted });



// ---------------------------------------------------------------------------------------------
// Memory and CPU sampling, in a worker thread so that parsing on the main thread cannot delay it

interface MemSample {
  t: number;
  /** VmRSS summed over the tree, KiB. */
  tree: number;
  /** The largest workerd process: VmRSS, RssAnon, RssFile (KiB). */
  workerd: number;
  workerdAnon: number;
  workerdFile: number;
  workerdPids: string;
  byName: Record<string, number>;
}

interface SamplerReport {
  samples: MemSample[];
  maxGapMs: number;
  /** CPU seconds per process name in the tree over the sampled period, and of the whole machine. */
  cpuByName: Record<string, number>;
  machineCpu: number;
}

const SAMPLER_SOURCE = String.raw`
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const HZ = 100;
const root = workerData.root;
function procs() {
  const all = new Map();
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const t = fs.readFileSync("/proc/" + e + "/stat", "utf8");
      const f = t.slice(t.lastIndexOf(")") + 2).split(" ");
      all.set(Number(e), { ppid: Number(f[1]), name: t.slice(t.indexOf("(") + 1, t.lastIndexOf(")")), cpu: (Number(f[11]) + Number(f[12])) / HZ });
    } catch {}
  }
  const out = new Map();
  const q = [root];
  for (let g = 0; q.length && g < 10000; g++) {
    const pid = q.pop();
    const p = all.get(pid);
    if (!p || out.has(pid)) continue;
    out.set(pid, p);
    for (const [c, v] of all) if (v.ppid === pid) q.push(c);
  }
  return out;
}
function status(pid) {
  try {
    const s = fs.readFileSync("/proc/" + pid + "/status", "utf8");
    const kb = (k) => { const m = new RegExp("^" + k + ":\\s+(\\d+)", "m").exec(s); return m ? Number(m[1]) : 0; };
    return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
  } catch { return null; }
}
function machine() {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0)) / HZ;
}
const samples = [];
let last = performance.now();
let maxGap = 0;
const cpu0 = new Map();
const cpu1 = new Map();
const m0 = machine();
function tick() {
  const now = performance.now();
  maxGap = Math.max(maxGap, now - last);
  last = now;
  const tree = procs();
  let total = 0, w = { rss: 0, anon: 0, file: 0 }, pids = [];
  const byName = {};
  for (const [pid, p] of tree) {
    const s = status(pid);
    if (!s) continue;
    total += s.rss;
    byName[p.name] = (byName[p.name] || 0) + s.rss;
    if (p.name === "workerd") { pids.push(pid); if (s.rss > w.rss) w = s; }
    const key = pid + ":" + p.name;
    if (!cpu0.has(key)) cpu0.set(key, p.cpu);
    cpu1.set(key, p.cpu);
  }
  samples.push({ t: now, tree: total, workerd: w.rss, workerdAnon: w.anon, workerdFile: w.file, workerdPids: pids.sort().join(","), byName });
}
tick();
const timer = setInterval(tick, workerData.every);
parentPort.on("message", () => {
  clearInterval(timer);
  tick();
  const cpuByName = {};
  for (const [key, c] of cpu1) { const name = key.slice(key.indexOf(":") + 1); cpuByName[name] = (cpuByName[name] || 0) + c - cpu0.get(key); }
  parentPort.postMessage({ samples, maxGapMs: maxGap, cpuByName, machineCpu: machine() - m0 });
});
`;

function startSampler(root: number): { stop: () => Promise<SamplerReport> } {
  const w = new Worker(SAMPLER_SOURCE, { eval: true, workerData: { root, every: SAMPLE_MS } });
  live.sampler = w;
  return {
    stop: () =>
      new Promise<SamplerReport>((ok, fail) => {
        w.once("message", (r: SamplerReport) => {
          live.sampler = undefined;
          w.terminate().then(() => ok(r), fail);
        });
        w.once("error", fail);
        w.postMessage("stop");
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// The Worker's own V8 heap (what the 128 MB isolate limit of production counts), through the
// inspector wrangler dev serves: found among the loopback ports the server's processes listen on.

interface HeapReport {
  startUsed: number;
  peakUsed: number;
  peakTotal: number;
  endUsed: number;
  endTotal: number;
  samples: number;
}

function listeningPorts(root: number): number[] {
  const inodes = new Set<string>();
  for (const pid of treeOf(root).keys()) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m) inodes.add(m[1]);
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // gone, or not ours to read
    }
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === "0A" && inodes.has(f[9])) ports.push(parseInt(f[1].split(":")[1], 16));
    }
  }
  return [...new Set(ports)];
}

/** Node's WebSocket, as far as used here (the project's types are the Workers runtime's). */
interface NodeWebSocket {
  onopen: (() => void) | null;
  onerror: (() => void) | null;
  onmessage: ((e: { data: unknown }) => void) | null;
  send(data: string): void;
  close(): void;
}

/** Polls Runtime.getHeapUsage of the user Worker every 500 ms; null when no inspector is found. */
async function startHeapProbe(root: number, httpPort: number): Promise<{ stop: () => Promise<HeapReport> } | null> {
  let url: string | null = null;
  for (const port of listeningPorts(root)) {
    if (port === httpPort) continue;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(1000) });
      const list = (await res.json()) as { title?: string; webSocketDebuggerUrl?: string }[];
      // wrangler's inspector proxy lists the user Worker alone ("Cloudflare Worker").
      const target = Array.isArray(list) && list.length === 1 ? list[0] : undefined;
      if (target?.webSocketDebuggerUrl) url = target.webSocketDebuggerUrl;
    } catch {
      // not an inspector
    }
    if (url) break;
  }
  if (!url) return null;
  // The proxy wants an Origin; Node's WebSocket takes headers as a non-standard option.
  const ws = new (globalThis as unknown as { WebSocket: new (url: string, init: object) => NodeWebSocket }).WebSocket(url, { headers: { Origin: "http://localhost" } });
  const opened = await new Promise<boolean>((ok) => {
    ws.onopen = () => ok(true);
    ws.onerror = () => ok(false);
    setTimeout(() => ok(false), 3000);
  });
  if (!opened) return null;
  let id = 0;
  const pending = new Map<number, (v: { usedSize: number; totalSize: number } | null) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data)) as { id?: number; result?: { usedSize: number; totalSize: number } };
    if (m.id !== undefined) pending.get(m.id)?.(m.result ?? null);
    if (m.id !== undefined) pending.delete(m.id);
  };
  const usage = () =>
    new Promise<{ usedSize: number; totalSize: number } | null>((ok) => {
      const i = ++id;
      pending.set(i, ok);
      ws.send(JSON.stringify({ id: i, method: "Runtime.getHeapUsage" }));
      setTimeout(() => ok(null), 2000);
    });
  const mib = (b: number) => b / 2 ** 20;
  const first = await usage();
  const r: HeapReport = { startUsed: mib(first?.usedSize ?? NaN), peakUsed: 0, peakTotal: 0, endUsed: NaN, endTotal: NaN, samples: 0 };
  const take = (h: { usedSize: number; totalSize: number } | null) => {
    if (!h) return;
    r.samples++;
    r.peakUsed = Math.max(r.peakUsed, mib(h.usedSize));
    r.peakTotal = Math.max(r.peakTotal, mib(h.totalSize));
    r.endUsed = mib(h.usedSize);
    r.endTotal = mib(h.totalSize);
  };
  take(first);
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    usage().then(take).finally(() => (busy = false));
  }, 500);
  return {
    stop: async () => {
      clearInterval(timer);
      take(await usage());
      ws.close();
      return r;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The export, read incrementally

interface ExportRead {
  status: number;
  /** Responses (pages) read, each ending with its trailer. */
  pages: number;
  /** sha256 of every data line (trailers left out): what the job's file must hash to. */
  sha256: string;
  lines: number;
  bytes: number;
  ms: number;
  firstByteMs: number;
  chunks: number;
  badJson: number;
  problems: string[];
  spotChecked: number;
  clientCpuSeconds: number;
}

interface PancapLine {
  image_id: string;
  file_name: string;
  width: number;
  height: number;
  caption: { text: string; spans: { start: number; end: number; segment_ids: number[] }[] };
  inline: string;
  segments_info: { id: number; category_id: number; area: number; bbox: number[] }[];
  regions: { segment_id: number; text: string | null; draft_text: string | null; source: string }[];
}

/** Record `index` of a pancap export against what the seeder wrote for that image. */
function spotCheck(projectId: string, index: number, rec: PancapLine): string[] {
  const g = syntheticImage(projectId, index);
  const out: string[] = [];
  const where = `line ${index + 1} (${rec.image_id})`;
  if (rec.width !== g.width || rec.height !== g.height) out.push(`${where}: size ${rec.width}x${rec.height}, seeded ${g.width}x${g.height}`);
  if (rec.caption.text !== g.caption.text) out.push(`${where}: caption text differs from the seeded one`);
  if (JSON.stringify(rec.caption.spans) !== JSON.stringify(g.caption.spans)) out.push(`${where}: caption spans differ from the seeded ones`);
  const segs = rec.segments_info.map((s) => [s.id, s.category_id, s.area, ...s.bbox]);
  const seeded = g.segments.map((s) => [s.id, s.category.id, s.area, ...s.bbox]);
  if (JSON.stringify(segs) !== JSON.stringify(seeded)) out.push(`${where}: segments_info differs from the seeded segments`);
  const regs = rec.regions.map((r) => [r.segment_id, r.text, r.draft_text, r.source]);
  const seededRegs = g.regions.map((r) => [r.segmentId, r.text, r.draftText, "consolidated"]);
  if (JSON.stringify(regs) !== JSON.stringify(seededRegs)) out.push(`${where}: regions (texts or drafts) differ from the seeded ones`);
  // The phrase of a span, cut by code points, must be the text of the inline tag it came from.
  const cps = Array.from(rec.caption.text);
  const phrases = rec.caption.spans.map((s) => cps.slice(s.start, s.end).join(""));
  let from = 0;
  for (const [k, s] of rec.caption.spans.entries()) {
    const tag = `<${s.segment_ids.join(",")}:${phrases[k]}>`;
    const at = rec.inline.indexOf(tag, from);
    if (at < 0) {
      out.push(`${where}: span ${k} (${JSON.stringify(phrases[k])}) is not tagged as ${tag} in inline`);
      break;
    }
    from = at + tag.length;
  }
  return out;
}

/** Calls `onLine` with each line of the body (without its newline); returns the bytes after the last one. */
async function forEachLine(body: ReadableStream<Uint8Array>, onChunk: (n: number) => void, onLine: (bytes: Uint8Array) => void): Promise<number> {
  const reader = body.getReader();
  let carry: Uint8Array | null = null;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onChunk(value.byteLength);
    let start = 0;
    for (let nl = value.indexOf(10, start); nl !== -1; nl = value.indexOf(10, start)) {
      const piece = value.subarray(start, nl);
      if (carry) {
        const whole = new Uint8Array(carry.length + piece.length);
        whole.set(carry);
        whole.set(piece, carry.length);
        carry = null;
        onLine(whole);
      } else onLine(piece);
      start = nl + 1;
    }
    if (start < value.length) {
      const rest = value.subarray(start);
      if (carry) {
        const whole: Uint8Array = new Uint8Array(carry.length + rest.length);
        whole.set(carry);
        whole.set(rest, carry.length);
        carry = whole;
      } else carry = rest.slice();
    }
  }
  return carry?.length ?? 0;
}

const TRAILER = new TextEncoder().encode('{"_trailer":');
const isTrailer = (line: Uint8Array) => line.length >= TRAILER.length && TRAILER.every((b, i) => line[i] === b);

/** Every page of the streamed export, following the trailers; `expected`: data lines, or null where a count is not known. */
async function readExport(base: string, token: string, projectId: string, format: Format, expected: number | null): Promise<ExportRead> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out: ExportRead = { status: 0, pages: 0, sha256: "", lines: 0, bytes: 0, ms: 0, firstByteMs: NaN, chunks: 0, badJson: 0, problems: [], spotChecked: 0, clientCpuSeconds: 0 };
  const hash = createHash("sha256");
  const decoder = new TextDecoder();
  const n = expected ?? 0;
  const spotAt = new Set([0, Math.floor(n / 2), n - 1, Math.floor(n / 3), Math.floor((2 * n) / 3)]);
  const problem = (s: string) => {
    if (out.problems.length < MAX_LINE_PROBLEMS) out.problems.push(s);
  };
  let previousId = "";
  const onData = (bytes: Uint8Array) => {
    hash.update(bytes);
    hash.update("\n");
    const index = out.lines++;
    let rec: unknown;
    try {
      rec = JSON.parse(decoder.decode(bytes));
    } catch {
      out.badJson++;
      problem(`line ${index + 1} is not JSON (${bytes.length} bytes)`);
      return;
    }
    if (format === "gcg") {
      const g = rec as { image_id?: string; groundings?: Record<string, { rle_masks?: unknown[] }> };
      if (!g.groundings || Object.values(g.groundings).some((x) => !x.rle_masks?.length)) problem(`line ${index + 1}: a grounding without its mask`);
      return;
    }
    if (format !== "pancap") return;
    const r = rec as PancapLine;
    if (!(typeof r.image_id === "string" && r.image_id > previousId)) problem(`line ${index + 1}: image_id ${r.image_id} does not follow ${previousId}`);
    previousId = r.image_id;
    if (r.segments_info?.length !== SEGMENTS) problem(`line ${index + 1}: ${r.segments_info?.length} segments, expected ${SEGMENTS}`);
    if (r.caption?.spans?.length !== SPANS) problem(`line ${index + 1}: ${r.caption?.spans?.length} spans, expected ${SPANS}`);
    if (r.regions?.length !== SEGMENTS) problem(`line ${index + 1}: ${r.regions?.length} regions, expected ${SEGMENTS}`);
    if (r.regions?.some((x) => x.draft_text === null)) problem(`line ${index + 1}: a region without its draft text`);
    if (spotAt.has(index)) {
      for (const p of spotCheck(projectId, index, r)) problem(p);
      out.spotChecked++;
    }
  };

  let cursor: string | null = null;
  do {
    const res = await fetch(`${base}/v1/projects/${projectId}/exports/${format}?limit=${STREAM_PAGE}${cursor ? `&cursor=${cursor}` : ""}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS),
    });
    out.status = res.status;
    if (res.status !== 200 || !res.body) {
      out.problems.push(`page ${out.pages + 1} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      break;
    }
    let trailer: { images: number; lines: number; next: string | null } | null = null;
    let pageLines = 0;
    const rest = await forEachLine(
      res.body,
      (bytes) => {
        if (out.chunks++ === 0) out.firstByteMs = performance.now() - t0;
        out.bytes += bytes;
      },
      (line) => {
        if (trailer) problem(`page ${out.pages + 1}: a line after the trailer`);
        if (isTrailer(line)) trailer = JSON.parse(decoder.decode(line))._trailer;
        else {
          pageLines++;
          onData(line);
        }
      },
    );
    out.pages++;
    if (rest > 0) problem(`page ${out.pages}: the body ends with ${rest} bytes after the last newline`);
    const t = trailer as { images: number; lines: number; next: string | null } | null;
    if (!t) {
      problem(`page ${out.pages} does not end with its trailer: cut short`);
      break;
    }
    if (t.lines !== pageLines) problem(`page ${out.pages}: the trailer says ${t.lines} lines, the page has ${pageLines}`);
    cursor = t.next;
  } while (cursor !== null && !interrupted());
  out.ms = performance.now() - t0;
  out.sha256 = hash.digest("hex");
  if (expected !== null && out.lines !== expected) problem(`${out.lines} lines, expected ${expected}`);
  const cpu = process.cpuUsage(cpu0);
  out.clientCpuSeconds = (cpu.user + cpu.system) / 1e6;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Where the time goes: the Worker's own export code (finalImagePage + formatPage) replayed in
// Node over the same SQLite file through a minimal D1 stand-in, timing every query. What it does
// not have is workerd's D1 path (binding → Miniflare's D1 object → SQLite → results back).

const QUERY_KINDS = ["final_captions", "images", "segments", "region_texts", "submissions"] as const;
type QueryKind = (typeof QUERY_KINDS)[number];

interface ReplayResult {
  rows: number;
  bytes: number;
  pages: number;
  ms: number;
  formatMs: number;
  query: Record<QueryKind, { n: number; ms: number; rows: number }>;
  /** Per query kind, the plan of each distinct statement. */
  plans: Record<QueryKind, string[]>;
}

function kindOf(sql: string): QueryKind {
  const m = /from "([a-z_]+)"/.exec(sql);
  const k = m?.[1] as QueryKind | undefined;
  if (!k || !QUERY_KINDS.includes(k)) throw new Error(`unexpected query in the export: ${sql.slice(0, 120)}`);
  return k;
}

/** Just enough of D1Database for drizzle's select().all() / raw() over node:sqlite, timed. */
function d1OverSqlite(db: DatabaseSync, query: ReplayResult["query"], plans: ReplayResult["plans"]): D1Database {
  type Param = string | number | null;
  const prepared = new Map<string, ReturnType<DatabaseSync["prepare"]>>();
  const run = <T>(sql: string, params: Param[], arrays: boolean, read: (rows: unknown[]) => T): T => {
    const kind = kindOf(sql);
    let st = prepared.get(sql);
    if (!st) {
      st = db.prepare(sql);
      prepared.set(sql, st);
      // Each distinct statement once (the first page of captions has no keyset bound, later ones do).
      plans[kind].push((db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join(" | "));
    }
    st.setReturnArrays(arrays);
    const t = performance.now();
    const rows = st.all(...params);
    const q = query[kind];
    q.ms += performance.now() - t;
    q.n++;
    q.rows += rows.length;
    return read(rows);
  };
  const statement = (sql: string, params: Param[]): unknown => ({
    bind: (...p: Param[]) => statement(sql, p),
    all: async () => run(sql, params, false, (results) => ({ results, success: true, meta: {} })),
    raw: async () => run(sql, params, true, (rows) => rows),
    first: async () => run(sql, params, false, (rows) => rows[0] ?? null),
    run: async () => {
      throw new Error("the export replay only reads");
    },
  });
  return { prepare: (sql: string) => statement(sql, []) } as unknown as D1Database;
}

export function replayInNode(file: string, projectId: string, format: Args["format"]): Promise<ReplayResult> {
  const sqlite = new DatabaseSync(file, { readOnly: true });
  const query = Object.fromEntries(QUERY_KINDS.map((k) => [k, { n: 0, ms: 0, rows: 0 }])) as ReplayResult["query"];
  const plans = Object.fromEntries(QUERY_KINDS.map((k) => [k, [] as string[]])) as ReplayResult["plans"];
  const db = dbOf(d1OverSqlite(sqlite, query, plans));
  // pancap and the other formats it replays read nothing from R2.
  const bucket = {} as R2Bucket;
  const out: ReplayResult = { rows: 0, bytes: 0, pages: 0, ms: 0, formatMs: 0, query, plans };
  const encoder = new TextEncoder();
  return (async () => {
    try {
      const t0 = performance.now();
      for (let after: string | null = null, more = true; more; ) {
        const page = await finalImagePage(db, { projectId, status: "final" }, after);
        const t = performance.now();
        const { text } = await formatPage(bucket, format, page);
        out.bytes += encoder.encode(text).byteLength;
        out.formatMs += performance.now() - t;
        out.rows += page.images.length;
        out.pages++;
        after = page.next;
        more = after !== null;
      }
      out.ms = performance.now() - t0;
      return out;
    } finally {
      sqlite.close();
    }
  })();
}

function printReplay(r: ReplayResult, server: ScaleResult | undefined): void {
  const sql = QUERY_KINDS.reduce((n, k) => n + r.query[k].ms, 0);
  const assemble = r.ms - sql - r.formatMs;
  console.log(`\n== Where the time goes: the Worker's export code replayed in Node ${process.version} over the same SQLite file (no workerd, no D1 binding) ==`);
  console.log(`replay           ${f2(r.ms / 1000)} s for ${r.rows} rows in ${r.pages} pages (${f1(r.rows / (r.ms / 1000))} rows/s, ${f1(r.bytes / 1e6)} MB)`);
  console.log(`  SQL (node:sqlite step + row objects)  ${f2(sql / 1000).padStart(7)} s  ${f1((100 * sql) / r.ms).padStart(5)}%`);
  for (const k of QUERY_KINDS) {
    const q = r.query[k];
    console.log(`    ${k.padEnd(15)} ${String(q.n).padStart(6)} queries  ${f2(q.ms / 1000).padStart(7)} s  ${f2(q.ms / Math.max(1, q.n)).padStart(6)} ms/query  ${String(q.rows).padStart(8)} rows`);
  }
  console.log(`  assemble (drizzle mapping, JSON columns, per-image filters)  ${f2(assemble / 1000).padStart(7)} s  ${f1((100 * assemble) / r.ms).padStart(5)}%`);
  console.log(`  formatPage (checks, toPancap, inline, JSON.stringify)      ${f2(r.formatMs / 1000).padStart(7)} s  ${f1((100 * r.formatMs) / r.ms).padStart(5)}%`);
  if (server) {
    const s = server.stream.value.ms;
    console.log(
      `  through workerd the same export, streamed, took ${f2(s / 1000)} s: ${f2((s - r.ms) / 1000)} s (${f1((100 * (s - r.ms)) / s)}%) more than the replay, ` +
        `≈ ${f2((s - r.ms) / Math.max(1, QUERY_KINDS.reduce((n, k) => n + r.query[k].n, 0)))} ms per D1 query if it all went to the D1 path (plus streaming and the bench client)`,
    );
  }
  console.log(`query plans`);
  for (const k of QUERY_KINDS) for (const p of r.plans[k]) console.log(`    ${k.padEnd(15)} ${p}`);
}

// ---------------------------------------------------------------------------------------------
// One scale: the streamed export, then the export job, on one fresh server

interface Phase<T> {
  value: T;
  mem: SamplerReport;
  heap: HeapReport | null;
}

interface ScaleResult {
  n: number;
  projectId: string;
  format: Format;
  stream: Phase<ExportRead>;
  job: Phase<JobRun>;
  /** --single-pass only: the same job in one queue invocation. */
  singlePass?: Phase<JobRun>;
  attempts: number;
  startupMs: number;
}

const kib = (k: number) => k / 1024;

function restarted(mem: SamplerReport): boolean {
  const sets = new Set(mem.samples.map((s) => s.workerdPids).filter((s) => s !== ""));
  return sets.size > 1;
}

/** `fn` with the server's memory sampled and its heap polled, on a quiet machine. */
async function measured<T>(server: ChildProcess, port: number, label: string, fn: () => Promise<T>): Promise<Phase<T>> {
  await awaitQuiet(label);
  const probe = await startHeapProbe(server.pid!, port);
  const sampler = startSampler(server.pid!);
  await new Promise((ok) => setTimeout(ok, 2 * SAMPLE_MS)); // a baseline sample or two
  try {
    const value = await fn();
    return { value, mem: await sampler.stop(), heap: probe ? await probe.stop() : null };
  } finally {
    if (live.sampler) await live.sampler.terminate();
    live.sampler = undefined;
  }
}

function jobProblems(job: JobRun, streamSha: string, expected: number | null): string[] {
  const out = [...job.problems];
  if (job.file && job.file.sha256 !== streamSha) out.push(`the job's file (sha256 ${job.file.sha256}) is not the streamed export (${streamSha})`);
  if (expected !== null && job.lines !== expected) out.push(`the job wrote ${job.lines} lines, expected ${expected}`);
  return out;
}

/** The single-pass baseline: the statement limit lifted and no time limit per message, so the job runs in one queue invocation, as it did before it was paged. */
const SINGLE_PASS_VARS = { D1_STATEMENT_LIMIT: "100000000", EXPORT_MESSAGE_SECONDS: "3600" };

/**
 * `work` on a fresh `wrangler dev`, warmed; run again (at most MAX_ATTEMPTS in all) when it fails
 * or workerd restarted meanwhile (someone saved a source file).
 */
async function onServer<T>(
  label: string,
  stateDir: string,
  projectId: string,
  token: string,
  vars: Record<string, string>,
  work: (server: ChildProcess, port: number, base: string) => Promise<{ value: T; problems: string[]; restarted: boolean }>,
): Promise<{ value: T; attempts: number; startupMs: number }> {
  for (let attempt = 1; ; attempt++) {
    let serverLog = "";
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const t0 = performance.now();
    const server = startDevServer(port, stateDir, true, { devTracing: false, vars });
    live.server = server;
    server.stderr?.on("data", (d: Buffer) => (serverLog = (serverLog + d.toString()).slice(-4000)));
    try {
      await waitForHealthy(base, server);
      // Load the project route once (code paths compiled, the token checked) before measuring.
      const warm = await fetch(`${base}/v1/projects/${projectId}`, { headers: { authorization: `Bearer ${token}` } });
      await warm.text();
      if (warm.status !== 200) throw new Error(`GET /v1/projects/${projectId} answered ${warm.status}`);
      const startupMs = performance.now() - t0;
      await new Promise((ok) => setTimeout(ok, 1000)); // let the start-up settle before the baseline
      const r = await work(server, port, base);
      await stopServer(server);
      live.server = undefined;
      if ((r.problems.length > 0 || r.restarted) && attempt < MAX_ATTEMPTS) {
        console.log(`  (${label}: ${r.restarted ? "workerd restarted during the export (a source file changed)" : `the export failed: ${r.problems[0]}`}; running it again)`);
        continue;
      }
      return { value: r.value, attempts: attempt, startupMs };
    } catch (err) {
      if (serverLog) console.error(`wrangler dev output (tail):\n${serverLog}`);
      if (live.sampler) await live.sampler.terminate();
      live.sampler = undefined;
      await stopServer(server);
      live.server = undefined;
      if (attempt >= MAX_ATTEMPTS || interrupted()) throw err;
      console.log(`  (${label}: ${(err as Error).message}; running it again)`);
    }
  }
}

async function runScale(n: number, projectId: string, format: Format, expected: number | null, stateDir: string, token: string): Promise<ScaleResult> {
  const label = `${format} N=${n}`;
  const r = await onServer(label, stateDir, projectId, token, {}, async (server, port, base) => {
    const stream = await measured(server, port, `${label}, streamed`, () => readExport(base, token, projectId, format, expected));
    const job = await measured(server, port, `${label}, job`, () => runExportJob(base, token, projectId, format, { timeoutMs: EXPORT_TIMEOUT_MS, stop: interrupted }));
    const problems = [...stream.value.problems, ...jobProblems(job.value, stream.value.sha256, expected)];
    return { value: { stream, job }, problems, restarted: restarted(stream.mem) || restarted(job.mem) };
  });
  return { n, projectId, format, ...r.value, attempts: r.attempts, startupMs: r.startupMs };
}

/** The same job in one queue invocation (the statement limit lifted), on its own fresh server. */
async function runSinglePass(n: number, projectId: string, format: Format, expected: number | null, streamSha: string, stateDir: string, token: string): Promise<Phase<JobRun>> {
  const label = `${format} N=${n}, single-pass job`;
  const r = await onServer(label, stateDir, projectId, token, SINGLE_PASS_VARS, async (server, port, base) => {
    const job = await measured(server, port, label, () => runExportJob(base, token, projectId, format, { timeoutMs: EXPORT_TIMEOUT_MS, stop: interrupted }));
    const problems = jobProblems(job.value, streamSha, expected);
    if (job.value.messages !== 1) problems.push(`the single-pass job took ${job.value.messages} messages`);
    return { value: job, problems, restarted: restarted(job.mem) };
  });
  return r.value;
}

// ---------------------------------------------------------------------------------------------
// gcg: masks in R2 (through the API), then many images sharing them (straight into SQLite)

async function prepareGcg(a: Args, stateDir: string, file: string, token: string): Promise<void> {
  const t0 = performance.now();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = startDevServer(port, stateDir, true, { devTracing: false });
  live.server = server;
  try {
    await waitForHealthy(base, server);
    const headers = { authorization: `Bearer ${token}` };
    for (const id of [GCG_SOURCE, GCG_PROJECT]) {
      const r = await fetch(`${base}/v1/projects`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ id, name: `Export benchmark (${id})` }) });
      if (r.status !== 201) throw new Error(`creating project ${id}: ${r.status} ${(await r.text()).slice(0, 300)}`);
    }
    for (let seed = 1; seed <= GCG_SCENES; seed++) {
      const scene = synthesizeScene(seed);
      const form = new FormData();
      form.set("image", new Blob([scene.image], { type: "image/png" }), scene.fileName);
      form.set("panoptic", new Blob([scene.panoptic], { type: "image/png" }), "panoptic.png");
      form.set("segments_info", JSON.stringify(scene.segmentsInfo));
      form.set("external_id", `gcg-scene-${seed}`);
      const r = await fetch(`${base}/v1/projects/${GCG_SOURCE}/images`, { method: "POST", headers, body: form });
      if (r.status !== 201) throw new Error(`ingesting scene ${seed}: ${r.status} ${(await r.text()).slice(0, 300)}`);
    }
  } finally {
    await stopServer(server);
    live.server = undefined;
  }
  const seeded = seedMaskedCaptions(file, { projectId: GCG_PROJECT, source: GCG_SOURCE, images: a.gcg, createdBy: LEAD });
  console.log(
    `gcg seed         ${f2((performance.now() - t0) / 1000)} s: ${GCG_SCENES} synthetic scenes ingested through the API (masks in R2), ` +
      `${seeded.images.toLocaleString("en-US")} images of ${GCG_PROJECT} sharing them`,
  );
}

// ---------------------------------------------------------------------------------------------
// Report

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

interface MemSummary {
  startTree: number;
  peakTree: number;
  startWorkerd: number;
  peakWorkerd: number;
  peakWorkerdAnon: number;
  peakWorkerdFile: number;
  endWorkerd: number;
}

function memSummary(m: SamplerReport): MemSummary {
  const s = m.samples;
  return {
    startTree: kib(s[0].tree),
    peakTree: kib(Math.max(...s.map((x) => x.tree))),
    startWorkerd: kib(s[0].workerd),
    peakWorkerd: kib(Math.max(...s.map((x) => x.workerd))),
    peakWorkerdAnon: kib(Math.max(...s.map((x) => x.workerdAnon))),
    peakWorkerdFile: kib(Math.max(...s.map((x) => x.workerdFile))),
    endWorkerd: kib(s[s.length - 1].workerd),
  };
}

function printMemory(p: Phase<unknown>, sec: number, clientCpuSeconds: number): void {
  const m = memSummary(p.mem);
  const cpu = Object.entries(p.mem.cpuByName).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
  const server = cpu.reduce((s, [, v]) => s + v, 0);
  const others = Math.max(0, p.mem.machineCpu - server - clientCpuSeconds);
  const byName = Object.entries(p.mem.samples.reduce<Record<string, number>>((acc, s) => {
    for (const [k, v] of Object.entries(s.byName)) acc[k] = Math.max(acc[k] ?? 0, v);
    return acc;
  }, {})).map(([k, v]) => `${k} ${f1(kib(v))}`).join(", ");
  console.log(
    `  server RSS     start ${f1(m.startWorkerd)} MiB, peak ${f1(m.peakWorkerd)} MiB, end ${f1(m.endWorkerd)} MiB (workerd; peak anon ${f1(m.peakWorkerdAnon)}, file ${f1(m.peakWorkerdFile)})`,
  );
  console.log(`                 whole wrangler dev tree: start ${f1(m.startTree)} MiB, peak ${f1(m.peakTree)} MiB  [peak per process name, MiB: ${byName}]`);
  const h = p.heap;
  console.log(
    h
      ? `  Worker heap    used ${f1(h.startUsed)} MiB at start, peak ${f1(h.peakUsed)} MiB, end ${f1(h.endUsed)} MiB; heap size peak ${f1(h.peakTotal)} MiB (user isolate, via the inspector, ${h.samples} samples)`
      : `  Worker heap    n/a (no inspector found)`,
  );
  console.log(`                 ${p.mem.samples.length} samples every ${SAMPLE_MS} ms (largest gap ${f1(p.mem.maxGapMs)} ms)${restarted(p.mem) ? "; WORKERD RESTARTED" : ""}`);
  console.log(
    `  cpu (cores)    server ${f2(server / sec)} [${cpu.map(([k, v]) => `${k} ${f2(v / sec)}`).join(", ")}], bench client ${f2(clientCpuSeconds / sec)}, other processes ${f2(others / sec)}`,
  );
}

function printScale(r: ScaleResult, expected: number | null): void {
  const s = r.stream.value;
  const sec = s.ms / 1000;
  console.log(`\n== ${r.format}, N = ${r.n.toLocaleString("en-US")} captions (project ${r.projectId})${r.attempts > 1 ? `, attempt ${r.attempts}` : ""} ==`);
  console.log(`server start     ${f1(r.startupMs / 1000)} s (wrangler dev until healthy and warmed)`);
  console.log(
    `streamed         ${f2(sec)} s   ${f1(s.lines / sec)} rows/s   ${f1(s.bytes / 1e6 / sec)} MB/s   ` +
      `${f1(s.bytes / 1e6)} MB in ${s.lines} lines over ${s.pages} responses (${f1(s.bytes / Math.max(1, s.lines))} B/line, ${s.chunks} chunks), first byte after ${f1(s.firstByteMs)} ms`,
  );
  printMemory(r.stream, sec, s.clientCpuSeconds);
  console.log(
    `  checks         ${expected === null || s.lines === expected ? "line count OK" : `LINE COUNT ${s.lines} ≠ ${expected}`}, ${s.badJson === 0 ? "every line JSON" : `${s.badJson} LINES NOT JSON`}, ` +
      `every response ended by its trailer, ${s.spotChecked} records compared with the seed, ${s.problems.length === 0 ? "no problems" : `${s.problems.length} problem(s):`}`,
  );
  for (const p of s.problems) console.log(`                 - ${p}`);

  const j = r.job.value;
  const jsec = j.ms / 1000;
  console.log(
    `job              ${f2(jsec)} s (server ${f2(j.serverMs / 1000)} s)   ${f1(j.images / jsec)} rows/s   ${f1(j.bytes / 1e6 / jsec)} MB/s   ${j.messages} queue messages ` +
      `(${f1(j.images / Math.max(1, j.messages))} images each), largest statement count of one queue invocation ${j.peakStatements} (limit ${STATEMENT_LIMIT}); ` +
      `job / streamed ${f2(j.ms / s.ms)}`,
  );
  if (j.progress.length > 1) {
    const marks = j.progress.map((p, k) => `${p.messages}: ${f1((p.atMs - (k > 0 ? j.progress[k - 1].atMs : 0)) / 1000)} s`);
    console.log(`  per message    (seen by polling, time since the previous checkpoint) ${marks.join(", ")}`);
  }
  if (j.file) console.log(`  file           ${f1(j.file.bytes / 1e6)} MB, ${j.file.lines} lines, downloaded in ${f2(j.file.ms / 1000)} s; sha256 ${j.file.sha256} ${j.file.sha256 === s.sha256 ? "= the streamed export's" : "≠ THE STREAMED EXPORT'S"}`);
  printMemory(r.job, jsec, 0);
  const problems = jobProblems(j, s.sha256, expected);
  if (j.peakStatements > STATEMENT_LIMIT) problems.push(`a queue invocation of the job sent ${j.peakStatements} statements (limit ${STATEMENT_LIMIT})`);
  console.log(`  checks         ${problems.length === 0 ? "file = manifest = job = stream (sha256, bytes, lines), no invocation above the limit" : `${problems.length} problem(s):`}`);
  for (const p of problems) console.log(`                 - ${p}`);
  const b = r.singlePass;
  if (b) {
    const bsec = b.value.ms / 1000;
    console.log(
      `single-pass job  ${f2(bsec)} s (server ${f2(b.value.serverMs / 1000)} s)   ${f1(b.value.images / bsec)} rows/s   ${b.value.messages} queue message, ${b.value.peakStatements} statements ` +
        `(the statement limit lifted, as before the job was paged; a fresh server); paged job / single-pass ${f2(j.ms / b.value.ms)}`,
    );
    printMemory(b, bsec, 0);
    const bp = jobProblems(b.value, s.sha256, expected);
    console.log(`  checks         ${bp.length === 0 ? "file = manifest = job = stream" : `${bp.length} problem(s):`}`);
    for (const p of bp) console.log(`                 - ${p}`);
  }
}

function printSeed(s: CaptionSeedResult): void {
  console.log(
    `seed             ${f2(s.ms / 1000)} s: ${s.images.toLocaleString("en-US")} images (${s.projects.map((p) => `${p.id} ${p.images}`).join(", ")}), ` +
      `${s.segments.toLocaleString("en-US")} segments, ${s.regionTexts.toLocaleString("en-US")} region texts, ${s.submissions.toLocaleString("en-US")} submissions, ` +
      `${(s.captionWords / s.images).toFixed(0)} words per caption; D1 file ${f1(s.fileBytes / 2 ** 20)} MiB`,
  );
}

const clean = (r: ScaleResult, expected: number | null) =>
  r.stream.value.problems.length === 0 &&
  jobProblems(r.job.value, r.stream.value.sha256, expected).length === 0 &&
  (!r.singlePass || jobProblems(r.singlePass.value, r.stream.value.sha256, expected).length === 0);
const linesExpected = (format: Format, n: number) => (format === "refer" ? null : n);

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  ensureDevVars();
  console.log(`bench:export  captions=${a.captions} scales=${a.scales.join(",")} format=${a.format} gcg=${a.gcg}  (Node ${process.version})`);
  const stateDir = mkdtempSync(join(tmpdir(), "groundwork-bench-export-"));
  live.stateDir = stateDir;
  try {
    const tm = performance.now();
    applyLocalMigrations(stateDir, true);
    console.log(`migrations       ${f2((performance.now() - tm) / 1000)} s`);
    const file = findD1File(stateDir);
    const seed = seedCaptionBench(file, {
      projects: a.scales.map((n) => ({ id: projectOf(n, a), images: n })),
      createdBy: LEAD,
      onProgress: (done, total) => process.stdout.write(`\r  seeding ${done.toLocaleString("en-US")} / ${total.toLocaleString("en-US")} images`),
    });
    process.stdout.write("\r");
    printSeed(seed);
    const token = await devToken("lead", [...a.scales.map((n) => projectOf(n, a)), GCG_PROJECT, GCG_SOURCE], LEAD);
    if (a.gcg > 0 && !interrupted()) await prepareGcg(a, stateDir, file, token);
    if (interrupted()) return;
    let replay: ReplayResult | null = null;
    if (a.replay) {
      await awaitQuiet("replay");
      replay = await replayInNode(file, MAIN_PROJECT, a.format);
      console.log(`replay in Node   ${f2(replay.ms / 1000)} s (the export code over node:sqlite, no server; details at the end)`);
    }

    const results: ScaleResult[] = [];
    for (const n of a.scales) {
      if (interrupted()) break;
      console.log(`\n-- ${a.format}, N = ${n.toLocaleString("en-US")} --`);
      const r = await runScale(n, projectOf(n, a), a.format, linesExpected(a.format, n), stateDir, token);
      if (n === a.singlePass && !interrupted()) r.singlePass = await runSinglePass(n, projectOf(n, a), a.format, linesExpected(a.format, n), r.stream.value.sha256, stateDir, token);
      results.push(r);
      printScale(r, linesExpected(a.format, n));
    }
    let gcg: ScaleResult | null = null;
    if (a.gcg > 0 && !interrupted()) {
      console.log(`\n-- gcg, N = ${a.gcg.toLocaleString("en-US")} --`);
      gcg = await runScale(a.gcg, GCG_PROJECT, "gcg", a.gcg, stateDir, token);
      printScale(gcg, a.gcg);
    }
    if (results.length === 0) return;

    console.log(`\n== Summary ==`);
    for (const r of [...results, ...(gcg ? [gcg] : [])]) {
      const s = r.stream.value;
      const j = r.job.value;
      const m = memSummary(r.stream.mem);
      const mj = memSummary(r.job.mem);
      console.log(
        `${r.format.padEnd(7)} N=${String(r.n).padStart(7)}  streamed ${f2(s.ms / 1000).padStart(7)} s (${f1(s.lines / (s.ms / 1000)).padStart(7)} rows/s, ${String(s.pages).padStart(3)} responses)  ` +
          `job ${f2(j.ms / 1000).padStart(7)} s (${f1(j.images / (j.ms / 1000)).padStart(7)} rows/s, ${String(j.messages).padStart(3)} messages, peak ${String(j.peakStatements).padStart(4)} statements)  ` +
          `job/streamed ${f2(j.ms / s.ms)}  workerd RSS peak streamed ${f1(m.peakWorkerd)} / job ${f1(mj.peakWorkerd)} MiB  ` +
          `heap peak ${r.stream.heap ? f1(r.stream.heap.peakUsed) : "n/a"} / ${r.job.heap ? f1(r.job.heap.peakUsed) : "n/a"} MiB  ${clean(r, linesExpected(r.format, r.n)) ? "ok" : "PROBLEMS"}`,
      );
    }
    const head = results.find((r) => r.n === a.captions)!;
    const s = head.stream.value;
    const j = head.job.value;
    const sec = s.ms / 1000;
    const jsec = j.ms / 1000;
    const headline =
      `export ${a.format} ${a.captions} captions: job ${f1(jsec)} s through ${j.messages} queue messages (largest ${j.peakStatements} statements in one), ` +
      `streamed ${f1(sec)} s over ${s.pages} responses; job/streamed ${f2(jsec / sec)}; ${f1(j.images / jsec)} rows/s`;
    console.log(`\n${headline}`);
    console.log(`target job ≤ ${TARGET.jobOverStream} × streamed, same run              ${verdict(jsec <= TARGET.jobOverStream * sec)}  (${f1(jsec)} s vs ${f1(sec)} s)`);
    const sp = results.find((r) => r.singlePass);
    if (sp?.singlePass) {
      const bsec = sp.singlePass.value.ms / 1000;
      const psec = sp.job.value.ms / 1000;
      console.log(`target job ≤ ${TARGET.jobOverStream} × single-pass job at N=${sp.n}, same run  ${verdict(psec <= TARGET.jobOverStream * bsec)}  (${f1(psec)} s in ${sp.job.value.messages} messages vs ${f1(bsec)} s in one)`);
    }
    if (a.captions === 118_000 && a.format === "pancap") {
      const limit = TARGET.jobOverStream * SINGLE_INVOCATION_SECONDS;
      console.log(`target job ≤ ${f1(limit)} s (1.2 × the earlier ${SINGLE_INVOCATION_SECONDS} s single-invocation export)  ${verdict(jsec <= limit)}  (${f1(jsec)} s)`);
    }
    const all = [...results, ...(gcg ? [gcg] : [])];
    const peak = Math.max(...all.map((r) => r.job.value.peakStatements));
    console.log(`target every queue invocation ≤ ${STATEMENT_LIMIT} statements        ${verdict(peak <= STATEMENT_LIMIT)}  (largest ${peak})`);
    console.log(`target streamed ≤ ${TARGET.seconds} s at ${a.captions}                  ${verdict(sec <= TARGET.seconds && s.problems.length === 0)}  (${f1(sec)} s)`);
    if (results.length > 1) {
      for (const phase of ["stream", "job"] as const) {
        const small = memSummary(results[0][phase].mem);
        const big = memSummary(head[phase].mem);
        const growth = big.peakWorkerd - small.peakWorkerd;
        const peaks = results.map((r) => `${r.n}: ${f1(memSummary(r[phase].mem).peakWorkerd)}`).join(", ");
        console.log(
          `target peak RSS growth ${results[0].n}→${a.captions} ≤ ${TARGET.rssGrowthMiB} MiB (${phase === "stream" ? "streamed" : "job"})  ${verdict(growth <= TARGET.rssGrowthMiB)}  ` +
            `(${growth >= 0 ? "+" : ""}${f1(growth)} MiB; peaks ${peaks} MiB)`,
        );
      }
    }
    const ok = all.every((r) => clean(r, linesExpected(r.format, r.n)));
    console.log(`target every line valid, job file = streamed export ${verdict(ok)}`);
    if (gcg) {
      const g = gcg.job.value;
      const rate = g.images / (g.ms / 1000);
      console.log(
        `gcg at N=${a.gcg} (not ${a.captions}: every image reads and decodes its panoptic PNG and encodes an RLE per segment): job ${f1(g.ms / 1000)} s, ` +
          `${f1(rate)} rows/s, ${g.messages} messages, largest ${g.peakStatements} statements; at this rate ${a.captions} would take ~${f1(a.captions / rate / 60)} min`,
      );
    }
    if (replay) {
      printReplay(replay, head);
      console.log(`\n${headline}`);
    }
    if (!ok) process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((err: unknown) => {
    if (interrupted()) return; // the SIGINT handler is cleaning up and exits
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
