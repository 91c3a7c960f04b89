/**
 * Load generation and its figures, shared by the benchmarks that drive `wrangler dev`
 * (bench-claims.ts, bench-cycle.ts): closed loops (each simulated client sends its next request
 * when the last one answered), open loops (requests sent at their scheduled time whatever the
 * earlier ones are doing), measurement runs repeated when the shared machine disturbed them, CPU
 * per process from /proc, rates and quantiles.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { awaitQuiet as waitForQuiet, USER_HZ } from "./machine.ts";

/** Hard cap on requests per client per phase, so every loop is bounded in count as well as time. */
export const MAX_REQUESTS_PER_CLIENT = 200_000;

// ---------------------------------------------------------------------------------------------
// CPU per process (Linux /proc)

/**
 * CPU seconds (user + system) of each process in the server's tree, and of the whole machine, from
 * /proc (Linux); null elsewhere. The machine total shows what else competed for the cores.
 */
export interface CpuSnapshot {
  procs: Map<number, { name: string; cpu: number }>;
  machine: number;
}

export interface CpuUse {
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

export function cpuSnapshot(rootPid: number | undefined): CpuSnapshot | null {
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

export function cpuDelta(a: CpuSnapshot | null, b: CpuSnapshot | null): CpuUse | null {
  if (!a || !b) return null;
  const byName = new Map<string, number>();
  for (const [pid, p] of b.procs) byName.set(p.name, (byName.get(p.name) ?? 0) + p.cpu - (a.procs.get(pid)?.cpu ?? 0));
  const workerd = (s: CpuSnapshot) => [...s.procs].filter(([, p]) => p.name.startsWith("workerd")).map(([pid]) => pid).sort().join(",");
  return { byName, machine: b.machine - a.machine, restarted: workerd(a) !== workerd(b) };
}

// ---------------------------------------------------------------------------------------------
// Closed loop

export interface Sample {
  status: number;
  ms: number;
  /** Completed inside the phase's window (counts towards rate and latency). */
  inWindow: boolean;
}

export interface PhaseResult {
  samples: Sample[];
  /** The measured window: the phase's duration, or less when its `stop` condition ended it early. */
  seconds: number;
  /** performance.now() at the window's start and end, for callers that time parts of a call. */
  startedAt: number;
  endedAt: number;
  /** The `stop` condition ended the window before its time. */
  stoppedEarly: boolean;
  errors: string[];
  clientCpu: number;
  serverCpu: CpuUse | null;
  /** Runs of this phase thrown away because the server restarted or the machine was busy during them. */
  discarded: number;
  /** Answers other than 200/204 and failures during warm-ups and discarded runs (status → count). */
  unmeasured: Map<number, number>;
}

export type Call = (client: number) => Promise<{ status: number }>;

export interface PhaseOptions {
  /** Checked before each request: true ends the phase (its window ends there), e.g. when a task budget is spent. */
  stop?: () => boolean;
}

/**
 * `clients` loops, each issuing `call` back to back until `seconds` have passed, the per-client
 * cap, or `stop()`. Requests still in flight at the end complete, but count only for their side effects.
 */
export async function runPhase(clients: number, seconds: number, call: Call, serverPid: number | undefined, o: PhaseOptions = {}): Promise<PhaseResult> {
  const raw: (Sample & { end: number })[] = [];
  const errors: string[] = [];
  const cpu0 = process.cpuUsage();
  const server0 = cpuSnapshot(serverPid);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let stoppedAt: number | null = null;
  const loop = async (client: number) => {
    for (let n = 0; n < MAX_REQUESTS_PER_CLIENT && performance.now() < deadline; n++) {
      if (stoppedAt !== null) break;
      if (o.stop?.()) {
        stoppedAt = performance.now();
        break;
      }
      const t = performance.now();
      let status = 0;
      try {
        status = (await call(client)).status;
      } catch (err) {
        if (errors.length < 20) errors.push((err as Error).message);
        status = -1;
      }
      const end = performance.now();
      raw.push({ status, ms: end - t, inWindow: end <= deadline, end });
      if (status !== 200 && status !== 201 && status !== 204) await new Promise((r) => setTimeout(r, 50)); // no hot loop on errors
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => loop(i)));
  const cpu = process.cpuUsage(cpu0);
  const server1 = cpuSnapshot(serverPid);
  const windowEnd = stoppedAt ?? deadline;
  return {
    samples: raw.map(({ end, ...s }) => ({ ...s, inWindow: end <= windowEnd })),
    seconds: (windowEnd - start) / 1000,
    startedAt: start,
    endedAt: windowEnd,
    stoppedEarly: stoppedAt !== null,
    errors,
    clientCpu: (cpu.user + cpu.system) / 1e6,
    serverCpu: cpuDelta(server0, server1),
    discarded: 0,
    unmeasured: new Map(),
  };
}

// ---------------------------------------------------------------------------------------------
// Open loop

/** Requests allowed in flight in an open loop; past this the client itself is the bottleneck. */
export const MAX_IN_FLIGHT = 1024;

export interface OpenLoopResult {
  offered: number;
  seconds: number;
  samples: Sample[];
  /** Requests not sent because MAX_IN_FLIGHT were already waiting (the server fell behind). */
  skipped: number;
  errors: string[];
  clientCpu: number;
  serverCpu: CpuUse | null;
  discarded: number;
}

/**
 * Open loop: request k is due at start + k / rate, sent then whatever the earlier ones are doing,
 * and its latency is measured from when it was due (so a late client cannot hide server delay).
 */
export async function runOpenLoop(rate: number, seconds: number, call: Call, clients: number, serverPid?: number): Promise<OpenLoopResult> {
  const samples: Sample[] = [];
  const errors: string[] = [];
  const cpu0 = process.cpuUsage();
  const server0 = cpuSnapshot(serverPid);
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
  const cpu = process.cpuUsage(cpu0);
  return { offered: rate, seconds, samples, skipped, errors, clientCpu: (cpu.user + cpu.system) / 1e6, serverCpu: cpuDelta(server0, cpuSnapshot(serverPid)), discarded: 0 };
}

// ---------------------------------------------------------------------------------------------
// Measured runs on a shared machine

export const MAX_ATTEMPTS = 3;
export const QUIET_CORES = 0.3;
const QUIET_MAX_WAIT_MS = 30_000;
export const awaitQuiet = (label: string) => waitForQuiet(label, { quietCores: QUIET_CORES, maxWaitMs: QUIET_MAX_WAIT_MS });

/** What CPU figures are known of a run, closed or open loop. */
type CpuOfRun = Pick<PhaseResult, "clientCpu" | "serverCpu" | "seconds" | "discarded">;

/** Average cores other processes (not the server, not this client) kept busy during a run. */
export function otherCores(r: CpuOfRun): number {
  if (!r.serverCpu) return 0;
  const server = [...r.serverCpu.byName.values()].reduce((a, b) => a + Math.max(0, b), 0);
  return Math.max(0, (r.serverCpu.machine - server - r.clientCpu) / r.seconds);
}

const isOk = (s: number) => s === 200 || s === 201 || s === 204;

/**
 * A measured phase, after a warm-up. The machine is shared: wrangler dev rebuilds and restarts
 * workerd whenever a source file changes (others editing worker/), and test runs take the cores.
 * A run that saw a restart, or where other processes averaged more than QUIET_CORES, is disturbed:
 * it is repeated, at most MAX_ATTEMPTS runs in all, and the least disturbed one is reported (the
 * report says how many were discarded and whether the one kept was disturbed). A run its `stop`
 * ended early is not repeated (whatever would stop it stops the next one too).
 */
export async function measure(label: string, clients: number, seconds: number, warmup: number, call: Call, serverPid: number | undefined, o: PhaseOptions = {}): Promise<PhaseResult> {
  const unmeasured = new Map<number, number>();
  const errors: string[] = [];
  const keep = (r: PhaseResult) => {
    for (const s of r.samples) if (!isOk(s.status)) unmeasured.set(s.status, (unmeasured.get(s.status) ?? 0) + 1);
    errors.push(...r.errors.slice(0, 5));
  };
  const runs: PhaseResult[] = [];
  const badness = (r: PhaseResult) => (r.serverCpu?.restarted ? 100 : 0) + otherCores(r);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    await awaitQuiet(label);
    if (warmup > 0) keep(await runPhase(clients, warmup, call, serverPid, o));
    const r = await runPhase(clients, seconds, call, serverPid, o);
    runs.push(r);
    if (badness(r) < QUIET_CORES || r.stoppedEarly) break;
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

// ---------------------------------------------------------------------------------------------
// Figures

export interface Rate {
  ok: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  other: Map<number, number>;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Latency quantiles of a list of durations (ms). */
export function latency(ms: number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) ?? Number.NaN, mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN };
}

export function rateOf(r: PhaseResult, okStatus = 200): Rate {
  const ok = r.samples.filter((s) => s.inWindow && s.status === okStatus);
  const ms = ok.map((s) => s.ms).sort((a, b) => a - b);
  const other = new Map<number, number>();
  for (const s of r.samples) if (s.status !== okStatus) other.set(s.status, (other.get(s.status) ?? 0) + 1);
  return { ok: ok.length, perSecond: ok.length / r.seconds, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), max: ms.at(-1) ?? Number.NaN, other };
}

/** An open loop: answers per second achieved, latency from each request's due time. */
export function openLoopRate(r: OpenLoopResult): Rate & { skipped: number } {
  const ok = r.samples.filter((x) => x.inWindow && x.status === 200);
  const ms = ok.map((x) => x.ms).sort((x, y) => x - y);
  const other = new Map<number, number>();
  for (const x of r.samples) if (x.status !== 200) other.set(x.status, (other.get(x.status) ?? 0) + 1);
  return { ok: ok.length, perSecond: ok.length / r.seconds, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), max: ms.at(-1) ?? Number.NaN, other, skipped: r.skipped };
}

