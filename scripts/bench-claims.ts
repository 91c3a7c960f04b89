/**
 * Claim-throughput benchmark of the lease engine: many annotators calling
 * `POST /v1/projects/{id}/tasks/next` at once, against queues of different depths, for a project
 * that drafts with the template provider and one that drafts with a (mock) VLM.
 *
 *   node scripts/bench-claims.ts [--tasks=10000,1000000] [--providers=template,mock-vlm] [--seconds=10] [--clients=64]
 *     [--warmup=3] [--per-image=3] [--rate=200] [--half=1] [--ladder=100,150,200,250,300] [--budget-rate=1000]
 *
 * For each task count N and each provider, one after the other, each in a fresh temporary state folder:
 *  1. apply the D1 migrations, then seed the project `bench` straight into the SQLite file
 *     Miniflare uses (scripts/lib/seed-tasks.ts), in one transaction, then ANALYZE: categories,
 *     images with segments, and N open round-1 edit tasks (`--per-image` per image) plus what the
 *     phases below may take, so that every measured claim finds at least N open tasks in the
 *     queue (the report prints the queue's depth at each phase's start and end). `template`: tasks
 *     open as ingest leaves them (the start, the template's texts, is known at claim time).
 *     `mock-vlm`: the project drafts with an OpenAI-compatible model (the mock VLM of
 *     scripts/mock-vlm.ts, running on loopback during the run); each image has its finished
 *     round-1 draft and its tasks are open starting from it, as ingest (which asks for the draft
 *     and holds the tasks) and the batch that finishes the draft leave them; a claim returns the
 *     draft in its one statement. The mock VLM's request count is reported (a claim never calls it);
 *  2. start `wrangler dev` on a free loopback port;
 *  3. on the fresh server, claims at a fixed offered rate (`--rate` per second, open loop: each
 *     request is sent at its scheduled time whether or not earlier ones have answered, and its
 *     latency counts from that time). Closed-loop latency at saturation is queueing (clients ÷
 *     throughput); this is the latency an annotator sees when the server is not saturated;
 *  4. `--clients` annotators in a closed loop (each sends its next request when the last one
 *     answered) for `--seconds` against two ceilings: `GET /healthz` (one trivial D1 statement,
 *     sent alone) and `GET /healthz?via=group-commit` (the same statement through the claims'
 *     group commit, so it shares D1 batches as claims do: the ceiling claims are judged against);
 *  5. the same loop with the annotators (distinct subjects) claiming, after a `--warmup`, keeping
 *     every lease (nothing is released or submitted: only the claim is timed). The loop stops
 *     early (and says so) if it would take the queue below N (more than `--budget-rate` claims
 *     per second); then, for reference, against `GET /v1/projects/bench` (token check + two small
 *     queries);
 *  6. the server is stopped, the queue topped up (tasks appended at its tail) so it holds N plus
 *     what the next phases take, and a fresh server started: the saturated phases leave the
 *     isolate a GC debt that shows up as 50-150 ms pauses for a while, which would be charged to
 *     the latency phases. On it, claims offered open loop at half the saturated claim rate of
 *     step 5 (`--half=0`: none), then a ladder of offered rates (`--ladder`), climbed until p99
 *     exceeds the aim: the highest rate served within it;
 *  7. stop the server and check, from the client's records and from the database itself, that no
 *     task was leased twice, nobody holds two tasks of one image, and every lease has the
 *     image_workers row that keeps its holder off the image's other tasks.
 * Claims that reach the Worker together share a D1 batch (group commit); each claim's answer says
 * how many shared its batch and how many D1 statements and calls it made (`Server-Timing`), and
 * the report gives the means per phase.
 * Latency is what the client observes (performance.now() around the request, body read included);
 * the client is node:http with keep-alive sockets (scripts/lib/loopback-client.ts).
 * `--per-image=3` (the overlap sample's slot count) makes the "nobody twice on one image" rule bite.
 *
 * The machine may be shared: each measured run waits for the other processes to quiet down, and
 * a run during which wrangler restarted workerd (it does when a source file changes) or other
 * processes took the cores is repeated (at most 3 runs; the least disturbed is kept and flagged).
 * CPU per process comes from /proc (Linux). All traffic goes to 127.0.0.1. Servers are stopped
 * and state folders deleted, also on error and on Ctrl-C.
 */
