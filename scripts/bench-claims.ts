/**
 * Claim-throughput benchmark of the lease engine: many annotators calling
 * `POST /v1/projects/{id}/tasks/next` at once, against queues of different depths.
 *
 *   node scripts/bench-claims.ts [--tasks=10000,1000000] [--seconds=10] [--clients=64] [--warmup=3] [--per-image=3] [--rate=200] [--ladder=200,300,400,500]
 *
 * For each task count N, one after the other, each in a fresh temporary state folder:
 *  1. apply the D1 migrations, then seed the project `bench` (categories, images with segments, N
 *     open round-1 edit tasks, `--per-image` of them per image) straight into the SQLite file
 *     Miniflare uses (scripts/lib/seed-tasks.ts), in one transaction, then ANALYZE;
 *  2. start `wrangler dev` on a free loopback port;
 *  3. on the fresh server, claims at a fixed offered rate (`--rate` per second, open loop: each
 *     request is sent at its scheduled time whether or not earlier ones have answered, and its
 *     latency counts from that time), against a second project seeded with just enough tasks.
 *     Closed-loop latency at saturation is queueing (clients ÷ throughput); this is the latency an
 *     annotator sees when the server is not saturated;
 *  4. `--clients` annotators in a closed loop (each sends its next request when the last one
 *     answered) against `GET /healthz` (one trivial D1 query) for `--seconds`: the ceiling;
 *  5. the same loop with the annotators (distinct subjects) claiming, after a `--warmup`, keeping
 *     every lease (nothing is released or submitted: only the claim is timed); then, for
 *     reference, against `GET /v1/projects/bench` (token check + two small queries);
 *  6. a ladder of offered rates (`--ladder`, open loop as in 3, against a third project), climbed
 *     until p99 exceeds the aim, on a freshly restarted server: the highest rate served within it;
 *  7. stop the server and check, from the client's records and from the database itself, that no
 *     task was leased twice and nobody holds two tasks of one image.
 * Claims that reach the Worker together share a D1 batch (group commit); each claim's answer says
 * how many shared its batch (`Server-Timing`), and the report gives the mean per phase.
 * Latency is what the client observes (performance.now() around the request, body read included);
 * the client is node:http with keep-alive sockets (see loopbackClient).
 * `--per-image=3` (the overlap sample's slot count) makes the "nobody twice on one image" rule
 * bite; with 1, every claim is an image's first and also generates its (template) draft.
 *
 * The machine may be shared: each measured run waits for the other processes to quiet down, and
 * a run during which wrangler restarted workerd (it does when a source file changes) or other
 * processes took the cores is repeated (at most 3 runs; the least disturbed is kept and flagged).
 * CPU per process comes from /proc (Linux). All traffic goes to 127.0.0.1. The server is stopped
 * and the state folder deleted, also on error and on Ctrl-C.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Agent, request as httpRequest } from "node:http";
import { DatabaseSync } from "node:sqlite";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { findD1File, seedClaimBench, type SeedResult } from "./lib/seed-tasks.ts";
import { applyLocalMigrations, cleanUpOnInterrupt, freePort, startDevServer, stopServer, waitForHealthy } from "./lib/wrangler.ts";
import { devToken } from "./token.ts";
import { awaitQuiet as waitForQuiet, USER_HZ } from "./lib/machine.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const PROJECT = "bench";
/** The fixed-rate phase's own queue, so the closed-loop phases leave it untouched. */
const RATE_PROJECT = "bench-rate";
/** The rate ladder's own queue. */
const LADDER_PROJECT = "bench-ladder";
const BENCH_PROJECTS = [PROJECT, RATE_PROJECT, LADDER_PROJECT];
const SEGMENTS_PER_IMAGE = 4;
const REQUEST_TIMEOUT_MS = 30_000;
/** Hard cap on requests per client per phase, so every loop is bounded in count as well as time. */
const MAX_REQUESTS_PER_CLIENT = 200_000;

const USAGE = "[--tasks=10000,1000000] [--seconds=10] [--clients=64] [--warmup=3] [--per-image=3] [--rate=200] [--ladder=200,300,400,500]";
const TARGET = { claimsVsCeiling: 0.8, largeVsSmall: 0.9, p99Ms: 150 };

interface Args {
  tasks: number[];
  seconds: number;
  clients: number;
  warmup: number;
  perImage: number;
  /** Offered claims per second of the fixed-rate phase (0: none). */
  rate: number;
  /** Offered rates, climbed after the saturated phases until p99 exceeds the aim (empty: none). */
  ladder: number[];
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = get(name);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  for (const a of argv) {
    if (!/^--(tasks|seconds|clients|warmup|per-image|rate|ladder)=/.test(a)) throw new Error(`unknown argument ${a}\nusage: node scripts/bench-claims.ts ${USAGE}`);
  }
  const tasks = (get("tasks") ?? "10000,1000000").split(",").map((s) => Number(s.replace(/_/g, "")));
  if (tasks.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000_000)) throw new Error("--tasks must be a comma-separated list of integers in 1..10000000");
  const ladderRaw = get("ladder") ?? "200,300,400,500";
  const ladder = ladderRaw === "" || ladderRaw === "0" ? [] : ladderRaw.split(",").map(Number);
  if (ladder.some((r) => !Number.isInteger(r) || r < 1 || r > 5000)) throw new Error("--ladder must be a comma-separated list of integers in 1..5000 (or 0 for none)");
  return { tasks, seconds: int("seconds", 10, 1, 600), clients: int("clients", 64, 1, 1024), warmup: int("warmup", 3, 0, 60), perImage: int("per-image", 3, 1, 10), rate: int("rate", 200, 0, 5000), ladder };
}

