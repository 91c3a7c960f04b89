/**
 * Work-cycle benchmark: simulated annotators in a closed loop of claim → submit, the whole round-1
 * edit an annotator does, against `wrangler dev`.
 *
 *   node scripts/bench-cycle.ts [--tasks=10000] [--clients=64] [--seconds=10] [--warmup=3] [--per-image=3]
 *
 *  1. apply the D1 migrations to a fresh temporary state folder, then seed the project `cycle`
 *     (scripts/lib/seed-tasks.ts; template drafts, review ON: every submission also creates its
 *     review task) with `--tasks` open round-1 edit tasks, `--per-image` per image;
 *  2. start `wrangler dev` on a free loopback port;
 *  3. `--clients` annotators (distinct subjects) in a closed loop against
 *     `GET /healthz?via=group-commit` (one trivial D1 statement through the claims' group commit)
 *     for `--seconds`: the ceiling, measured in the same run;
 *  4. the same annotators in a closed loop of cycles for `--seconds` after a `--warmup`: claim
 *     (`POST /v1/projects/cycle/tasks/next`), then submit (`POST /v1/tasks/{id}/submissions`
 *     with an Idempotency-Key) accepting every region as it started (the lease's start texts);
 *     the next claim is sent when the submission answered. A cycle counts when its submission
 *     answered 201 inside the window. The loop stops early (and says so) before the queue runs dry;
 *  5. stop the server and check in D1: no task leased twice, no task submitted twice, nobody twice
 *     on one image (in the leases and in the submissions), one review task per submission, and as
 *     many submissions as the clients saw answered 201.
 * Each answer's `Server-Timing` gives its D1 statements and calls (and a claim's group-commit
 * batch); the report gives them per claim and per submit. Latency is what the client observes
 * (performance.now() around each request, body read included), over node:http keep-alive sockets.
 *
 * The machine may be shared: a measured run waits for other processes to quiet down and is repeated
 * (at most 3 runs, the least disturbed kept and flagged) when workerd restarted or other processes
 * took the cores. All traffic goes to 127.0.0.1; the server is stopped and the state folder deleted,
 * also on error and on Ctrl-C.
 */
import { resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { cleanupBench, freshState, removeState, serverLogTail, startBenchServer, stopBenchServer, type BenchServer } from "./lib/bench-server.ts";
import { checkLeases, duplicateLines, type DuplicateReport, type Lease } from "./lib/duplicates.ts";
import { batchLine, batchStats, cpuLine, f1, f2, latency, MAX_ATTEMPTS, mean, measure, others, printPhaseErrors, rateOf, verdict, type Call, type PhaseResult, type Rate } from "./lib/load.ts";
import { parseServerTiming } from "./lib/loopback-client.ts";
import { seedClaimBench, type SeedResult } from "./lib/seed-tasks.ts";
import { devToken } from "./token.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const PROJECT = "cycle";
const SEGMENTS_PER_IMAGE = 4;
const USAGE = "[--tasks=10000] [--clients=64] [--seconds=10] [--warmup=3] [--per-image=3]";
/** The aims: cycles/s against the batched trivial statement (a cycle is two requests), and no duplicates. */
const TARGET = { cyclesVsCeiling: 0.5 };

interface Args {
  tasks: number;
  clients: number;
  seconds: number;
  warmup: number;
  perImage: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = get(name)?.replace(/_/g, "");
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  for (const a of argv) {
    if (!/^--(tasks|clients|seconds|warmup|per-image)=/.test(a)) throw new Error(`unknown argument ${a}\nusage: node scripts/bench-cycle.ts ${USAGE}`);
  }
  return {
    tasks: int("tasks", 10_000, 1, 10_000_000),
    clients: int("clients", 64, 1, 1024),
    seconds: int("seconds", 10, 1, 600),
    warmup: int("warmup", 3, 0, 60),
    perImage: int("per-image", 3, 1, 10),
  };
}

/** One request of a cycle, as the client saw it. */
interface Step {
  kind: "claim" | "submit";
  status: number;
  ms: number;
  end: number;
  statements: number | null;
  calls: number | null;
  batch: number | null;
}

interface Lease1 {
  task_id: string;
  lease_token: string;
  image: { id: string };
  start: { source: string; texts: { segment_id: number; text: string }[] };
}

interface StoreChecks {
  submissions: number;
  submittedTwice: number;
  personTwiceInSubmissions: number;
  reviewTasks: number;
  submissionsWithoutReview: number;
  reviewsTwice: number;
  /** Submitted tasks whose status is not 'submitted' (or the other way round). */
  statusMismatch: number;
}

function checkStore(file: string): StoreChecks {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const one = (q: string) => Number((db.prepare(q).get() as { n: number }).n);
    return {
      submissions: one(`SELECT COUNT(*) AS n FROM submissions WHERE project_id = '${PROJECT}'`),
      submittedTwice: one(`SELECT COUNT(*) AS n FROM (SELECT task_id FROM submissions GROUP BY task_id HAVING COUNT(*) > 1)`),
      personTwiceInSubmissions: one(`SELECT COUNT(*) AS n FROM (SELECT image_id, round, subject FROM submissions GROUP BY image_id, round, subject HAVING COUNT(*) > 1)`),
      reviewTasks: one(`SELECT COUNT(*) AS n FROM tasks WHERE project_id = '${PROJECT}' AND kind = 'review'`),
      submissionsWithoutReview: one(`SELECT COUNT(*) AS n FROM submissions s WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.kind = 'review' AND t.submission_id = s.id)`),
      reviewsTwice: one(`SELECT COUNT(*) AS n FROM (SELECT submission_id FROM tasks WHERE kind = 'review' GROUP BY submission_id HAVING COUNT(*) > 1)`),
      statusMismatch:
        one(`SELECT COUNT(*) AS n FROM submissions s JOIN tasks t ON t.id = s.task_id WHERE t.status != 'submitted'`) +
        one(`SELECT COUNT(*) AS n FROM tasks t WHERE t.kind = 'edit' AND t.status = 'submitted' AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.task_id = t.id)`),
    };
  } finally {
    db.close();
  }
}

interface RunResult {
  seed: SeedResult;
  ceiling: Rate;
  ceilingPhase: PhaseResult;
  ceilingBatches: number[];
  cycles: Rate;
  cyclePhase: PhaseResult;
  steps: Step[];
  depth: { start: number; end: number };
  dup: DuplicateReport;
  store: StoreChecks;
  /** Submissions the clients saw answered 201, over the whole run (warm-ups and repeated runs included). */
  client201: number;
  startSources: Map<string, number>;
}