import { resolve } from "node:path";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { cleanupBench, freshState, interrupted, removeState, serverLogTail, startBenchServer, stopBenchServer, atCleanup, type BenchServer } from "./lib/bench-server.ts";
import { checkLeases, duplicateLines, type DuplicateReport, type Lease } from "./lib/duplicates.ts";
import {
  awaitQuiet,
  batchLine,
  disturbed,
  otherCores,
  batchStats,
  cpuLine,
  f1,
  f2,
  MAX_ATTEMPTS,
  MAX_IN_FLIGHT,
  mean,
  measure,
  openLoopRate,
  others,
  perServerCore,
  printPhaseErrors,
  rateOf,
  runOpenLoop,
  verdict,
  type BatchStats,
  type Call,
  type OpenLoopResult,
  type PhaseResult,
  type Rate,
} from "./lib/load.ts";
import { TimingTally } from "./lib/loopback-client.ts";
import { openTasks, seedClaimBench, topUpTasks, type SeedOptions, type SeedResult } from "./lib/seed-tasks.ts";
import { startMockVlm } from "./mock-vlm.ts";
import { devToken } from "./token.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const PROJECT = "bench";
const SEGMENTS_PER_IMAGE = 4;
const RATE_WARMUP_S = 2;
/** The half-rate phase (the p99 aim's) is run again once if the shared machine disturbed it. */
const HALF_ATTEMPTS = 2;
const PROVIDERS = ["template", "mock-vlm"] as const;
type Provider = (typeof PROVIDERS)[number];

const USAGE =
  "[--tasks=10000,1000000] [--providers=template,mock-vlm] [--seconds=10] [--clients=64] [--warmup=3] [--per-image=3] [--rate=200] [--half=1] [--ladder=100,150,200,250,300] [--budget-rate=1000]";
/** The aims: claims/s against the batched trivial statement, 1M against 10K, p99 at half the saturated rate. */
const TARGET = { claimsVsCeiling: 0.8, largeVsSmall: 0.9, p99Ms: 100 };

interface Args {
  tasks: number[];
  providers: Provider[];
  seconds: number;
  clients: number;
  warmup: number;
  perImage: number;
  /** Offered claims per second of the fixed-rate phase (0: none). */
  rate: number;
  /** Offer half the saturated claim rate, open loop (the p99 aim's phase). */
  half: boolean;
  /** Offered rates, climbed on the restarted server until p99 exceeds the aim (empty: none). */
  ladder: number[];
  /** Claims per second the closed-loop phase may take from above N (warm-up included) before it stops early. */
  budgetRate: number;
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
    if (!/^--(tasks|providers|seconds|clients|warmup|per-image|rate|half|ladder|budget-rate)=/.test(a)) throw new Error(`unknown argument ${a}\nusage: node scripts/bench-claims.ts ${USAGE}`);
  }
  const tasks = (get("tasks") ?? "10000,1000000").split(",").map((s) => Number(s.replace(/_/g, "")));
  if (tasks.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000_000)) throw new Error("--tasks must be a comma-separated list of integers in 1..10000000");
  const providers = (get("providers") ?? PROVIDERS.join(",")).split(",") as Provider[];
  if (providers.length === 0 || providers.some((p) => !PROVIDERS.includes(p))) throw new Error(`--providers must be a comma-separated list of ${PROVIDERS.join(", ")}`);
  const ladderRaw = get("ladder") ?? "100,150,200,250,300";
  const ladder = ladderRaw === "" || ladderRaw === "0" ? [] : ladderRaw.split(",").map(Number);
  if (ladder.some((r) => !Number.isInteger(r) || r < 1 || r > 5000)) throw new Error("--ladder must be a comma-separated list of integers in 1..5000 (or 0 for none)");
  return {
    tasks,
    providers,
    seconds: int("seconds", 10, 1, 600),
    clients: int("clients", 64, 1, 1024),
    warmup: int("warmup", 3, 0, 60),
    perImage: int("per-image", 3, 1, 10),
    rate: int("rate", 200, 0, 5000),
    half: int("half", 1, 0, 1) === 1,
    ladder,
    budgetRate: int("budget-rate", 1000, 1, 100_000),
  };
}