// ---------------------------------------------------------------------------------------------
// Server lifecycle (also undone on SIGINT)

const live: { server?: ChildProcess; stateDir?: string } = {};



async function cleanup(): Promise<void> {
  const { server, stateDir } = live;
  live.server = undefined;
  live.stateDir = undefined;
  if (server) await stopServer(server);
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
}

const interrupted = cleanUpOnInterrupt(cleanup);


/**
 * CPU seconds (user + system) of each process in the server's tree, and of the whole machine, from
 * /proc (Linux); null elsewhere. The machine total shows what else competed for the cores.
 */
interface CpuSnapshot {
  procs: Map<number, { name: string; cpu: number }>;
  machine: number;
}

interface CpuUse {
  byName: Map<string, number>;
  machine: number;
  /** workerd was replaced during the phase: wrangler rebuilt after a source file changed. */
  restarted: boolean;
}

/**
 * wrangler dev runs two workerd processes: a proxy in front (it holds the port while the Worker
 * reloads) and the runtime with the Worker, D1, R2 and the queues; the report tells them apart.
 */
const labels = new Map<number, string>();
function processLabel(pid: number, name: string): string {
  if (name !== "workerd") return name;
  let label = labels.get(pid);
  if (!label) {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      // gone
    }
    label = cmd.includes("--inspector-addr") ? "workerd runtime" : "workerd proxy";
    labels.set(pid, label);
  }
  return label;
}

function cpuSnapshot(rootPid: number | undefined): CpuSnapshot | null {
  if (rootPid === undefined || !existsSync("/proc/stat")) return null;
  const all = new Map<number, { ppid: number; name: string; cpu: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = processLabel(Number(entry), text.slice(text.indexOf("(") + 1, text.lastIndexOf(")")));
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      all.set(Number(entry), { ppid: Number(fields[1]), name, cpu: (Number(fields[11]) + Number(fields[12])) / USER_HZ });
    } catch {
      // the process went away
    }
  }
  const procs = new Map<number, { name: string; cpu: number }>();
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    const p = all.get(pid);
    if (!p || procs.has(pid)) continue;
    procs.set(pid, { name: p.name, cpu: p.cpu });
    for (const [child, c] of all) if (c.ppid === pid) queue.push(child);
  }
  // cpu  user nice system idle iowait irq softirq steal …
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { procs, machine: (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / USER_HZ };
}

function cpuDelta(a: CpuSnapshot | null, b: CpuSnapshot | null): CpuUse | null {
  if (!a || !b) return null;
  const byName = new Map<string, number>();
  for (const [pid, p] of b.procs) byName.set(p.name, (byName.get(p.name) ?? 0) + p.cpu - (a.procs.get(pid)?.cpu ?? 0));
  const workerd = (s: CpuSnapshot) => [...s.procs].filter(([, p]) => p.name.startsWith("workerd")).map(([pid]) => pid).sort().join(",");
  return { byName, machine: b.machine - a.machine, restarted: workerd(a) !== workerd(b) };
}

// ---------------------------------------------------------------------------------------------
// The closed-loop load

interface Sample {
  status: number;
  ms: number;
  /** Completed before the phase's deadline (counts towards rate and latency). */
  inWindow: boolean;
}

interface PhaseResult {
  samples: Sample[];
  seconds: number;
  errors: string[];
  clientCpu: number;
  serverCpu: CpuUse | null;
  /** Runs of this phase thrown away because the server restarted during them. */
  discarded: number;
  /** Answers other than 200/204 and failures during warm-ups and discarded runs (status → count). */
  unmeasured: Map<number, number>;
}

type Call = (client: number) => Promise<{ status: number; after?: () => void }>;

/**
 * `clients` loops, each issuing `call` back to back until `seconds` have passed (or the per-client
 * cap). Requests still in flight at the deadline complete, but count only for their side effects.
 */
async function runPhase(clients: number, seconds: number, call: Call, serverPid: number | undefined): Promise<PhaseResult> {
  const samples: Sample[] = [];
  const errors: string[] = [];
  const cpu0 = process.cpuUsage();
  const server0 = cpuSnapshot(serverPid);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const loop = async (client: number) => {
    for (let n = 0; n < MAX_REQUESTS_PER_CLIENT && performance.now() < deadline; n++) {
      const t = performance.now();
      let status = 0;
      try {
        status = (await call(client)).status;
      } catch (err) {
        if (errors.length < 20) errors.push((err as Error).message);
        status = -1;
      }
      const end = performance.now();
      samples.push({ status, ms: end - t, inWindow: end <= deadline });
      if (status !== 200 && status !== 204) await new Promise((r) => setTimeout(r, 50)); // no hot loop on errors
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => loop(i)));
  const cpu = process.cpuUsage(cpu0);
  const server1 = cpuSnapshot(serverPid);
  return {
    samples,
    seconds,
    errors,
    clientCpu: (cpu.user + cpu.system) / 1e6,
    serverCpu: cpuDelta(server0, server1),
    discarded: 0,
    unmeasured: new Map(),
  };
}