async function run(a: Args): Promise<RunResult> {
  const { stateDir, file } = freshState("groundwork-bench-cycle-");
  let server: BenchServer | null = null;
  try {
    const seed = await seedClaimBench(file, {
      projectId: PROJECT,
      tasks: a.tasks,
      tasksPerImage: a.perImage,
      segmentsPerImage: SEGMENTS_PER_IMAGE,
      createdBy: "bench-lead",
      settings: { review: { required: true } },
    });
    console.log(
      `seeded ${seed.tasks.toLocaleString("en-US")} open edit tasks, ${seed.images.toLocaleString("en-US")} images, ${seed.segments.toLocaleString("en-US")} segments ` +
        `in ${(seed.ms / 1000).toFixed(2)} s (template drafts, review on)`,
    );
    const tokens = await Promise.all(Array.from({ length: a.clients }, (_, i) => devToken("annotator", [PROJECT], `ann-${i}`)));
    server = await startBenchServer(stateDir, a.clients);
    const http = server.http;

    const ceilingBatches: number[] = [];
    const ceilingCall: Call = async () => {
      const res = await http.request("GET", "/healthz?via=group-commit", {});
      if (res.status !== 200) throw new Error(`GET /healthz?via=group-commit answered ${res.status}: ${res.text.slice(0, 300)}`);
      const b = parseServerTiming(res.serverTiming).batch;
      if (b !== null) ceilingBatches.push(b);
      return { status: 200 };
    };
    const ceilingPhase = await measure("ceiling", a.clients, a.seconds, Math.min(a.warmup, 2), ceilingCall, server.child.pid);

    const leases: Lease[] = [];
    const steps: Step[] = [];
    const startSources = new Map<string, number>();
    let client201 = 0;
    const claimBody = JSON.stringify({ round: 1, kind: "edit" });
    const timed = async (kind: Step["kind"], method: string, path: string, headers: Record<string, string>, body: string) => {
      const t = performance.now();
      const res = await http.request(method, path, headers, body);
      const end = performance.now();
      steps.push({ kind, status: res.status, ms: end - t, end, ...parseServerTiming(res.serverTiming) });
      return res;
    };
    const cycle: Call = async (client) => {
      const auth = { authorization: `Bearer ${tokens[client]}`, "content-type": "application/json" };
      const claimed = await timed("claim", "POST", `/v1/projects/${PROJECT}/tasks/next`, auth, claimBody);
      if (claimed.status === 204) return { status: 204 };
      if (claimed.status !== 200) throw new Error(`claim answered ${claimed.status}: ${claimed.text.slice(0, 300)}`);
      const lease = JSON.parse(claimed.text) as Lease1;
      leases.push({ taskId: lease.task_id, imageId: lease.image.id, subject: `ann-${client}`, token: lease.lease_token });
      startSources.set(lease.start.source, (startSources.get(lease.start.source) ?? 0) + 1);
      // Every region accepted as it started.
      const body = JSON.stringify({ lease_token: lease.lease_token, regions: lease.start.texts.map((t) => ({ segment_id: t.segment_id, action: "accepted", text: t.text })) });
      const submitted = await timed("submit", "POST", `/v1/tasks/${lease.task_id}/submissions`, { ...auth, "idempotency-key": `cycle-${lease.task_id}` }, body);
      if (submitted.status !== 201) throw new Error(`submit answered ${submitted.status}: ${submitted.text.slice(0, 300)}`);
      client201++;
      return { status: 200 };
    };
    const depth = () => seed.tasks - leases.length;
    const depth0 = depth();
    // Stop before the queue runs dry: each client may have one claim in flight when the check passes.
    const cyclePhase = await measure("cycles", a.clients, a.seconds, a.warmup, cycle, server.child.pid, { stop: () => depth() <= a.clients });
    const depthEnd = depth();
    await stopBenchServer(server);
    server = null;
    return {
      seed,
      ceiling: rateOf(ceilingPhase),
      ceilingPhase,
      ceilingBatches,
      cycles: rateOf(cyclePhase),
      cyclePhase,
      steps: steps.filter((s) => s.end >= cyclePhase.startedAt && s.end <= cyclePhase.endedAt),
      depth: { start: depth0, end: depthEnd },
      dup: checkLeases(file, [PROJECT], leases, { submitted: true }),
      store: checkStore(file),
      client201,
      startSources,
    };
  } catch (err) {
    const log = serverLogTail();
    if (log) console.error(`wrangler dev output (tail):\n${log}`);
    throw err;
  } finally {
    if (server) await stopBenchServer(server);
    removeState(stateDir);
  }
}

function stepLine(label: string, steps: Step[]): string {
  const ok = steps.filter((s) => s.status === 200 || s.status === 201);
  const l = latency(ok.map((s) => s.ms));
  const stmts = mean(ok.flatMap((s) => (s.statements === null ? [] : [s.statements])));
  const calls = mean(ok.flatMap((s) => (s.calls === null ? [] : [s.calls])));
  const batches = ok.flatMap((s) => (s.batch === null ? [] : [s.batch]));
  return (
    `${label.padEnd(16)} p50 ${f1(l.p50)} ms   p99 ${f1(l.p99)} ms   max ${f1(l.max)} ms   mean ${f1(l.mean)} ms   (${l.n} in window)   ` +
    `D1 charged: ${f2(stmts)} statements in ${f2(calls)} calls per request` +
    (batches.length ? `; group-commit batch mean ${f1(mean(batches))}` : "")
  );
}