// ---------------------------------------------------------------------------------------------
// One task count and provider

/** A queue's depth (open tasks in the bench project) when a phase started and ended. */
interface Depth {
  start: number;
  end: number;
}

/** Per-request D1 figures from Server-Timing over a phase (warm-up included). */
interface D1Figures {
  batches: BatchStats;
  statements: number;
  calls: number;
}

interface LadderStep {
  rate: number;
  result: OpenLoopResult;
  step: Rate & { skipped: number };
  d1: D1Figures;
  depth: Depth;
}

interface OpenPhase {
  result: OpenLoopResult;
  rate: Rate & { skipped: number };
  d1: D1Figures;
  depth: Depth;
}

interface RunResult {
  n: number;
  provider: Provider;
  seed: SeedResult;
  topUp: SeedResult | null;
  claims: Rate;
  claimPhase: PhaseResult;
  claimD1: D1Figures;
  claimDepth: Depth;
  ceiling: Rate;
  ceilingPhase: PhaseResult;
  batched: Rate;
  batchedPhase: PhaseResult;
  batchedD1: D1Figures;
  authRef: Rate;
  authRefPhase: PhaseResult;
  dryWindow: boolean;
  fixed: OpenPhase | null;
  halfRate: OpenPhase | null;
  ladder: LadderStep[];
  dup: DuplicateReport;
  /** Chat requests the mock VLM received during the run (mock-vlm only). */
  vlmRequests: number | null;
  /** Leases whose start was the project's drafts: 'template' or 'vlm' (and anything else, counted). */
  startSources: Map<string, number>;
}

/** An offered rate is served within the aim: (nearly) all of it answered, none left unsent, p99 ≤ the aim. */
const withinAim = (rate: number, s: Rate & { skipped: number }) => s.skipped === 0 && s.perSecond >= 0.98 * rate && s.p99 <= TARGET.p99Ms;

/** The highest offered rate of the ladder served within the aim, or 0. */
const sustained = (ladder: LadderStep[]) => ladder.filter((l) => withinAim(l.rate, l.step)).reduce((m, l) => Math.max(m, l.rate), 0);

const d1Of = (t: TimingTally): D1Figures => ({ batches: batchStats(t.batches), statements: mean(t.statements), calls: mean(t.calls) });

/** Claims an open loop may take: its warm-up and its window, at the offered rate. */
const openLoopTake = (rate: number, seconds: number) => Math.ceil(rate * (RATE_WARMUP_S + seconds));