/** Statements per D1 batch as the server reported them (group commit), over a phase including its warm-up. */
export interface BatchStats {
  requests: number;
  mean: number;
  max: number;
  alone: number;
}

export function batchStats(sizes: number[]): BatchStats {
  const requests = sizes.length;
  let max = Number.NaN;
  for (const s of sizes) if (!(s <= max)) max = s;
  return {
    requests,
    mean: requests ? sizes.reduce((a, b) => a + b, 0) / requests : Number.NaN,
    max,
    alone: requests ? sizes.filter((b) => b === 1).length / requests : Number.NaN,
  };
}

export const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

export const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");
export const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
export const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

export const batchLine = (what: string, b: BatchStats) =>
  `${what} per D1 batch: mean ${f1(b.mean)}, max ${b.max}, ${(b.alone * 100).toFixed(0)}% alone (over ${b.requests} incl. warm-up)`;

/** " other answers: 409×3" for what was not the expected status. */
export const others = (r: Pick<Rate, "other">) => (r.other.size ? `; other answers: ${[...r.other].map(([s, c]) => `${s === -1 ? "error" : s}×${c}`).join(", ")}` : "");

/** Average cores busy during a phase: per server process, the bench client, everything else. */
export function cpuLine(p: CpuOfRun): string {
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

/** A run the shared machine disturbed: workerd restarted, or other processes took the cores. */
export const disturbed = (r: CpuOfRun) => Boolean(r.serverCpu?.restarted) || otherCores(r) >= QUIET_CORES;

/** Successful answers per second of server CPU (all its processes): robust to what else runs. */
export function perServerCore(rate: Pick<Rate, "ok">, p: PhaseResult): number {
  if (!p.serverCpu) return Number.NaN;
  const server = [...p.serverCpu.byName.values()].reduce((x, y) => x + Math.max(0, y), 0);
  return server > 0 ? rate.ok / server : Number.NaN;
}

/** Failed answers outside the measured window and the errors of a phase, one line each. */
export function printPhaseErrors(label: string, p: PhaseResult): void {
  if (p.unmeasured.size) console.log(`${label}: failed answers outside the measured window: ${[...p.unmeasured].map(([s, c]) => `${s === -1 ? "error" : s}×${c}`).join(", ")}`);
  for (const e of new Set(p.errors)) console.log(`${label}: ${e}`);
}