function report(r: RunResult, a: Args): boolean {
  const ratio = r.cycles.perSecond / r.ceiling.perSecond;
  const s = r.store;
  const storeProblems = s.submittedTwice + s.personTwiceInSubmissions + s.submissionsWithoutReview + s.reviewsTwice + s.statusMismatch + Math.abs(s.submissions - r.client201) + Math.abs(s.reviewTasks - s.submissions);
  const dups = r.dup.total + storeProblems;
  console.log(`\n== ${a.clients} annotators, claim → submit (accept every region), ${a.tasks.toLocaleString("en-US")} tasks (${a.perImage} per image), review on, ${a.seconds} s ==`);
  console.log(`seed time        ${(r.seed.ms / 1000).toFixed(2)} s`);
  console.log(
    `cycles           ${f1(r.cycles.perSecond)} cycles/s   p50 ${f1(r.cycles.p50)} ms   p99 ${f1(r.cycles.p99)} ms   (claim + submit; ${r.cycles.ok} in ${f1(r.cyclePhase.seconds)} s` +
      `${r.cyclePhase.stoppedEarly ? ", STOPPED EARLY: the queue was about to run dry" : ""}; queue ${r.depth.start.toLocaleString("en-US")} → ${r.depth.end.toLocaleString("en-US")} open${others(r.cycles)})`,
  );
  console.log(`                 ${cpuLine(r.cyclePhase)}`);
  console.log(stepLine("  claim", r.steps.filter((x) => x.kind === "claim")));
  console.log(stepLine("  submit", r.steps.filter((x) => x.kind === "submit")));
  const ok = r.steps.filter((x) => x.status === 200 || x.status === 201);
  const sum = (k: "statements" | "calls") => ok.reduce((t, x) => t + (x[k] ?? 0), 0);
  const cycles = r.steps.filter((x) => x.kind === "submit" && x.status === 201).length;
  console.log(
    `                 D1 per cycle: ${f2(sum("statements") / cycles)} statements in ${f2(sum("calls") / cycles)} calls ` +
      `(Server-Timing charges a shared batch's statements and its one call to the request that sends it, as D1 counts them against that invocation: ` +
      `alone, a claim is 1 statement in 1 call and a submit 1 read + a batch of 4 in 2 calls)`,
  );
  console.log(`                 starts: ${[...r.startSources].map(([k, c]) => `${k} ${c}`).join(", ")}`);
  console.log(`ceiling batched  ${f1(r.ceiling.perSecond)} req/s   p50 ${f1(r.ceiling.p50)} ms   p99 ${f1(r.ceiling.p99)} ms   (GET /healthz?via=group-commit)${others(r.ceiling)}`);
  console.log(`                 ${cpuLine(r.ceilingPhase)}`);
  console.log(`                 ${batchLine("probes", batchStats(r.ceilingBatches))}`);
  for (const line of duplicateLines(r.dup)) console.log(line);
  console.log(
    `submissions      in db ${s.submissions}, answered 201 to the clients ${r.client201}; submitted twice ${s.submittedTwice}; person twice on an image ${s.personTwiceInSubmissions}; ` +
      `review tasks ${s.reviewTasks} (submissions without one ${s.submissionsWithoutReview}, with two ${s.reviewsTwice}); task status ≠ its submission ${s.statusMismatch}`,
  );
  printPhaseErrors("ceiling", r.ceilingPhase);
  printPhaseErrors("cycles", r.cyclePhase);
  console.log(`target 0 duplicates                          ${verdict(dups === 0)}  (${dups})`);
  console.log(`target cycles/s ≥ ${TARGET.cyclesVsCeiling} × batched trivial statement   ${verdict(ratio >= TARGET.cyclesVsCeiling)}  (${f1(r.cycles.perSecond)} ÷ ${f1(r.ceiling.perSecond)} = ${f2(ratio)})`);
  return dups === 0;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  ensureDevVars();
  console.log(`bench:cycle  tasks=${a.tasks} clients=${a.clients} seconds=${a.seconds} warmup=${a.warmup} per-image=${a.perImage}  (Node ${process.version}; measured runs repeated up to ${MAX_ATTEMPTS}× when disturbed)`);
  const r = await run(a);
  if (!report(r, a)) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  main()
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    })
    .finally(() => cleanupBench());
}