async function runOne(n: number, provider: Provider, a: Args): Promise<RunResult> {
  const { stateDir, file } = freshState("groundwork-bench-claims-");
  const mock = provider === "mock-vlm" ? await startMockVlm({ host: "127.0.0.1" }) : null;
  const closeMock = mock ? atCleanup(() => mock.close()) : null;
  let server: BenchServer | null = null;
  try {
    const seedOptions: SeedOptions = {
      projectId: PROJECT,
      tasks: 0,
      tasksPerImage: a.perImage,
      segmentsPerImage: SEGMENTS_PER_IMAGE,
      createdBy: "bench-lead",
      settings: mock ? { vlm: { provider: "openai", baseUrl: mock.url, model: "mock-vlm", timeoutMs: 20_000 } } : {},
    };
    // N, plus what server A's phases may take: the fixed-rate loop, and the closed loop's budget.
    const closedBudget = a.budgetRate * (a.warmup + a.seconds) + a.clients;
    const firstTake = (a.rate > 0 ? openLoopTake(a.rate, a.seconds) : 0) + closedBudget;
    const seed = await seedClaimBench(file, { ...seedOptions, tasks: n + firstTake });
    console.log(
      `seeded ${seed.tasks.toLocaleString("en-US")} open edit tasks (N + ${firstTake.toLocaleString("en-US")} for the phases before the restart), ` +
        `${seed.images.toLocaleString("en-US")} images, ${seed.segments.toLocaleString("en-US")} segments` +
        (seed.drafts ? `, ${seed.drafts.toLocaleString("en-US")} ready VLM drafts` : "") +
        ` in ${(seed.ms / 1000).toFixed(2)} s (one transaction + ANALYZE)`,
    );
    let seeded = seed.tasks;

    const tokens = await Promise.all(Array.from({ length: a.clients }, (_, i) => devToken("annotator", [PROJECT], `ann-${i}`)));
    const leadToken = await devToken("lead", [PROJECT], "bench-lead");
    const leases: Lease[] = [];
    const startSources = new Map<string, number>();
    const depth = () => seeded - leases.length;
    const claimBody = JSON.stringify({ round: 1, kind: "edit" });
    // D1 figures the server reported (Server-Timing) since the last reset.
    const tally = new TimingTally();
    const claim: Call = async (client) => {
      const res = await server!.http.request("POST", `/v1/projects/${PROJECT}/tasks/next`, { authorization: `Bearer ${tokens[client]}`, "content-type": "application/json" }, claimBody);
      tally.add(res.serverTiming);
      if (res.status === 200) {
        const lease = JSON.parse(res.text) as { task_id: string; lease_token: string; image: { id: string }; start: { source: string } };
        leases.push({ taskId: lease.task_id, imageId: lease.image.id, subject: `ann-${client}`, token: lease.lease_token });
        startSources.set(lease.start.source, (startSources.get(lease.start.source) ?? 0) + 1);
      } else if (res.status !== 204) {
        throw new Error(`claim answered ${res.status}: ${res.text.slice(0, 300)}`);
      }
      return { status: res.status };
    };
    const get = (path: string, token?: string): Call => async () => {
      const res = await server!.http.request("GET", path, token ? { authorization: `Bearer ${token}` } : {});
      tally.add(res.serverTiming);
      if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${res.text.slice(0, 300)}`);
      return { status: res.status };
    };
    /** An open loop after its warm-up; repeated (up to `attempts` runs) while the shared machine disturbs it. */
    const openPhase = async (label: string, rate: number, attempts = 1): Promise<OpenPhase> => {
      let kept: OpenPhase | null = null;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        await awaitQuiet(label);
        const d0 = depth();
        await runOpenLoop(rate, RATE_WARMUP_S, claim, a.clients);
        tally.reset();
        const result = await runOpenLoop(rate, a.seconds, claim, a.clients, server!.child.pid);
        const run = { result: { ...result, discarded: attempt - 1 }, rate: openLoopRate(result), d1: d1Of(tally), depth: { start: d0, end: depth() } };
        if (!kept || otherCores(run.result) < otherCores(kept.result)) kept = run;
        if (!disturbed(result)) break;
        console.log(`  (${label}: disturbed by ${result.serverCpu?.restarted ? "a server restart" : `other processes (${otherCores(result).toFixed(2)} cores)`}${attempt < attempts ? "; measuring again" : ""})`);
      }
      return kept!;
    };

    // Server A. The fixed-rate phase runs first, on the fresh server (see 6. above).
    server = await startBenchServer(stateDir, a.clients);
    const fixed = a.rate > 0 ? await openPhase("fixed rate", a.rate) : null;
    // The ceilings before the claims: they then run on a server that has not just been saturated
    // with writes, which can only raise them.
    const ceilingPhase = await measure("ceiling", a.clients, a.seconds, Math.min(a.warmup, 2), get("/healthz"), server.child.pid);
    tally.reset();
    const batchedPhase = await measure("batched ceiling", a.clients, a.seconds, Math.min(a.warmup, 2), get("/healthz?via=group-commit"), server.child.pid);
    const batchedD1 = d1Of(tally);
    tally.reset();
    const claimDepth0 = depth();
    // Never below N: each client may have one claim in flight when the budget check passes.
    const claimPhase = await measure("claims", a.clients, a.seconds, a.warmup, claim, server.child.pid, { stop: () => depth() - a.clients <= n });
    const claimD1 = d1Of(tally);
    const claimDepth = { start: claimDepth0, end: depth() };
    const claims = rateOf(claimPhase);
    const dryWindow = claimPhase.samples.some((s) => s.inWindow && s.status === 204);
    const authRefPhase = await measure("reference", a.clients, a.seconds, Math.min(a.warmup, 2), get(`/v1/projects/${PROJECT}`, leadToken), server.child.pid);
    await stopBenchServer(server);
    server = null;

    // Server B, after a top-up: the queue holds N plus what the latency phases may take.
    const halfOffered = a.half ? Math.max(1, Math.round(claims.perSecond / 2)) : 0;
    const secondTake = (halfOffered ? HALF_ATTEMPTS * openLoopTake(halfOffered, a.seconds) : 0) + a.ladder.reduce((s, r) => s + openLoopTake(r, a.seconds), 0);
    let topUp: SeedResult | null = null;
    const open = openTasks(file, PROJECT);
    if (open !== depth()) console.log(`  (queue depth: ${open} open in the database, ${depth()} by the clients' count)`);
    seeded += open - depth(); // the database's count is the truth
    const missing = n + secondTake + a.clients - open;
    if (secondTake > 0 && missing > 0) {
      topUp = await topUpTasks(file, seed, seedOptions, missing);
      seeded += topUp.tasks - seed.tasks;
      console.log(`topped up ${(topUp.tasks - seed.tasks).toLocaleString("en-US")} tasks in ${(topUp.ms / 1000).toFixed(2)} s: ${depth().toLocaleString("en-US")} open`);
    }
    const ladder: LadderStep[] = [];
    let halfRate: OpenPhase | null = null;
    if (secondTake > 0) {
      server = await startBenchServer(stateDir, a.clients);
      if (halfOffered) halfRate = await openPhase(`half the saturated rate (${halfOffered}/s)`, halfOffered, HALF_ATTEMPTS);
      for (const rate of a.ladder) {
        if (interrupted()) break;
        const p = await openPhase(`ladder ${rate}/s`, rate);
        ladder.push({ rate, result: p.result, step: p.rate, d1: p.d1, depth: p.depth });
        if (!withinAim(rate, p.rate)) break;
      }
      await stopBenchServer(server);
      server = null;
    }

    const dup = checkLeases(file, [PROJECT], leases);
    const vlmRequests = mock ? ((await (await fetch(`${mock.origin}/__stats`)).json()) as { requests: number }).requests : null;
    return {
      n,
      provider,
      seed,
      topUp,
      claims,
      claimPhase,
      claimD1,
      claimDepth,
      ceiling: rateOf(ceilingPhase),
      ceilingPhase,
      batched: rateOf(batchedPhase),
      batchedPhase,
      batchedD1,
      authRef: rateOf(authRefPhase),
      authRefPhase,
      dryWindow,
      fixed,
      halfRate,
      ladder,
      dup,
      vlmRequests,
      startSources,
    };
  } catch (err) {
    const log = serverLogTail();
    if (log) console.error(`wrangler dev output (tail):\n${log}`);
    throw err;
  } finally {
    if (server) await stopBenchServer(server);
    await closeMock?.();
    removeState(stateDir);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const depthText = (d: Depth) => `queue ${d.start.toLocaleString("en-US")} → ${d.end.toLocaleString("en-US")} open`;
const d1Text = (d: D1Figures, what = "claims") =>
  `${batchLine(what, d.batches)}; D1 charged per request: ${f2(d.statements)} statements in ${f2(d.calls)} calls (a shared batch is charged to the request that sends it)`;

function openLine(label: string, p: OpenPhase): string {
  const f = p.rate;
  return (
    `${label.padEnd(16)} offered ${p.result.offered}/s, answered ${f1(f.perSecond)} claims/s   p50 ${f1(f.p50)} ms   p99 ${f1(f.p99)} ms   max ${f1(f.max)} ms   ` +
    `(open loop, latency from each request's due time; ${depthText(p.depth)}${f.skipped ? `; ${f.skipped} not sent: ${MAX_IN_FLIGHT} in flight` : ""}${others(f)})`
  );
}

const runName = (r: Pick<RunResult, "n" | "provider">) => `N = ${r.n.toLocaleString("en-US")}, ${r.provider}`;

function printRun(r: RunResult, a: Args): void {
  const vsBatched = r.claims.perSecond / r.batched.perSecond;
  const vsDirect = r.claims.perSecond / r.ceiling.perSecond;
  console.log(`\n== ${runName(r)}: ≥ N open tasks (${a.perImage} per image) in every phase, ${a.clients} clients, ${a.seconds} s ==`);
  console.log(`seed time        ${(r.seed.ms / 1000).toFixed(2)} s (${r.seed.tasks.toLocaleString("en-US")} tasks${r.topUp ? `; top-up ${(r.topUp.ms / 1000).toFixed(2)} s to ${r.topUp.tasks.toLocaleString("en-US")}` : ""})`);
  console.log(
    `claims           ${f1(r.claims.perSecond)} claims/s   p50 ${f1(r.claims.p50)} ms   p99 ${f1(r.claims.p99)} ms   max ${f1(r.claims.max)} ms   ` +
      `(${r.claims.ok} leases in ${f1(r.claimPhase.seconds)} s${r.claimPhase.stoppedEarly ? ", STOPPED EARLY: the next claims would have taken the queue below N (raise --budget-rate)" : ""}; ${depthText(r.claimDepth)}${others(r.claims)})`,
  );
  console.log(`                 ${cpuLine(r.claimPhase)}`);
  console.log(`                 ${d1Text(r.claimD1)}`);
  console.log(
    `                 starts: ${[...r.startSources].map(([s, c]) => `${s} ${c}`).join(", ")} (template: the start is known at claim time; vlm: the draft made at ingest, returned by the claim's statement)` +
      (r.vlmRequests !== null ? `; mock VLM chat requests during the run: ${r.vlmRequests}` : ""),
  );
  console.log(`ceiling batched  ${f1(r.batched.perSecond)} req/s   p50 ${f1(r.batched.p50)} ms   p99 ${f1(r.batched.p99)} ms   (GET /healthz?via=group-commit: SELECT 1 through group commit)${others(r.batched)}`);
  console.log(`                 ${cpuLine(r.batchedPhase)}`);
  console.log(`                 ${d1Text(r.batchedD1, "probes")}`);
  console.log(`ceiling direct   ${f1(r.ceiling.perSecond)} req/s   p50 ${f1(r.ceiling.p50)} ms   p99 ${f1(r.ceiling.p99)} ms   (GET /healthz: SELECT 1 alone)${others(r.ceiling)}`);
  console.log(`                 ${cpuLine(r.ceilingPhase)}`);
  console.log(`ref GET project  ${f1(r.authRef.perSecond)} req/s   p50 ${f1(r.authRef.p50)} ms   p99 ${f1(r.authRef.p99)} ms   (token check + 2 queries)${others(r.authRef)}`);
  console.log(`                 ${cpuLine(r.authRefPhase)}`);
  console.log(
    `ratios           claims ÷ batched ceiling ${f2(vsBatched)};  claims ÷ direct ceiling ${f2(vsDirect)};  batched ÷ direct ceiling ${f2(r.batched.perSecond / r.ceiling.perSecond)}`,
  );
  const effClaims = perServerCore(r.claims, r.claimPhase);
  const effBatched = perServerCore(r.batched, r.batchedPhase);
  console.log(
    `per server core  claims ${f1(effClaims)}/core-s, batched /healthz ${f1(effBatched)}/core-s, ratio ${f2(effClaims / effBatched)} ` +
      `(served per second of server CPU: less sensitive to other load; for information)`,
  );
  for (const line of duplicateLines(r.dup)) console.log(line);
  for (const [label, p] of [["claims", r.claimPhase], ["ceiling", r.ceilingPhase], ["batched ceiling", r.batchedPhase], ["reference", r.authRefPhase]] as const) printPhaseErrors(label, p);
  for (const [label, p] of [["fixed rate", r.fixed], ["half rate", r.halfRate]] as const) {
    if (!p) continue;
    console.log(openLine(label, p));
    console.log(`                 ${d1Text(p.d1)}`);
    console.log(`                 ${cpuLine(p.result)}`);
    for (const e of new Set(p.result.errors)) console.log(`${label}: ${e}`);
  }
  for (const l of r.ladder) {
    console.log(
      `rate ladder      offered ${l.rate}/s, answered ${f1(l.step.perSecond)} claims/s   p50 ${f1(l.step.p50)} ms   p99 ${f1(l.step.p99)} ms   max ${f1(l.step.max)} ms   ` +
        `${withinAim(l.rate, l.step) ? "within" : "beyond"} the aim${l.step.skipped ? `; ${l.step.skipped} not sent` : ""}${others(l.step)}; batch mean ${f1(l.d1.batches.mean)}; ${depthText(l.depth)}`,
    );
    console.log(`                 ${cpuLine(l.result)}`);
  }
  if (r.dryWindow) console.log(`WARNING          the queue ran dry during the measured window (204s)`);
  console.log(`target 0 duplicates                               ${verdict(r.dup.total === 0)}  (${r.dup.total})`);
  console.log(`target claims/s ≥ ${TARGET.claimsVsCeiling} × batched trivial statement   ${verdict(vsBatched >= TARGET.claimsVsCeiling)}  (${f1(r.claims.perSecond)} ÷ ${f1(r.batched.perSecond)} = ${f2(vsBatched)})`);
  if (r.halfRate) {
    const h = r.halfRate.rate;
    console.log(
      `target p99 ≤ ${TARGET.p99Ms} ms at half the saturated rate     ${verdict(withinAim(r.halfRate.result.offered, h))}  ` +
        `(${f1(h.p99)} ms at ${r.halfRate.result.offered}/s offered, ${f1(h.perSecond)}/s answered${h.skipped ? `, ${h.skipped} not sent` : ""}; restarted server)`,
    );
  }
  console.log(`  closed-loop p99 ${f1(r.claims.p99)} ms with ${a.clients} clients back to back (queueing at saturation; for information)`);
  if (r.ladder.length) {
    const top = sustained(r.ladder);
    console.log(
      `  p99 ≤ ${TARGET.p99Ms} ms holds up to ${top ? `${top} claims/s offered (${f2(top / r.claims.perSecond)} × the saturated claim rate)` : `none of the ladder's rates`} ` +
        `(open loop, restarted server; for information)`,
    );
  }
}

function printSummary(results: RunResult[]): void {
  console.log(`\n== Summary ==`);
  for (const r of results) {
    console.log(
      `${runName(r).padEnd(24)} seed ${(r.seed.ms / 1000).toFixed(1).padStart(6)} s  claims/s ${f1(r.claims.perSecond).padStart(7)}  p50 ${f1(r.claims.p50).padStart(6)} / p99 ${f1(r.claims.p99).padStart(6)} ms  ` +
        `dups ${r.dup.total}  batched ceiling ${f1(r.batched.perSecond).padStart(7)} req/s (p50 ${f1(r.batched.p50)} / p99 ${f1(r.batched.p99)} ms)  ` +
        `direct ceiling ${f1(r.ceiling.perSecond).padStart(7)} req/s (p50 ${f1(r.ceiling.p50)} / p99 ${f1(r.ceiling.p99)} ms)  ` +
        `ratio ${f2(r.claims.perSecond / r.batched.perSecond)} (vs direct ${f2(r.claims.perSecond / r.ceiling.perSecond)})` +
        (r.halfRate ? `  at ${r.halfRate.result.offered}/s (half): p50 ${f1(r.halfRate.rate.p50)} / p99 ${f1(r.halfRate.rate.p99)} ms` : "") +
        (r.fixed ? `  at ${r.fixed.result.offered}/s: p99 ${f1(r.fixed.rate.p99)} ms` : "") +
        (r.ladder.length ? `  p99 ≤ ${TARGET.p99Ms} ms up to ${sustained(r.ladder)}/s` : ""),
    );
  }
  for (const provider of PROVIDERS) {
    const mine = results.filter((r) => r.provider === provider);
    if (mine.length < 2) continue;
    const small = mine.reduce((m, r) => (r.n < m.n ? r : m));
    const large = mine.reduce((m, r) => (r.n > m.n ? r : m));
    const scale = large.claims.perSecond / small.claims.perSecond;
    console.log(
      `  ${provider}: per server core-second ${f1(perServerCore(large.claims, large.claimPhase))} at ${large.n.toLocaleString("en-US")} vs ` +
        `${f1(perServerCore(small.claims, small.claimPhase))} at ${small.n.toLocaleString("en-US")}, ratio ` +
        `${f2(perServerCore(large.claims, large.claimPhase) / perServerCore(small.claims, small.claimPhase))} (for information)`,
    );
    // The two task counts run on two servers minutes apart, and this machine's speed drifts by more
    // than the 10 % at stake: the verdict compares each claim rate against the batched ceiling
    // measured in its own run; the raw ratio is printed beside it.
    const sameRun = large.claims.perSecond / large.batched.perSecond / (small.claims.perSecond / small.batched.perSecond);
    console.log(
      `target ${provider} claims/s at ${large.n.toLocaleString("en-US")} ≥ ${TARGET.largeVsSmall} × at ${small.n.toLocaleString("en-US")}   ${verdict(sameRun >= TARGET.largeVsSmall)}  ` +
        `(each against its own run's batched ceiling: ${f2(sameRun)}; raw claims/s ratio ${f2(scale)} (${f1(large.claims.perSecond)} vs ${f1(small.claims.perSecond)}), ` +
        `batched ceilings ${f1(large.batched.perSecond)} vs ${f1(small.batched.perSecond)} req/s)`,
    );
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  ensureDevVars();
  console.log(
    `bench:claims  tasks=${a.tasks.join(",")} providers=${a.providers.join(",")} seconds=${a.seconds} clients=${a.clients} warmup=${a.warmup} per-image=${a.perImage} ` +
      `rate=${a.rate} half=${a.half ? 1 : 0} ladder=${a.ladder.join(",") || "none"} budget-rate=${a.budgetRate}  (Node ${process.version}; measured runs repeated up to ${MAX_ATTEMPTS}× when disturbed)`,
  );
  const results: RunResult[] = [];
  for (const n of a.tasks) {
    for (const provider of a.providers) {
      if (interrupted()) break;
      console.log(`\n-- N = ${n.toLocaleString("en-US")}, ${provider} --`);
      const r = await runOne(n, provider, a);
      results.push(r);
      printRun(r, a);
    }
  }
  if (results.length === 0) return;
  printSummary(results);
  if (!results.every((r) => r.dup.total === 0)) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  main()
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    })
    .finally(() => cleanupBench());
}