/** Requests allowed in flight in the fixed-rate phase; past this the client itself is the bottleneck. */
const MAX_IN_FLIGHT = 1024;
const RATE_WARMUP_S = 2;

interface OpenLoopResult {
  offered: number;
  seconds: number;
  samples: Sample[];
  /** Requests not sent because MAX_IN_FLIGHT were already waiting (the server fell behind). */
  skipped: number;
  errors: string[];
}

/**
 * Open loop: request k is due at start + k / rate, sent then whatever the earlier ones are doing,
 * and its latency is measured from when it was due (so a late client cannot hide server delay).
 */
async function runOpenLoop(rate: number, seconds: number, call: Call, clients: number): Promise<OpenLoopResult> {
  const samples: Sample[] = [];
  const errors: string[] = [];
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const total = Math.floor(rate * seconds);
  const pending = new Set<Promise<void>>();
  let skipped = 0;
  for (let k = 0; k < total; k++) {
    const due = start + (k * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((ok) => setTimeout(ok, wait));
    if (pending.size >= MAX_IN_FLIGHT) {
      skipped++;
      continue;
    }
    const p = (async () => {
      let status = 0;
      try {
        status = (await call(k % clients)).status;
      } catch (err) {
        if (errors.length < 20) errors.push((err as Error).message);
        status = -1;
      }
      const end = performance.now();
      samples.push({ status, ms: end - due, inWindow: due <= deadline });
    })();
    pending.add(p);
    p.finally(() => pending.delete(p));
  }
  await Promise.all(pending);
  return { offered: rate, seconds, samples, skipped, errors };
}

const MAX_ATTEMPTS = 3;
const QUIET_CORES = 0.3;
const QUIET_MAX_WAIT_MS = 30_000;
const awaitQuiet = (label: string) => waitForQuiet(label, { quietCores: QUIET_CORES, maxWaitMs: QUIET_MAX_WAIT_MS });



/** Average cores other processes (not the server, not this client) kept busy during a run. */
function otherCores(r: PhaseResult): number {
  if (!r.serverCpu) return 0;
  const server = [...r.serverCpu.byName.values()].reduce((a, b) => a + Math.max(0, b), 0);
  return Math.max(0, (r.serverCpu.machine - server - r.clientCpu) / r.seconds);
}

/**
 * A measured phase, after a warm-up. The machine is shared: wrangler dev rebuilds and restarts
 * workerd whenever a source file changes (others editing worker/), and test runs take the cores.
 * A run that saw a restart, or where other processes averaged more than QUIET_CORES, is disturbed:
 * it is repeated, at most MAX_ATTEMPTS runs in all, and the least disturbed one is reported (the
 * report says how many were discarded and whether the one kept was disturbed).
 */
async function measure(label: string, clients: number, seconds: number, warmup: number, call: Call, serverPid: number | undefined): Promise<PhaseResult> {
  const unmeasured = new Map<number, number>();
  const errors: string[] = [];
  const keep = (r: PhaseResult) => {
    for (const s of r.samples) if (s.status !== 200 && s.status !== 204) unmeasured.set(s.status, (unmeasured.get(s.status) ?? 0) + 1);
    errors.push(...r.errors.slice(0, 5));
  };
  const runs: PhaseResult[] = [];
  const badness = (r: PhaseResult) => (r.serverCpu?.restarted ? 100 : 0) + otherCores(r);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    await awaitQuiet(label);
    if (warmup > 0) keep(await runPhase(clients, warmup, call, serverPid));
    const r = await runPhase(clients, seconds, call, serverPid);
    runs.push(r);
    if (badness(r) < QUIET_CORES) break;
    const why = r.serverCpu?.restarted
      ? "the server restarted during the run, as wrangler does when a source file changes"
      : `other processes kept ${otherCores(r).toFixed(2)} cores busy during the run`;
    console.log(`  (${label}: ${why}${attempt < MAX_ATTEMPTS ? "; measuring again" : ""})`);
    if (attempt < MAX_ATTEMPTS) await new Promise((ok) => setTimeout(ok, 3000));
  }
  const best = runs.reduce((a, b) => (badness(b) < badness(a) ? b : a));
  for (const r of runs) if (r !== best) keep(r);
  return { ...best, discarded: runs.length - 1, unmeasured, errors: [...errors, ...best.errors].slice(0, 10) };
}

