/**
 * Export benchmark: stream `GET /v1/projects/{id}/exports/pancap` of a project whose every image has
 * a final caption, and watch the server's memory while it does.
 *
 *   node scripts/bench-export.ts [--captions=118000] [--scales=10000,40000] [--format=pancap] [--no-replay]
 *
 * 1. A fresh temporary state folder; the D1 migrations; then one project per scale seeded straight
 *    into the SQLite file Miniflare uses (scripts/lib/seed-captions.ts: images, 13 segments each,
 *    round-1 submissions holding the drafts, region texts, a ~200-word final caption with 13 spans),
 *    in one transaction, then ANALYZE. The `--captions` project is `bench`; each other scale N of
 *    `--scales` is `bench-N`. All live in the one database (image ids increase across them).
 * 2. Unless --no-replay: the Worker's own export code (finalImagePages + formatPage) run in Node
 *    over the same SQLite file for `bench`, every query timed, with its query plans: where the time
 *    goes without workerd and the D1 binding (printed at the end, next to the real figure).
 * 3. For each scale, smallest first: start `wrangler dev` on a free loopback port (a fresh workerd
 *    each time, so every scale's memory is measured from the same start), mint a lead token, wait
 *    (at most 2 min) for the shared machine to be quiet.
 * 4. Stream the export with fetch, reading the body chunk by chunk: count bytes and lines, parse every
 *    line as JSON, check the line count, the image order, the shape of every record (13 segments,
 *    13 spans, 13 regions with drafts), and compare five records field by field with the seed.
 *    Meanwhile a worker thread reads /proc/<pid>/status of every process in the wrangler dev tree
 *    every 200 ms (RSS at start and peak, of the tree and of the workerd process, with its anonymous
 *    and file-backed parts, and CPU), and the user Worker's V8 heap is polled through the inspector
 *    wrangler serves (what production's 128 MB isolate limit counts; the workerd process also holds
 *    Miniflare's D1 object, other internal isolates and the allocator's free memory).
 * 5. Print per scale: wall time, rows/s, MB/s, time to first byte, RSS at start and peak, heap, CPU;
 *    then the headline and the targets (≤ 60 s for `--captions`; peak server RSS flat across scales).
 * 6. Stop the server and delete the state folder, also on error and on Ctrl-C. wrangler dev runs in
 *    our own process group (scripts/lib/wrangler.ts does not detach it), so instead of a group kill:
 *    SIGTERM to wrangler, then SIGKILL, by pid, to whatever of its process tree is still there.
 *
 * wrangler dev restarts workerd when a source file changes (others editing worker/ while this runs):
 * an export that sees a restart or fails is run again, at most 3 times in all.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import type { Env } from "../worker/env.ts";
import { finalImagePages } from "../worker/flows/export.ts";
import { formatPage } from "../worker/routes/exports.ts";
import { dbOf } from "../worker/store/db.ts";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { SEGMENTS, seedCaptionBench, SPANS, syntheticImage, type CaptionSeedResult } from "./lib/seed-captions.ts";
import { findD1File } from "./lib/seed-tasks.ts";
import { applyLocalMigrations, cleanUpOnInterrupt, freePort, startDevServer, waitForHealthy } from "./lib/wrangler.ts";
import { devToken } from "./token.ts";
import { awaitQuiet as waitForQuiet } from "./lib/machine.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const MAIN_PROJECT = "bench";
const LEAD = "bench-lead";
const SAMPLE_MS = 200;
const EXPORT_TIMEOUT_MS = 15 * 60_000;
const MAX_ATTEMPTS = 3;
const MAX_LINE_PROBLEMS = 10;
const TARGET = { seconds: 60, rssGrowthMiB: 50 };
const FORMATS = ["pancap", "llava", "refer", "t2i", "regions"] as const;

interface Args {
  captions: number;
  scales: number[];
  format: (typeof FORMATS)[number];
  replay: boolean;
}

function parseArgs(argv: string[]): Args {
  const usage = "usage: node scripts/bench-export.ts [--captions=118000] [--scales=10000,40000] [--format=pancap] [--no-replay]";
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  for (const a of argv) if (!/^--(captions|scales|format)=/.test(a) && a !== "--no-replay") throw new Error(`unknown argument ${a}\n${usage}`);
  const num = (s: string) => Number(s.replace(/_/g, ""));
  const captions = num(get("captions") ?? "118000");
  if (!Number.isInteger(captions) || captions < 1 || captions > 2_000_000) throw new Error("--captions must be an integer in 1..2000000");
  const rawScales = get("scales");
  const scales = rawScales === undefined ? [10_000, 40_000].filter((n) => n < captions) : rawScales === "" ? [] : rawScales.split(",").map(num);
  if (scales.some((n) => !Number.isInteger(n) || n < 1 || n > 2_000_000)) throw new Error("--scales must be a comma-separated list of integers in 1..2000000");
  const format = (get("format") ?? "pancap") as Args["format"];
  if (!FORMATS.includes(format)) throw new Error(`--format must be one of ${FORMATS.join(", ")} (gcg reads masks from R2, which this bench does not seed)`);
  return { captions, scales: [...new Set([...scales, captions])].sort((a, b) => a - b), format, replay: !argv.includes("--no-replay") };
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

async function readExport(base: string, token: string, projectId: string, format: Args["format"], expected: number): Promise<ExportRead> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/projects/${projectId}/exports/${format}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS),
  });
  const out: ExportRead = { status: res.status, lines: 0, bytes: 0, ms: 0, firstByteMs: NaN, chunks: 0, badJson: 0, problems: [], spotChecked: 0, clientCpuSeconds: 0 };
  if (res.status !== 200 || !res.body) {
    out.problems.push(`export answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    return out;
  }
  const decoder = new TextDecoder();
  const spotAt = new Set([0, Math.floor(expected / 2), expected - 1, Math.floor(expected / 3), Math.floor((2 * expected) / 3)]);
  const problem = (s: string) => {
    if (out.problems.length < MAX_LINE_PROBLEMS) out.problems.push(s);
  };
  let previousId = "";
  const onLine = (bytes: Uint8Array) => {
    const index = out.lines++;
    let rec: unknown;
    try {
      rec = JSON.parse(decoder.decode(bytes));
    } catch {
      out.badJson++;
      problem(`line ${index + 1} is not JSON (${bytes.length} bytes)`);
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

  const reader = res.body.getReader();
  let carry: Uint8Array | null = null;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (out.chunks++ === 0) out.firstByteMs = performance.now() - t0;
    out.bytes += value.byteLength;
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
  out.ms = performance.now() - t0;
  if (carry && carry.length > 0) problem(`the body ends with ${carry.length} bytes after the last newline`);
  if (out.lines !== expected) problem(`${out.lines} lines, expected ${expected}`);
  const cpu = process.cpuUsage(cpu0);
  out.clientCpuSeconds = (cpu.user + cpu.system) / 1e6;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Where the time goes: the Worker's own export code (finalImagePages + formatPage) replayed in
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
  const env = {} as Env;
  const out: ReplayResult = { rows: 0, bytes: 0, pages: 0, ms: 0, formatMs: 0, query, plans };
  const encoder = new TextEncoder();
  return (async () => {
    try {
      const t0 = performance.now();
      for await (const page of finalImagePages(db, { projectId, status: "final" })) {
        const t = performance.now();
        const text = await formatPage(env, db, format, page);
        out.bytes += encoder.encode(text).byteLength;
        out.formatMs += performance.now() - t;
        out.rows += page.length;
        out.pages++;
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
    const s = server.read.ms;
    console.log(
      `  through workerd the same export took ${f2(s / 1000)} s: ${f2((s - r.ms) / 1000)} s (${f1((100 * (s - r.ms)) / s)}%) more than the replay, ` +
        `≈ ${f2((s - r.ms) / Math.max(1, QUERY_KINDS.reduce((n, k) => n + r.query[k].n, 0)))} ms per D1 query if it all went to the D1 path (plus streaming and the bench client)`,
    );
  }
  console.log(`query plans`);
  for (const k of QUERY_KINDS) for (const p of r.plans[k]) console.log(`    ${k.padEnd(15)} ${p}`);
}

// ---------------------------------------------------------------------------------------------
// One scale

interface ScaleResult {
  n: number;
  projectId: string;
  read: ExportRead;
  mem: SamplerReport;
  heap: HeapReport | null;
  attempts: number;
  startupMs: number;
}

const kib = (k: number) => k / 1024;

function restarted(mem: SamplerReport): boolean {
  const sets = new Set(mem.samples.map((s) => s.workerdPids).filter((s) => s !== ""));
  return sets.size > 1;
}

async function runScale(n: number, a: Args, stateDir: string, token: string): Promise<ScaleResult> {
  const projectId = projectOf(n, a);
  for (let attempt = 1; ; attempt++) {
    let serverLog = "";
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const t0 = performance.now();
    const server = startDevServer(port, stateDir, true, { devTracing: false });
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
      await awaitQuiet(`N=${n}`);
      const probe = await startHeapProbe(server.pid!, port);
      const sampler = startSampler(server.pid!);
      await new Promise((ok) => setTimeout(ok, 2 * SAMPLE_MS)); // a baseline sample or two
      const read = await readExport(base, token, projectId, a.format, n);
      const mem = await sampler.stop();
      const heap = probe ? await probe.stop() : null;
      await stopServer(server);
      live.server = undefined;
      const failed = read.status !== 200 || read.lines !== n;
      if ((failed || restarted(mem)) && attempt < MAX_ATTEMPTS) {
        console.log(`  (N=${n}: ${restarted(mem) ? "workerd restarted during the export (a source file changed)" : `the export failed: ${read.problems[0]}`}; running it again)`);
        continue;
      }
      return { n, projectId, read, mem, heap, attempts: attempt, startupMs };
    } catch (err) {
      if (serverLog) console.error(`wrangler dev output (tail):\n${serverLog}`);
      if (live.sampler) await live.sampler.terminate();
      live.sampler = undefined;
      await stopServer(server);
      live.server = undefined;
      if (attempt >= MAX_ATTEMPTS || interrupted()) throw err;
      console.log(`  (N=${n}: ${(err as Error).message}; running it again)`);
    }
  }
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

function printScale(r: ScaleResult): void {
  const sec = r.read.ms / 1000;
  const m = memSummary(r.mem);
  const cpu = Object.entries(r.mem.cpuByName).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
  const server = cpu.reduce((s, [, v]) => s + v, 0);
  const others = Math.max(0, r.mem.machineCpu - server - r.read.clientCpuSeconds);
  const byName = Object.entries(r.mem.samples.reduce<Record<string, number>>((acc, s) => {
    for (const [k, v] of Object.entries(s.byName)) acc[k] = Math.max(acc[k] ?? 0, v);
    return acc;
  }, {})).map(([k, v]) => `${k} ${f1(kib(v))}`).join(", ");
  console.log(`\n== N = ${r.n.toLocaleString("en-US")} captions (project ${r.projectId})${r.attempts > 1 ? `, attempt ${r.attempts}` : ""} ==`);
  console.log(`server start     ${f1(r.startupMs / 1000)} s (wrangler dev until healthy and warmed)`);
  console.log(
    `export           ${f2(sec)} s   ${f1(r.read.lines / sec)} rows/s   ${f1(r.read.bytes / 1e6 / sec)} MB/s   ` +
      `${f1(r.read.bytes / 1e6)} MB in ${r.read.lines} lines (${f1(r.read.bytes / Math.max(1, r.read.lines))} B/line, ${r.read.chunks} chunks), first byte after ${f1(r.read.firstByteMs)} ms`,
  );
  console.log(
    `server RSS       start ${f1(m.startWorkerd)} MiB, peak ${f1(m.peakWorkerd)} MiB, end ${f1(m.endWorkerd)} MiB (workerd; peak anon ${f1(m.peakWorkerdAnon)}, file ${f1(m.peakWorkerdFile)})`,
  );
  console.log(`                 whole wrangler dev tree: start ${f1(m.startTree)} MiB, peak ${f1(m.peakTree)} MiB  [peak per process name, MiB: ${byName}]`);
  const h = r.heap;
  console.log(
    h
      ? `Worker V8 heap   used ${f1(h.startUsed)} MiB at start, peak ${f1(h.peakUsed)} MiB, end ${f1(h.endUsed)} MiB; heap size peak ${f1(h.peakTotal)} MiB (user isolate, via the inspector, ${h.samples} samples)`
      : `Worker V8 heap   n/a (no inspector found)`,
  );
  console.log(`                 ${r.mem.samples.length} samples every ${SAMPLE_MS} ms (largest gap ${f1(r.mem.maxGapMs)} ms)${restarted(r.mem) ? "; WORKERD RESTARTED DURING THE EXPORT" : ""}`);
  console.log(
    `cpu (cores)      server ${f2(server / sec)} [${cpu.map(([k, v]) => `${k} ${f2(v / sec)}`).join(", ")}], bench client ${f2(r.read.clientCpuSeconds / sec)} (parse + checks), ` +
      `other processes ${f2(others / sec)}`,
  );
  console.log(
    `checks           ${r.read.lines === r.n ? "line count OK" : `LINE COUNT ${r.read.lines} ≠ ${r.n}`}, ${r.read.badJson === 0 ? "every line JSON" : `${r.read.badJson} LINES NOT JSON`}, ` +
      `${r.read.spotChecked} records compared with the seed, ${r.read.problems.length === 0 ? "no problems" : `${r.read.problems.length} problem(s):`}`,
  );
  for (const p of r.read.problems) console.log(`                 - ${p}`);
}

function printSeed(s: CaptionSeedResult): void {
  console.log(
    `seed             ${f2(s.ms / 1000)} s: ${s.images.toLocaleString("en-US")} images (${s.projects.map((p) => `${p.id} ${p.images}`).join(", ")}), ` +
      `${s.segments.toLocaleString("en-US")} segments, ${s.regionTexts.toLocaleString("en-US")} region texts, ${s.submissions.toLocaleString("en-US")} submissions, ` +
      `${(s.captionWords / s.images).toFixed(0)} words per caption; D1 file ${f1(s.fileBytes / 2 ** 20)} MiB`,
  );
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  ensureDevVars();
  console.log(`bench:export  captions=${a.captions} scales=${a.scales.join(",")} format=${a.format}  (Node ${process.version})`);
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
    if (interrupted()) return;
    let replay: ReplayResult | null = null;
    if (a.replay) {
      await awaitQuiet("replay");
      replay = await replayInNode(file, MAIN_PROJECT, a.format);
      console.log(`replay in Node   ${f2(replay.ms / 1000)} s (the export code over node:sqlite, no server; details at the end)`);
    }

    const token = await devToken("lead", a.scales.map((n) => projectOf(n, a)), LEAD);
    const results: ScaleResult[] = [];
    for (const n of a.scales) {
      if (interrupted()) break;
      console.log(`\n-- N = ${n.toLocaleString("en-US")} --`);
      const r = await runScale(n, a, stateDir, token);
      results.push(r);
      printScale(r);
    }
    if (results.length === 0) return;

    console.log(`\n== Summary (${a.format}) ==`);
    for (const r of results) {
      const m = memSummary(r.mem);
      console.log(
        `N=${String(r.n).padStart(7)}  ${f2(r.read.ms / 1000).padStart(7)} s  ${f1(r.read.lines / (r.read.ms / 1000)).padStart(7)} rows/s  ${f1(r.read.bytes / 1e6 / (r.read.ms / 1000)).padStart(6)} MB/s  ` +
          `workerd RSS start ${f1(m.startWorkerd).padStart(6)} MiB peak ${f1(m.peakWorkerd).padStart(6)} MiB (anon ${f1(m.peakWorkerdAnon)})  tree peak ${f1(m.peakTree).padStart(6)} MiB  ` +
          `Worker heap peak used ${r.heap ? f1(r.heap.peakUsed) : "n/a"} MiB (size ${r.heap ? f1(r.heap.peakTotal) : "n/a"})  ` +
          `${r.read.problems.length === 0 && r.read.lines === r.n ? "ok" : "PROBLEMS"}`,
      );
    }
    const head = results.find((r) => r.n === a.captions)!;
    const mm = memSummary(head.mem);
    const sec = head.read.ms / 1000;
    const headline = `export ${a.format} ${a.captions} captions: ${f1(sec)} s, ${f1(head.read.lines / sec)} rows/s, peak server RSS ${f1(mm.peakWorkerd)} MB (workerd; ${f1(mm.startWorkerd)} MB at start)`;
    console.log(`\n${headline}`);
    console.log(`target ≤ ${TARGET.seconds} s at ${a.captions}                         ${verdict(sec <= TARGET.seconds && head.read.lines === a.captions)}  (${f1(sec)} s)`);
    if (results.length > 1) {
      const small = memSummary(results[0].mem);
      const growth = mm.peakWorkerd - small.peakWorkerd;
      const peaks = results.map((r) => `${r.n}: ${f1(memSummary(r.mem).peakWorkerd)}`).join(", ");
      console.log(
        `target peak RSS growth ${results[0].n}→${a.captions} ≤ ${TARGET.rssGrowthMiB} MiB      ${verdict(growth <= TARGET.rssGrowthMiB)}  (${growth >= 0 ? "+" : ""}${f1(growth)} MiB; peaks ${peaks} MiB)`,
      );
    }
    if (results.length > 1 && results.every((r) => r.heap)) {
      const growth = head.heap!.peakUsed - results[0].heap!.peakUsed;
      console.log(
        `check Worker isolate heap growth ${results[0].n}→${a.captions} ≤ ${TARGET.rssGrowthMiB} MiB  ${verdict(growth <= TARGET.rssGrowthMiB)}  ` +
          `(${growth >= 0 ? "+" : ""}${f1(growth)} MiB; peak used ${results.map((r) => `${r.n}: ${f1(r.heap!.peakUsed)}`).join(", ")} MiB; heap size ${results.map((r) => f1(r.heap!.peakTotal)).join(", ")} MiB)`,
      );
    }
    const clean = results.every((r) => r.read.problems.length === 0 && r.read.lines === r.n);
    console.log(`target every line valid, count = N                ${verdict(clean)}`);
    if (replay) {
      printReplay(replay, head);
      console.log(`\n${headline}`);
    }
    if (!clean) process.exitCode = 1;
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