interface Rate {
  ok: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  other: Map<number, number>;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function rateOf(r: PhaseResult, okStatus = 200): Rate {
  const ok = r.samples.filter((s) => s.inWindow && s.status === okStatus);
  const ms = ok.map((s) => s.ms).sort((a, b) => a - b);
  const other = new Map<number, number>();
  for (const s of r.samples) if (s.status !== okStatus) other.set(s.status, (other.get(s.status) ?? 0) + 1);
  return { ok: ok.length, perSecond: ok.length / r.seconds, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), max: ms.at(-1) ?? Number.NaN, other };
}

// ---------------------------------------------------------------------------------------------
// The load generator's HTTP client

/**
 * Keep-alive HTTP/1.1 over node:http, one socket per simulated annotator. The client shares the
 * 2 cores with the server, so it should cost as little as it can: `fetch` (undici's WHATWG layer
 * of Request, Headers and streams) spent ~1 ms of CPU per claim here, which the server then did
 * not get. Every phase uses this same client.
 */
function loopbackClient(port: number, sockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  return {
    request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string; serverTiming: string }> {
      return new Promise((ok, fail) => {
        const req = httpRequest(
          { host: "127.0.0.1", port, method, path, agent, headers: body === undefined ? headers : { ...headers, "content-length": Buffer.byteLength(body) }, timeout: REQUEST_TIMEOUT_MS },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => ok({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), serverTiming: String(res.headers["server-timing"] ?? "") }));
            res.on("error", fail);
          },
        );
        req.on("timeout", () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
        req.on("error", fail);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

// ---------------------------------------------------------------------------------------------
// One task count

interface Lease {
  taskId: string;
  imageId: string;
  subject: string;
  token: string;
}

interface DuplicateReport {
  clientLeases: number;
  clientTaskTwice: number;
  clientPersonTwice: number;
  dbLeased: number;
  dbLeasedTwice: number;
  dbPersonTwice: number;
  dbImageWorkers: number;
  dbWithoutImageWorker: number;
  ownerMismatch: number;
  total: number;
}

/** Claims per D1 batch as the server reported them (group commit), over a phase including its warm-up. */
interface BatchStats {
  claims: number;
  mean: number;
  max: number;
  alone: number;
}

function batchStats(sizes: number[]): BatchStats {
  const claims = sizes.length;
  return {
    claims,
    mean: claims ? sizes.reduce((a, b) => a + b, 0) / claims : Number.NaN,
    max: claims ? Math.max(...sizes) : Number.NaN,
    alone: claims ? sizes.filter((b) => b === 1).length / claims : Number.NaN,
  };
}

const batchLine = (b: BatchStats) => `claims per D1 batch: mean ${f1(b.mean)}, max ${b.max}, ${(b.alone * 100).toFixed(0)}% alone (over ${b.claims} claims incl. warm-up)`;

interface LadderStep {
  rate: number;
  step: Rate & { skipped: number };
  batches: BatchStats;
}

/** An offered rate is served within the aim: (nearly) all of it answered, none left unsent, p99 ≤ the aim. */
const withinAim = (rate: number, s: Rate & { skipped: number }) => s.skipped === 0 && s.perSecond >= 0.98 * rate && s.p99 <= TARGET.p99Ms;

/** The highest offered rate of the ladder served within the aim, or 0. */
const sustained = (ladder: LadderStep[]) => ladder.filter((l) => withinAim(l.rate, l.step)).reduce((m, l) => Math.max(m, l.rate), 0);

interface RunResult {
  n: number;
  seed: SeedResult;
  claims: Rate;
  claimPhase: PhaseResult;
  ceiling: Rate;
  ceilingPhase: PhaseResult;
  authRef: Rate;
  authRefPhase: PhaseResult;
  dryWindow: boolean;
  fixed: OpenLoopResult | null;
  fixedBatches: BatchStats | null;
  claimBatches: BatchStats;
  ladder: LadderStep[];
  dup: DuplicateReport;
  firstClaimsPerImage: number;
}

function checkDuplicates(file: string, leases: Lease[]): DuplicateReport {
  const byTask = new Map<string, number>();
  const byPerson = new Map<string, number>();
  for (const l of leases) {
    byTask.set(l.taskId, (byTask.get(l.taskId) ?? 0) + 1);
    const k = `${l.subject}\u0000${l.imageId}`;
    byPerson.set(k, (byPerson.get(k) ?? 0) + 1);
  }
  const clientTaskTwice = [...byTask.values()].filter((c) => c > 1).length;
  const clientPersonTwice = [...byPerson.values()].filter((c) => c > 1).length;

  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const one = (q: string, ...p: (string | number)[]) => Number((db.prepare(q).get(...p) as { n: number }).n);
    const dbLeased = one("SELECT COUNT(*) AS n FROM tasks WHERE project_id IN (?, ?, ?) AND round = 1 AND kind = 'edit' AND status = 'leased'", ...BENCH_PROJECTS);
    const dbLeasedTwice = one(
      "SELECT COUNT(*) AS n FROM (SELECT task_id FROM task_events WHERE to_status = 'leased' GROUP BY task_id HAVING COUNT(*) > 1)",
    );
    const dbPersonTwice = one(
      `SELECT COUNT(*) AS n FROM (
         SELECT image_id, lease_owner FROM tasks WHERE project_id IN (?, ?, ?) AND round = 1 AND kind = 'edit' AND status = 'leased' GROUP BY image_id, lease_owner HAVING COUNT(*) > 1)`,
      ...BENCH_PROJECTS,
    );
    const dbImageWorkers = one("SELECT COUNT(*) AS n FROM image_workers");
    const dbWithoutImageWorker = one(
      `SELECT COUNT(*) AS n FROM tasks t WHERE t.project_id IN (?, ?, ?) AND t.round = 1 AND t.kind = 'edit' AND t.status = 'leased'
         AND NOT EXISTS (SELECT 1 FROM image_workers w WHERE w.task_id = t.id AND w.subject = t.lease_owner)`,
      ...BENCH_PROJECTS,
    );
    const held = new Map<string, { owner: string; token: string }>();
    for (const row of db.prepare("SELECT id, lease_owner, lease_token FROM tasks WHERE project_id IN (?, ?, ?) AND round = 1 AND kind = 'edit' AND status = 'leased'").all(...BENCH_PROJECTS) as {
      id: string;
      lease_owner: string;
      lease_token: string;
    }[]) {
      held.set(row.id, { owner: row.lease_owner, token: row.lease_token });
    }
    const ownerMismatch = leases.filter((l) => held.get(l.taskId)?.owner !== l.subject || held.get(l.taskId)?.token !== l.token).length;
    return {
      clientLeases: leases.length,
      clientTaskTwice,
      clientPersonTwice,
      dbLeased,
      dbLeasedTwice,
      dbPersonTwice,
      dbImageWorkers,
      dbWithoutImageWorker,
      ownerMismatch,
      total: clientTaskTwice + clientPersonTwice + dbLeasedTwice + dbPersonTwice,
    };
  } finally {
    db.close();
  }
}

async function runOne(n: number, a: Args): Promise<RunResult> {
  const stateDir = mkdtempSync(join(tmpdir(), "groundwork-bench-claims-"));
  live.stateDir = stateDir;
  let serverLog = "";
  try {
    applyLocalMigrations(stateDir, true);
    const file = findD1File(stateDir);
    const seed = seedClaimBench(file, { projectId: PROJECT, tasks: n, tasksPerImage: a.perImage, segmentsPerImage: SEGMENTS_PER_IMAGE, createdBy: "bench-lead" });
    const rateTasks = a.rate > 0 ? Math.ceil(a.rate * (a.seconds + RATE_WARMUP_S) * 1.1) + a.clients : 0;
    if (rateTasks > 0) {
      // Ids a day older than the main project's, so the two seeds never share one.
      seedClaimBench(file, { projectId: RATE_PROJECT, tasks: rateTasks, tasksPerImage: a.perImage, segmentsPerImage: SEGMENTS_PER_IMAGE, createdBy: "bench-lead", idTimeMs: Date.now() - 86_400_000 });
    }
    const ladderTasks = a.ladder.reduce((sum, rate) => sum + Math.ceil(rate * (a.seconds + RATE_WARMUP_S) * 1.1), 0) + (a.ladder.length ? a.clients : 0);
    if (ladderTasks > 0) {
      seedClaimBench(file, { projectId: LADDER_PROJECT, tasks: ladderTasks, tasksPerImage: a.perImage, segmentsPerImage: SEGMENTS_PER_IMAGE, createdBy: "bench-lead", idTimeMs: Date.now() - 2 * 86_400_000 });
    }
    console.log(
      `seeded ${seed.tasks.toLocaleString("en-US")} open edit tasks, ${seed.images.toLocaleString("en-US")} images, ` +
        `${seed.segments.toLocaleString("en-US")} segments in ${(seed.ms / 1000).toFixed(2)} s (one transaction + ANALYZE)`,
    );

    // A fresh `wrangler dev` on the same state folder (a new Worker isolate, the same database).
    const startServer = async () => {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const server = startDevServer(port, stateDir, true, { devTracing: false });
      live.server = server;
      server.stderr?.on("data", (d: Buffer) => (serverLog = (serverLog + d.toString()).slice(-4000)));
      const t0 = performance.now();
      await waitForHealthy(base, server);
      console.log(`wrangler dev healthy on ${base} after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return { server, http: loopbackClient(port, a.clients) };
    };
    const stopLive = async () => {
      http.close();
      await stopServer(server);
      live.server = undefined;
    };
    let { server, http } = await startServer();

    const tokens = await Promise.all(Array.from({ length: a.clients }, (_, i) => devToken("annotator", BENCH_PROJECTS, `ann-${i}`)));
    const leadToken = await devToken("lead", [PROJECT], "bench-lead");
    const leases: Lease[] = [];
    const claimBody = JSON.stringify({ round: 1, kind: "edit" });
    // Batch sizes the server reported (Server-Timing) for the claims since the last reset.
    let batches: number[] = [];
    const claimIn = (project: string): Call => async (client) => {
      const res = await http.request("POST", `/v1/projects/${project}/tasks/next`, { authorization: `Bearer ${tokens[client]}`, "content-type": "application/json" }, claimBody);
      const batch = /batch of (\d+)/.exec(res.serverTiming)?.[1];
      if (batch) batches.push(Number(batch));
      if (res.status === 200) {
        const lease = JSON.parse(res.text) as { task_id: string; lease_token: string; image: { id: string } };
        leases.push({ taskId: lease.task_id, imageId: lease.image.id, subject: `ann-${client}`, token: lease.lease_token });
      } else if (res.status !== 204) {
        throw new Error(`claim answered ${res.status}: ${res.text.slice(0, 300)}`);
      }
      return { status: res.status };
    };
    const claim = claimIn(PROJECT);
    const get = (path: string, token?: string): Call => async () => {
      const res = await http.request("GET", path, token ? { authorization: `Bearer ${token}` } : {});
      if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${res.text.slice(0, 300)}`);
      return { status: res.status };
    };

    // The fixed-rate phase runs first, on the fresh server: after minutes of saturation the Worker
    // isolate carries a GC debt (objects of in-flight requests promoted to the old generation) that
    // shows up as 50-150 ms pauses for a while, which would be charged to this phase.
    let fixed: OpenLoopResult | null = null;
    let fixedBatches: BatchStats | null = null;
    if (a.rate > 0) {
      await awaitQuiet("fixed rate");
      await runOpenLoop(a.rate, RATE_WARMUP_S, claimIn(RATE_PROJECT), a.clients);
      batches = [];
      fixed = await runOpenLoop(a.rate, a.seconds, claimIn(RATE_PROJECT), a.clients);
      fixedBatches = batchStats(batches);
    }
    // The ceiling before the claims: it then runs on a server that has not just been saturated
    // with writes (see above), which can only raise it.
    const ceilingPhase = await measure("ceiling", a.clients, a.seconds, Math.min(a.warmup, 2), get("/healthz"), server.pid);
    batches = [];
    const claimPhase = await measure("claims", a.clients, a.seconds, a.warmup, claim, server.pid);
    const claimBatches = batchStats(batches);
    const claims = rateOf(claimPhase);
    const dryWindow = claimPhase.samples.some((s) => s.inWindow && s.status === 204);
    const authRefPhase = await measure("reference", a.clients, a.seconds, Math.min(a.warmup, 2), get(`/v1/projects/${PROJECT}`, leadToken), server.pid);

    // Last, the offered rates at which p99 stays within the aim, up to the first that does not, on
    // a freshly started server: the saturated phases leave the isolate a GC debt (see above) that
    // would otherwise be charged to the ladder.
    const ladder: LadderStep[] = [];
    if (a.ladder.length) {
      await stopLive();
      ({ server, http } = await startServer());
    }
    for (const rate of a.ladder) {
      if (interrupted()) break;
      await awaitQuiet(`ladder ${rate}/s`);
      await runOpenLoop(rate, RATE_WARMUP_S, claimIn(LADDER_PROJECT), a.clients);
      batches = [];
      const step = fixedRate(await runOpenLoop(rate, a.seconds, claimIn(LADDER_PROJECT), a.clients));
      ladder.push({ rate, step, batches: batchStats(batches) });
      if (!withinAim(rate, step)) break;
    }
    await stopLive();

    const dup = checkDuplicates(file, leases);
    const images = new Set(leases.map((l) => l.imageId)).size;
    return {
      n,
      seed,
      claims,
      claimPhase,
      ceiling: rateOf(ceilingPhase),
      ceilingPhase,
      authRef: rateOf(authRefPhase),
      authRefPhase,
      dryWindow,
      fixed,
      fixedBatches,
      claimBatches,
      ladder,
      dup,
      firstClaimsPerImage: leases.length ? images / leases.length : 0,
    };
  } catch (err) {
    if (serverLog) console.error(`wrangler dev output (tail):\n${serverLog}`);
    throw err;
  } finally {
    await cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");
const others = (r: Rate) => (r.other.size ? `; other answers: ${[...r.other].map(([s, c]) => `${s === -1 ? "error" : s}×${c}`).join(", ")}` : "");
/** Average cores busy during a phase: per server process, the bench client, everything else. */
function cpu(p: PhaseResult): string {
  const client = p.clientCpu / p.seconds;
  const restarts =
    (p.discarded ? `; ${p.discarded} disturbed run(s) discarded` : "") +
    (p.serverCpu?.restarted ? "; THE SERVER RESTARTED DURING THIS RUN: figures perturbed" : "") +
    (otherCores(p) >= QUIET_CORES ? "; OTHER PROCESSES COMPETED FOR THE CORES: figures perturbed" : "");
  if (!p.serverCpu) return `cpu: bench client ${client.toFixed(2)} cores${restarts}`;
  const parts = [...p.serverCpu.byName].filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
  const server = parts.reduce((s, [, v]) => s + v, 0) / p.seconds;
  const rest = Math.max(0, p.serverCpu.machine / p.seconds - server - client);
  return (
    `cpu (cores): server ${server.toFixed(2)} [${parts.map(([k, v]) => `${k} ${(v / p.seconds).toFixed(2)}`).join(", ")}], ` +
    `bench client ${client.toFixed(2)}, other processes ${rest.toFixed(2)}${restarts}`
  );
}

/** Successful answers per second of server CPU (all its processes): robust to what else runs. */
function perServerCore(rate: Rate, p: PhaseResult): number {
  if (!p.serverCpu) return Number.NaN;
  const server = [...p.serverCpu.byName.values()].reduce((x, y) => x + Math.max(0, y), 0);
  return server > 0 ? rate.ok / server : Number.NaN;
}

function printRun(r: RunResult, a: Args): void {
  const ratio = r.claims.perSecond / r.ceiling.perSecond;
  const d = r.dup;
  console.log(`\n== N = ${r.n.toLocaleString("en-US")} open tasks (${a.perImage} per image), ${a.clients} clients, ${a.seconds} s ==`);
  console.log(`seed time        ${(r.seed.ms / 1000).toFixed(2)} s`);
  console.log(
    `claims           ${f1(r.claims.perSecond)} claims/s   p50 ${f1(r.claims.p50)} ms   p99 ${f1(r.claims.p99)} ms   max ${f1(r.claims.max)} ms   ` +
      `(${r.claims.ok} leases in window${others(r.claims)})`,
  );
  console.log(`                 ${cpu(r.claimPhase)}; ${(r.firstClaimsPerImage * 100).toFixed(0)}% of leases were an image's first claim (which makes its draft)`);
  console.log(`                 ${batchLine(r.claimBatches)}`);
  console.log(`ceiling /healthz ${f1(r.ceiling.perSecond)} req/s   p50 ${f1(r.ceiling.p50)} ms   p99 ${f1(r.ceiling.p99)} ms${others(r.ceiling)}`);
  console.log(`                 ${cpu(r.ceilingPhase)}`);
  console.log(`ref GET project  ${f1(r.authRef.perSecond)} req/s   p50 ${f1(r.authRef.p50)} ms   p99 ${f1(r.authRef.p99)} ms   (token check + 2 queries)${others(r.authRef)}`);
  console.log(`                 ${cpu(r.authRefPhase)}`);
  const effClaims = perServerCore(r.claims, r.claimPhase);
  const effCeiling = perServerCore(r.ceiling, r.ceilingPhase);
  console.log(
    `per server core  claims ${f1(effClaims)}/core-s, /healthz ${f1(effCeiling)}/core-s, ratio ${f2(effClaims / effCeiling)} ` +
      `(served per second of server CPU: less sensitive to other load; for information)`,
  );
  console.log(
    `duplicates       leased twice: client ${d.clientTaskTwice}, db ${d.dbLeasedTwice};  person twice on an image: client ${d.clientPersonTwice}, db ${d.dbPersonTwice}`,
  );
  console.log(
    `                 leases seen by clients ${d.clientLeases}, leased in db ${d.dbLeased}, image_workers rows ${d.dbImageWorkers}, ` +
      `leased without image_workers row ${d.dbWithoutImageWorker}, client lease ≠ db owner/token ${d.ownerMismatch}`,
  );
  for (const [label, p] of [["claims", r.claimPhase], ["ceiling", r.ceilingPhase], ["reference", r.authRefPhase]] as const) {
    if (p.unmeasured.size) console.log(`${label}: failed answers outside the measured window: ${[...p.unmeasured].map(([s, c]) => `${s === -1 ? "error" : s}×${c}`).join(", ")}`);
    for (const e of new Set(p.errors)) console.log(`${label}: ${e}`);
  }
  if (r.fixed) {
    const f = fixedRate(r.fixed);
    console.log(
      `fixed rate       offered ${r.fixed.offered}/s, answered ${f1(f.perSecond)} claims/s   p50 ${f1(f.p50)} ms   p99 ${f1(f.p99)} ms   max ${f1(f.max)} ms   ` +
        `(open loop, latency from each request's due time${f.skipped ? `; ${f.skipped} not sent: ${MAX_IN_FLIGHT} in flight` : ""}${others(f)})`,
    );
    if (r.fixedBatches) console.log(`                 ${batchLine(r.fixedBatches)}`);
    for (const e of new Set(r.fixed.errors)) console.log(`fixed rate: ${e}`);
  }
  for (const l of r.ladder) {
    console.log(
      `rate ladder      offered ${l.rate}/s, answered ${f1(l.step.perSecond)} claims/s   p50 ${f1(l.step.p50)} ms   p99 ${f1(l.step.p99)} ms   max ${f1(l.step.max)} ms   ` +
        `${withinAim(l.rate, l.step) ? "within" : "beyond"} the aim${l.step.skipped ? `; ${l.step.skipped} not sent` : ""}${others(l.step)}; batch mean ${f1(l.batches.mean)}`,
    );
  }
  if (r.dryWindow) console.log(`WARNING          the queue ran dry during the measured window (204s): N is too small for this duration`);
  console.log(`target 0 duplicates                         ${verdict(d.total === 0 && d.ownerMismatch === 0)}  (${d.total})`);
  console.log(`target claims/s ≥ ${TARGET.claimsVsCeiling} × ceiling               ${verdict(ratio >= TARGET.claimsVsCeiling)}  (ratio ${f2(ratio)})`);
  console.log(`target p99 ≤ ${TARGET.p99Ms} ms                        ${verdict(r.claims.p99 <= TARGET.p99Ms)}  (${f1(r.claims.p99)} ms, ${a.clients} clients back to back)`);
  if (r.fixed) {
    const f = fixedRate(r.fixed);
    console.log(`  p99 at a fixed ${r.fixed.offered}/s   ${verdict(f.p99 <= TARGET.p99Ms)}  (${f1(f.p99)} ms; for information, see the fixed-rate line)`);
  }
  if (r.ladder.length) {
    const top = sustained(r.ladder);
    console.log(
      `  p99 ≤ ${TARGET.p99Ms} ms holds up to ${top ? `${top} claims/s offered (${f2(top / r.claims.perSecond)} × the saturated claim rate)` : `none of the ladder's rates`} ` +
        `(open loop, restarted server; for information)`,
    );
  }
}

/** The fixed-rate phase: answers per second achieved, latency from each request's due time. */
function fixedRate(r: OpenLoopResult): Rate & { skipped: number } {
  const ok = r.samples.filter((x) => x.inWindow && x.status === 200);
  const ms = ok.map((x) => x.ms).sort((x, y) => x - y);
  const other = new Map<number, number>();
  for (const x of r.samples) if (x.status !== 200) other.set(x.status, (other.get(x.status) ?? 0) + 1);
  return { ok: ok.length, perSecond: ok.length / r.seconds, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), max: ms.at(-1) ?? Number.NaN, other, skipped: r.skipped };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  ensureDevVars();
  console.log(`bench:claims  tasks=${a.tasks.join(",")} seconds=${a.seconds} clients=${a.clients} warmup=${a.warmup} per-image=${a.perImage}  (Node ${process.version})`);
  const results: RunResult[] = [];
  for (const n of a.tasks) {
    if (interrupted()) break;
    console.log(`\n-- N = ${n.toLocaleString("en-US")} --`);
    const r = await runOne(n, a);
    results.push(r);
    printRun(r, a);
  }
  if (results.length === 0) return;
  console.log(`\n== Summary ==`);
  for (const r of results) {
    console.log(
      `N=${String(r.n).padStart(8)}  seed ${(r.seed.ms / 1000).toFixed(2).padStart(6)} s  claims/s ${f1(r.claims.perSecond).padStart(7)}  p50 ${f1(r.claims.p50).padStart(6)} ms  ` +
        `p99 ${f1(r.claims.p99).padStart(6)} ms  dups ${r.dup.total}  ceiling ${f1(r.ceiling.perSecond).padStart(7)} req/s (p50 ${f1(r.ceiling.p50)} / p99 ${f1(r.ceiling.p99)} ms)  ` +
        `ratio ${f2(r.claims.perSecond / r.ceiling.perSecond)}` +
        (r.fixed ? `  at ${r.fixed.offered}/s: p50 ${f1(fixedRate(r.fixed).p50)} / p99 ${f1(fixedRate(r.fixed).p99)} ms` : "") +
        (r.ladder.length ? `  p99 ≤ ${TARGET.p99Ms} ms up to ${sustained(r.ladder)}/s` : ""),
    );
  }
  const small = results.reduce((m, r) => (r.n < m.n ? r : m));
  const large = results.reduce((m, r) => (r.n > m.n ? r : m));
  if (large.n !== small.n) {
    const scale = large.claims.perSecond / small.claims.perSecond;
    console.log(
      `  (per server core-second: ${f1(perServerCore(large.claims, large.claimPhase))} at ${large.n.toLocaleString("en-US")} vs ` +
        `${f1(perServerCore(small.claims, small.claimPhase))} at ${small.n.toLocaleString("en-US")}, ratio ` +
        `${f2(perServerCore(large.claims, large.claimPhase) / perServerCore(small.claims, small.claimPhase))}; for information)`,
    );
    // The two task counts run on two servers minutes apart, and this machine's speed drifts by more
    // than the 10 % at stake (the ceiling has moved 15-20 % between them): the verdict compares each
    // claim rate against the ceiling measured in its own run; the raw ratio is printed beside it.
    const sameRun = large.claims.perSecond / large.ceiling.perSecond / (small.claims.perSecond / small.ceiling.perSecond);
    console.log(
      `target claims/s at ${large.n.toLocaleString("en-US")} ≥ ${TARGET.largeVsSmall} × at ${small.n.toLocaleString("en-US")}   ${verdict(sameRun >= TARGET.largeVsSmall)}  ` +
        `(each against its own run's ceiling: ${f2(sameRun)}; raw claims/s ratio ${f2(scale)}, ceilings ${f1(large.ceiling.perSecond)} vs ${f1(small.ceiling.perSecond)} req/s)`,
    );
  }
  const allClean = results.every((r) => r.dup.total === 0 && r.dup.ownerMismatch === 0);
  if (!allClean) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  main()
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    })
    .finally(() => cleanup());
}
