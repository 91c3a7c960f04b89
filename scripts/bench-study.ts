/**
 * Pairwise-study benchmark: opening a study of 1,000 pairs × 5 votes, ballot claims against edit-task
 * claims in the same run, and the results of 5,000 votes, against `wrangler dev`.
 *
 *   node scripts/bench-study.ts [--clients=32] [--seconds=8] [--warmup=2] [--rounds=2] [--budget-rate=1000]
 *     [--pairs=1000] [--votes-per-pair=5] [--voter-pool=200] [--results-runs=7] [--resamples=1000]
 *
 *  1. apply the D1 migrations to a fresh temporary state folder and seed, straight into its SQLite
 *     file (scripts/lib/seed-study.ts, scripts/lib/seed-tasks.ts), three projects with distinct ids:
 *     - `study-bench`: `--pairs` images, 2 segments each, each with a final caption and a caption in
 *       the imported set `other` (its caption_uploads row too): the results study's images;
 *     - `study-claims`: the same, with enough images that the claim phases' study never runs out of
 *       ballots (its size is printed): a second, larger study used only by the ballot claims;
 *     - `study-tasks`: open round-1 edit tasks (3 per image, 4 segments each, template drafts), as
 *       many as the ballot side has ballots; then ANALYZE;
 *     and mint, before any server runs, one annotator token (project `study-tasks`) and one voter
 *     token (project `study-claims`) per claim the phases may make: every claim is by a principal
 *     that holds nothing yet (a voter who holds a ballot would get the same one back);
 *  2. start `wrangler dev` on a free loopback port; with a lead token,
 *     `POST /v1/projects/study-bench/studies` {sources final and import:other, votesPerPair 5, no
 *     gold, seed 1} and `POST /v1/studies/{id}/open` (timed: client latency, D1 statements from
 *     Server-Timing), expecting a plan of `--pairs` pairs and pairs × 5 ballots; then the same for
 *     the claim study (seed 2, for information);
 *  3. stop the server and pre-join every voter of the claim study (`study_voters` rows, votes 0),
 *     as a voter's first claim would (it would otherwise also insert the row), then start it again;
 *  4. `--clients` principals in a closed loop for `--seconds` after a `--warmup`, alternating
 *     task / ballot phases in ABBA order (`--rounds` of each): `POST /v1/projects/study-tasks/tasks/next` and
 *     `POST /v1/studies/{claim study}/ballots/next`, both with the body `{}`, each claim by the
 *     next unused principal, nothing released or voted (only the claim is timed). Each phase's
 *     claims/s, p50/p99 latency, D1 statements and calls per claim and group-commit batch sizes
 *     (Server-Timing `claim;desc="batch of N"`). A phase stops early (and says so) before its
 *     queue or its principals would run short of what the later phases need (more than
 *     `--budget-rate` claims per second). The aim: median ballot claims/s ≥ 0.9 × median task claims/s;
 *  5. stop the server and write, straight into SQLite, one vote on each of the results study's
 *     ballots: 5 distinct voters per pair from a pool of `--voter-pool`, the favoured source
 *     (final) winning ~60 % of the votes, ~15 % ties, a slight pull to the left caption, sides
 *     counterbalanced per voter, plausible times; ballots `voted` with their vote ids and
 *     pair_voters rows, the voters' and the study's counters set;
 *  6. start the server again and `GET /v1/studies/{id}/results?resamples=…` `--results-runs`
 *     times, one after the other: the Worker's own compute time (Server-Timing `results;dur=…`),
 *     the client latency, the D1 statements, and a few of the figures as a sanity check. The aim:
 *     compute ≤ 200 ms (median of the runs);
 *  7. stop the server and check from the database: no ballot leased twice, no pair with more than
 *     k leases or votes, no voter twice on one pair, every lease with its pair_voters row, the
 *     clients' leases held as they were told (tasks: scripts/lib/duplicates.ts), the counters.
 * Latency is what the client observes (performance.now() around each request, body read included)
 * over node:http keep-alive sockets (scripts/lib/loopback-client.ts).
 *
 * The machine may be shared: each measured phase waits for other processes to quiet down and is
 * repeated (at most 3 runs, the least disturbed kept and flagged) when workerd restarted or other
 * processes took the cores. All traffic goes to 127.0.0.1. The server is stopped and the state
 * folder deleted on exit, on error and on Ctrl-C.
 */
import { resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { cleanupBench, freshState, interrupted, removeState, serverLogTail, startBenchServer, stopBenchServer, type BenchServer } from "./lib/bench-server.ts";
import { checkLeases, duplicateLines, type DuplicateReport, type Lease } from "./lib/duplicates.ts";
import {
  awaitQuiet,
  batchLine,
  batchStats,
  cpuLine,
  f1,
  f2,
  latency,
  MAX_ATTEMPTS,
  mean,
  measure,
  others,
  perServerCore,
  printPhaseErrors,
  rateOf,
  verdict,
  type BatchStats,
  type Call,
  type PhaseResult,
  type Rate,
} from "./lib/load.ts";
import { parseServerTiming, TimingTally, type LoopbackClient } from "./lib/loopback-client.ts";
import { preJoinVoters, seedStudyProject, writeStudyVotes, type StudySeedResult, type VoteSeedResult } from "./lib/seed-study.ts";
import { seedClaimBench, type SeedResult } from "./lib/seed-tasks.ts";
import { devToken } from "./token.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const RESULTS_PROJECT = "study-bench";
const CLAIM_PROJECT = "study-claims";
const TASK_PROJECT = "study-tasks";
const IMPORT_NAME = "other";
const SOURCES = ["final", `import:${IMPORT_NAME}`];
const LEAD = "bench-lead";
const TASKS_PER_IMAGE = 3;
const TASK_SEGMENTS = 4;
/** Headroom on the claim capacity for phases repeated because the machine disturbed them. */
const CAPACITY_HEADROOM = 1.5;
/** The server's cap on a plan (worker/flows/study-open.ts MAX_PLAN_PAIRS). */
const MAX_PLAN_PAIRS = 20_000;
const DAY = 86_400_000;

const USAGE =
  "[--clients=32] [--seconds=8] [--warmup=2] [--rounds=2] [--budget-rate=1000] [--pairs=1000] [--votes-per-pair=5] [--voter-pool=200] [--results-runs=7] [--resamples=1000]";
/** The aims: ballot claims/s against task claims/s in the same run, and the results' compute time. */
const TARGET = { ballotVsTask: 0.9, resultsMs: 200 };

interface Args {
  clients: number;
  seconds: number;
  warmup: number;
  rounds: number;
  budgetRate: number;
  pairs: number;
  k: number;
  voterPool: number;
  resultsRuns: number;
  resamples: number;
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
    if (!/^--(clients|seconds|warmup|rounds|budget-rate|pairs|votes-per-pair|voter-pool|results-runs|resamples)=/.test(a)) {
      throw new Error(`unknown argument ${a}\nusage: node scripts/bench-study.ts ${USAGE}`);
    }
  }
  const a = {
    clients: int("clients", 32, 1, 1024),
    seconds: int("seconds", 8, 1, 600),
    warmup: int("warmup", 2, 0, 60),
    rounds: int("rounds", 2, 1, 10),
    budgetRate: int("budget-rate", 1000, 1, 20_000),
    pairs: int("pairs", 1000, 1, MAX_PLAN_PAIRS),
    k: int("votes-per-pair", 5, 1, 50),
    voterPool: int("voter-pool", 200, 1, 100_000),
    resultsRuns: int("results-runs", 7, 1, 100),
    resamples: int("resamples", 1000, 0, 10_000),
  };
  if (a.voterPool < a.k) throw new Error(`--voter-pool (${a.voterPool}) must be at least --votes-per-pair (${a.k})`);
  return a;
}

// ---------------------------------------------------------------------------------------------
// Sizes

interface Sizes {
  /** Claims one phase may take at the budget rate (warm-up and window), plus one in flight per client. */
  perPhase: number;
  /** Claims of each kind the run can serve: principals minted, and ballots (tasks) in the queue. */
  capacity: number;
  claimImages: number;
  claimBallots: number;
  tasks: number;
}

function sizesOf(a: Args): Sizes {
  const perPhase = Math.ceil(a.budgetRate * (a.warmup + a.seconds)) + a.clients;
  const need = Math.ceil(a.rounds * perPhase * CAPACITY_HEADROOM);
  const claimImages = Math.ceil(need / a.k);
  if (claimImages > MAX_PLAN_PAIRS) throw new Error(`the claim study would need ${claimImages} pairs, more than a plan may hold (${MAX_PLAN_PAIRS}): lower --budget-rate, --seconds or --rounds`);
  const claimBallots = claimImages * a.k;
  return { perPhase, capacity: claimBallots, claimImages, claimBallots, tasks: claimBallots };
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Timed {
  status: number;
  ms: number;
  text: string;
  serverTiming: string;
}

async function timed(http: LoopbackClient, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Timed> {
  const t = performance.now();
  const res = await http.request(method, path, headers, body);
  return { ...res, ms: performance.now() - t };
}

function expect(res: Timed, status: number, what: string): void {
  if (res.status !== status) throw new Error(`${what} answered ${res.status} (expected ${status}): ${res.text.slice(0, 400)}`);
}

/** `results;dur=12.3` from a Server-Timing header, in ms. */
function resultsDur(header: string): number | null {
  const m = /(?:^|,)\s*results;dur=([\d.]+)/.exec(header);
  return m ? Number(m[1]) : null;
}

interface Opened {
  studyId: string;
  createMs: number;
  open: Timed;
  plan: { images: number; pairs: number; gold_pairs: number; ballots: number; planted_skipped: number };
  d1: { statements: number | null; calls: number | null };
}

async function createAndOpen(http: LoopbackClient, lead: string, projectId: string, name: string, k: number, seed: number): Promise<Opened> {
  const auth = { authorization: `Bearer ${lead}`, "content-type": "application/json" };
  const design = { sources: SOURCES, votesPerPair: k, gold: { share: 0 }, seed };
  const created = await timed(http, "POST", `/v1/projects/${projectId}/studies`, auth, JSON.stringify({ name, question: "Which caption describes the image more accurately and in more detail?", design }));
  expect(created, 201, `POST /v1/projects/${projectId}/studies`);
  const studyId = (JSON.parse(created.text) as { id: string }).id;
  await awaitQuiet(`open ${projectId}`);
  const open = await timed(http, "POST", `/v1/studies/${studyId}/open`, { authorization: `Bearer ${lead}` });
  expect(open, 200, `POST /v1/studies/${studyId}/open`);
  const plan = (JSON.parse(open.text) as { plan: Opened["plan"] }).plan;
  const t = parseServerTiming(open.serverTiming);
  return { studyId, createMs: created.ms, open, plan, d1: { statements: t.statements, calls: t.calls } };
}

// ---------------------------------------------------------------------------------------------
// Claim phases

type Kind = "task" | "ballot";

/** Per-request D1 figures from Server-Timing over a phase (warm-up and repeated runs included). */
interface D1Figures {
  batches: BatchStats;
  statements: number;
  calls: number;
  /** Requests with a Server-Timing d1 entry. */
  n: number;
}

interface ClaimPhase {
  kind: Kind;
  round: number;
  phase: PhaseResult;
  rate: Rate;
  d1: D1Figures;
  /** Open ballots (tasks) left, by the clients' count, and principals used, at the phase's start and end. */
  depth: { start: number; end: number };
  principals: { start: number; end: number };
  /** Mean bytes of a 200 answer's body. */
  bodyBytes: number;
  /** 204s inside the measured window: the queue ran dry for someone. */
  dry: number;
}

const d1Of = (t: TimingTally): D1Figures => ({ batches: batchStats(t.batches), statements: mean(t.statements), calls: mean(t.calls), n: t.statements.length });

interface BallotLease {
  ballotId: string;
  voter: string;
  token: string;
}

// ---------------------------------------------------------------------------------------------
// Checks from the database (server stopped)

interface StudyChecks {
  ballots: number;
  byStatus: Record<string, number>;
  /** A ballot with more than one pair_voters row: leased to two voters (or twice). */
  leasedTwice: number;
  /** Pairs with more than k ballots leased or voted, more than k holdings, more than k votes. */
  pairsOverK: { leases: number; holdings: number; votes: number };
  /** (pair, voter) with more than one ballot, holding or vote. */
  voterTwice: { ballots: number; holdings: number; votes: number };
  /** A leased or voted ballot without the pair_voters row of its holder (the claim's NOT EXISTS reads it). */
  withoutHolding: number;
  /** Voted ballots without their vote, votes whose ballot is not voted with their id. */
  votedWithoutVote: number;
  voteWithoutBallot: number;
  votes: number;
  /** studies.votes and the sum of study_voters.votes, against the votes in the table. */
  studyCounter: number;
  voterCounters: number;
  /** Client leases (claim study): seen twice by the clients, and held in the database otherwise than the client was told. */
  clientTwice: number;
  ownerMismatch: number;
  /** Ballots leased in the database, against the leases the clients saw. */
  dbLeased: number;
  /** Leased or voted regular ballots showing the pair's second source on the left (for information: the claim's counterbalancing). */
  swapped: number;
  taken: number;
  clientLeases: number;
  total: number;
}

function checkStudy(file: string, studyId: string, k: number, leases: BallotLease[] | null): StudyChecks {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const one = (q: string) => Number((db.prepare(q).get(studyId) as { n: number }).n);
    const byStatus: Record<string, number> = {};
    for (const r of db.prepare("SELECT status, COUNT(*) AS n FROM ballots WHERE study_id = ? GROUP BY status").all(studyId) as { status: string; n: number }[]) byStatus[r.status] = Number(r.n);
    const inStudy = "pair_id IN (SELECT id FROM study_pairs WHERE study_id = ?)";
    const c: Omit<StudyChecks, "total"> = {
      ballots: one("SELECT COUNT(*) AS n FROM ballots WHERE study_id = ?"),
      byStatus,
      leasedTwice: one(`SELECT COUNT(*) AS n FROM (SELECT ballot_id FROM pair_voters WHERE ${inStudy} GROUP BY ballot_id HAVING COUNT(*) > 1)`),
      pairsOverK: {
        leases: one(`SELECT COUNT(*) AS n FROM (SELECT pair_id FROM ballots WHERE study_id = ? AND kind = 'pair' AND status != 'open' GROUP BY pair_id HAVING COUNT(*) > ${k})`),
        holdings: one(`SELECT COUNT(*) AS n FROM (SELECT pair_id FROM pair_voters WHERE ${inStudy} GROUP BY pair_id HAVING COUNT(*) > ${k})`),
        votes: one(`SELECT COUNT(*) AS n FROM (SELECT pair_id FROM votes WHERE study_id = ? AND kind = 'pair' GROUP BY pair_id HAVING COUNT(*) > ${k})`),
      },
      voterTwice: {
        ballots: one(`SELECT COUNT(*) AS n FROM (SELECT pair_id, lease_owner FROM ballots WHERE study_id = ? AND kind = 'pair' AND status != 'open' GROUP BY pair_id, lease_owner HAVING COUNT(*) > 1)`),
        holdings: one(`SELECT COUNT(*) AS n FROM (SELECT pair_id, voter FROM pair_voters WHERE ${inStudy} GROUP BY pair_id, voter HAVING COUNT(*) > 1)`),
        votes: one(`SELECT COUNT(*) AS n FROM (SELECT pair_id, voter FROM votes WHERE study_id = ? AND kind != 'repeat' GROUP BY pair_id, voter HAVING COUNT(*) > 1)`),
      },
      withoutHolding: one(
        `SELECT COUNT(*) AS n FROM ballots b WHERE b.study_id = ? AND b.kind = 'pair' AND b.status != 'open'
           AND NOT EXISTS (SELECT 1 FROM pair_voters w WHERE w.pair_id = b.pair_id AND w.voter = b.lease_owner AND w.ballot_id = b.id)`,
      ),
      votedWithoutVote: one(`SELECT COUNT(*) AS n FROM ballots b WHERE b.study_id = ? AND b.status = 'voted' AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.id = b.vote_id AND v.ballot_id = b.id)`),
      voteWithoutBallot: one(`SELECT COUNT(*) AS n FROM votes v WHERE v.study_id = ? AND NOT EXISTS (SELECT 1 FROM ballots b WHERE b.id = v.ballot_id AND b.status = 'voted' AND b.vote_id = v.id AND b.lease_owner = v.voter)`),
      votes: one("SELECT COUNT(*) AS n FROM votes WHERE study_id = ?"),
      studyCounter: one("SELECT votes AS n FROM studies WHERE id = ?"),
      voterCounters: one("SELECT COALESCE(SUM(votes), 0) AS n FROM study_voters WHERE study_id = ?"),
      clientTwice: 0,
      ownerMismatch: 0,
      dbLeased: one("SELECT COUNT(*) AS n FROM ballots WHERE study_id = ? AND status = 'leased'"),
      swapped: one("SELECT COUNT(*) AS n FROM ballots WHERE study_id = ? AND kind = 'pair' AND status != 'open' AND swapped = 1"),
      taken: one("SELECT COUNT(*) AS n FROM ballots WHERE study_id = ? AND kind = 'pair' AND status != 'open'"),
      clientLeases: leases?.length ?? 0,
    };
    if (leases) {
      const seen = new Map<string, number>();
      for (const l of leases) seen.set(l.ballotId, (seen.get(l.ballotId) ?? 0) + 1);
      c.clientTwice = [...seen.values()].filter((n) => n > 1).length;
      const held = new Map<string, { owner: string; token: string }>();
      for (const r of db.prepare("SELECT id, lease_owner, lease_token FROM ballots WHERE study_id = ? AND status = 'leased'").all(studyId) as { id: string; lease_owner: string; lease_token: string }[]) {
        held.set(r.id, { owner: r.lease_owner, token: r.lease_token });
      }
      c.ownerMismatch = leases.filter((l) => held.get(l.ballotId)?.owner !== l.voter || held.get(l.ballotId)?.token !== l.token).length;
    }
    const counters = Math.abs(c.studyCounter - c.votes) + Math.abs(c.voterCounters - c.votes);
    const total =
      c.leasedTwice + c.pairsOverK.leases + c.pairsOverK.holdings + c.pairsOverK.votes + c.voterTwice.ballots + c.voterTwice.holdings + c.voterTwice.votes +
      c.withoutHolding + c.votedWithoutVote + c.voteWithoutBallot + c.clientTwice + c.ownerMismatch + counters + (leases ? Math.abs(c.dbLeased - c.clientLeases) : 0);
    return { ...c, total };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The run

interface ResultsRun {
  status: number;
  clientMs: number;
  computeMs: number | null;
  statements: number | null;
  calls: number | null;
  bytes: number;
}

interface RunResult {
  sizes: Sizes;
  seeds: { results: StudySeedResult; claims: StudySeedResult; tasks: SeedResult; ms: number };
  tokenMs: number;
  resultsStudy: Opened;
  claimStudy: Opened;
  preJoined: number;
  phases: ClaimPhase[];
  taskDup: DuplicateReport;
  votes: VoteSeedResult;
  resultsRuns: ResultsRun[];
  results: ResultsFigures | null;
  checks: { results: StudyChecks; claims: StudyChecks };
}

/** What the results answer holds, as far as the report prints it. */
interface ResultsFigures {
  votes_counted: number;
  coverage: { pairs_planned: number; pairs_with_k_votes: number; share: number | null; votes: number };
  pairs: { a: string; b: string; wins: number; ties: number; losses: number; n: number; win_rate: { estimate: number; low: number; high: number } | null; sign_test_p: number | null }[];
  bradley_terry: { sources: { source: string; score: number | null; elo: number | null; low: number | null; high: number | null }[]; resamples: number; converged: boolean };
  davidson: { tie: number } | null;
  position_bias: { left_votes: number; decided_votes: number; share_left: { estimate: number; low: number; high: number } | null; p: number | null };
  agreement: { fleiss_kappa: number | null; fleiss_pairs: number; krippendorff_alpha: number | null };
  voters_table: { voter: string; flags: string[] }[];
}

async function run(a: Args): Promise<RunResult> {
  const sizes = sizesOf(a);
  const { stateDir, file } = freshState("groundwork-bench-study-");
  let server: BenchServer | null = null;
  try {
    // 1. Seed: the two study projects first, then the task project (whose seed runs ANALYZE over everything).
    const t0 = performance.now();
    const now = Date.now();
    const resultsSeed = seedStudyProject(file, { projectId: RESULTS_PROJECT, images: a.pairs, importName: IMPORT_NAME, createdBy: LEAD, idTimeMs: now - 2 * DAY, seed: 1 });
    const claimsSeed = seedStudyProject(file, { projectId: CLAIM_PROJECT, images: sizes.claimImages, importName: IMPORT_NAME, createdBy: LEAD, idTimeMs: now - DAY, seed: 2 });
    const tasksSeed = await seedClaimBench(file, { projectId: TASK_PROJECT, tasks: sizes.tasks, tasksPerImage: TASKS_PER_IMAGE, segmentsPerImage: TASK_SEGMENTS, createdBy: LEAD, idTimeMs: now });
    const seedMs = performance.now() - t0;
    console.log(
      `seeded ${RESULTS_PROJECT}: ${resultsSeed.images.toLocaleString("en-US")} images with final + import:${IMPORT_NAME} captions; ` +
        `${CLAIM_PROJECT}: ${claimsSeed.images.toLocaleString("en-US")} images (the claim study: ${sizes.claimBallots.toLocaleString("en-US")} ballots); ` +
        `${TASK_PROJECT}: ${tasksSeed.tasks.toLocaleString("en-US")} open edit tasks on ${tasksSeed.images.toLocaleString("en-US")} images; in ${(seedMs / 1000).toFixed(2)} s`,
    );

    // Principals: one per claim the phases may make, minted before any server runs.
    const t1 = performance.now();
    const annSubject = (i: number) => `ann-${String(i).padStart(6, "0")}`;
    const voterSubject = (i: number) => `stv-${String(i).padStart(6, "0")}`;
    const annTokens = await Promise.all(Array.from({ length: sizes.capacity }, (_, i) => devToken("annotator", [TASK_PROJECT], annSubject(i))));
    const voterTokens = await Promise.all(Array.from({ length: sizes.capacity }, (_, i) => devToken("voter", [CLAIM_PROJECT], voterSubject(i))));
    const lead = await devToken("lead", [RESULTS_PROJECT, CLAIM_PROJECT, TASK_PROJECT], LEAD);
    const tokenMs = performance.now() - t1;
    console.log(`minted ${sizes.capacity.toLocaleString("en-US")} annotator and ${sizes.capacity.toLocaleString("en-US")} voter tokens in ${(tokenMs / 1000).toFixed(1)} s`);

    // 2. Create and open the studies.
    server = await startBenchServer(stateDir, a.clients);
    const resultsStudy = await createAndOpen(server.http, lead, RESULTS_PROJECT, `bench: ${a.pairs} pairs × ${a.k}`, a.k, 1);
    console.log(`opened ${resultsStudy.studyId}: ${resultsStudy.plan.pairs} pairs, ${resultsStudy.plan.ballots} ballots in ${f1(resultsStudy.open.ms)} ms`);
    const claimStudy = await createAndOpen(server.http, lead, CLAIM_PROJECT, `bench claims: ${sizes.claimImages} pairs × ${a.k}`, a.k, 2);
    console.log(`opened ${claimStudy.studyId}: ${claimStudy.plan.pairs} pairs, ${claimStudy.plan.ballots} ballots in ${f1(claimStudy.open.ms)} ms`);
    if (claimStudy.plan.ballots !== sizes.claimBallots) throw new Error(`the claim study holds ${claimStudy.plan.ballots} ballots, expected ${sizes.claimBallots}`);
    await stopBenchServer(server);
    server = null;

    // 3. Every voter of the claim phases joined beforehand, as its first claim would have made it.
    const preJoined = preJoinVoters(file, claimStudy.studyId, Array.from({ length: sizes.capacity }, (_, i) => voterSubject(i)));
    console.log(`pre-joined ${preJoined.toLocaleString("en-US")} voters to ${claimStudy.studyId}`);

    // 4. Claim phases, alternating.
    server = await startBenchServer(stateDir, a.clients);
    const http = server.http;
    const taskLeases: Lease[] = [];
    const ballotLeases: BallotLease[] = [];
    let nextAnn = 0;
    let nextVoter = 0;
    let tally = new TimingTally();
    let bodyBytes = 0;
    let bodies = 0;
    const ok = (status: number, text: string) => {
      bodyBytes += Buffer.byteLength(text);
      bodies++;
      return status;
    };
    const taskClaim: Call = async () => {
      const i = nextAnn++;
      const res = await http.request("POST", `/v1/projects/${TASK_PROJECT}/tasks/next`, { authorization: `Bearer ${annTokens[i]}`, "content-type": "application/json" }, "{}");
      tally.add(res.serverTiming);
      if (res.status === 200) {
        const lease = JSON.parse(res.text) as { task_id: string; lease_token: string; image: { id: string } };
        taskLeases.push({ taskId: lease.task_id, imageId: lease.image.id, subject: annSubject(i), token: lease.lease_token });
        return { status: ok(200, res.text) };
      }
      if (res.status === 204) return { status: 204 };
      throw new Error(`task claim answered ${res.status}: ${res.text.slice(0, 300)}`);
    };
    const ballotClaim: Call = async () => {
      const i = nextVoter++;
      const res = await http.request("POST", `/v1/studies/${claimStudy.studyId}/ballots/next`, { authorization: `Bearer ${voterTokens[i]}`, "content-type": "application/json" }, "{}");
      tally.add(res.serverTiming);
      if (res.status === 200) {
        const b = JSON.parse(res.text) as { ballot_id: string; lease_token: string };
        ballotLeases.push({ ballotId: b.ballot_id, voter: voterSubject(i), token: b.lease_token });
        return { status: ok(200, res.text) };
      }
      if (res.status === 204) return { status: 204 };
      throw new Error(`ballot claim answered ${res.status}: ${res.text.slice(0, 300)}`);
    };
    const left = (kind: Kind) =>
      kind === "task" ? Math.min(tasksSeed.tasks - taskLeases.length, sizes.capacity - nextAnn) : Math.min(sizes.claimBallots - ballotLeases.length, sizes.capacity - nextVoter);
    // ABBA: task, ballot, ballot, task, …, so a drift over the run (an isolate's GC debt grows) weighs on both kinds alike.
    const order: Kind[] = Array.from({ length: a.rounds }, (_, r) => (r % 2 === 0 ? ["task", "ballot"] : ["ballot", "task"]) as Kind[]).flat();
    const phases: ClaimPhase[] = [];
    for (const [at, kind] of order.entries()) {
      if (interrupted()) break;
      const round = order.slice(0, at + 1).filter((k) => k === kind).length;
      // What the later phases of this kind need stays untouched; each client may have one claim in flight when the check passes.
      const reserve = order.slice(at + 1).filter((k) => k === kind).length * sizes.perPhase;
      const stop = () => left(kind) - reserve <= a.clients;
      const depth0 = kind === "task" ? tasksSeed.tasks - taskLeases.length : sizes.claimBallots - ballotLeases.length;
      const used0 = kind === "task" ? nextAnn : nextVoter;
      tally = new TimingTally();
      bodyBytes = 0;
      bodies = 0;
      const label = `${kind} claims #${round}`;
      console.log(`  ${label} …`);
      const phase = await measure(label, a.clients, a.seconds, a.warmup, kind === "task" ? taskClaim : ballotClaim, server.child.pid, { stop });
      phases.push({
        kind,
        round,
        phase,
        rate: rateOf(phase),
        d1: d1Of(tally),
        depth: { start: depth0, end: kind === "task" ? tasksSeed.tasks - taskLeases.length : sizes.claimBallots - ballotLeases.length },
        principals: { start: used0, end: kind === "task" ? nextAnn : nextVoter },
        bodyBytes: bodies ? bodyBytes / bodies : Number.NaN,
        dry: phase.samples.filter((s) => s.inWindow && s.status === 204).length,
      });
    }
    await stopBenchServer(server);
    server = null;
    const taskDup = checkLeases(file, [TASK_PROJECT], taskLeases);

    // 5. The results study's votes, straight into SQLite.
    const votes = writeStudyVotes(file, { studyId: resultsStudy.studyId, voterPool: a.voterPool, seed: 7, favoured: "final", tieShare: 0.15, leftPull: 0.06 });
    console.log(
      `wrote ${votes.votes.toLocaleString("en-US")} votes on ${votes.pairs.toLocaleString("en-US")} pairs by ${votes.voters} voters in ${f1(votes.ms)} ms ` +
        `(final ${votes.favouredWins}, import:${IMPORT_NAME} ${votes.otherWins}, ties ${votes.ties}; left caption chosen in ${votes.leftWins} of ${votes.favouredWins + votes.otherWins} decided)`,
    );

    // 6. Results, one request after the other.
    server = await startBenchServer(stateDir, a.clients);
    const resultsRuns: ResultsRun[] = [];
    let figures: ResultsFigures | null = null;
    for (let i = 0; i < a.resultsRuns && !interrupted(); i++) {
      await awaitQuiet(`results #${i + 1}`);
      const res = await timed(server.http, "GET", `/v1/studies/${resultsStudy.studyId}/results?resamples=${a.resamples}`, { authorization: `Bearer ${lead}` });
      expect(res, 200, `GET /v1/studies/${resultsStudy.studyId}/results`);
      const t = parseServerTiming(res.serverTiming);
      resultsRuns.push({ status: res.status, clientMs: res.ms, computeMs: resultsDur(res.serverTiming), statements: t.statements, calls: t.calls, bytes: Buffer.byteLength(res.text) });
      figures = JSON.parse(res.text) as ResultsFigures;
    }
    await stopBenchServer(server);
    server = null;

    // 7. The database's own account.
    const checks = { results: checkStudy(file, resultsStudy.studyId, a.k, null), claims: checkStudy(file, claimStudy.studyId, a.k, ballotLeases) };
    return {
      sizes,
      seeds: { results: resultsSeed, claims: claimsSeed, tasks: tasksSeed, ms: seedMs },
      tokenMs,
      resultsStudy,
      claimStudy,
      preJoined,
      phases,
      taskDup,
      votes,
      resultsRuns,
      results: figures,
      checks,
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

// ---------------------------------------------------------------------------------------------
// Report

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((x, y) => x - y);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const n0 = (x: number) => x.toLocaleString("en-US");
const interval = (i: { estimate: number; low: number; high: number } | null) => (i ? `${f2(i.estimate)} [${f2(i.low)}, ${f2(i.high)}]` : "n/a");
const num = (x: number | null, d = 3) => (x === null || !Number.isFinite(x) ? "n/a" : x.toFixed(d));
/** A p-value: fixed down to 0.001, then in exponent form (a tiny p is not 0). */
const pval = (p: number | null) => (p === null || !Number.isFinite(p) ? "n/a" : p >= 0.001 ? p.toFixed(4) : p.toExponential(2));

function openLines(label: string, o: Opened, k: number, expectedPairs: number | null): boolean {
  const p = o.plan;
  const okPlan = expectedPairs === null || (p.pairs === expectedPairs && p.ballots === expectedPairs * k && p.gold_pairs === 0);
  console.log(
    `${label.padEnd(16)} POST …/open ${f1(o.open.ms)} ms (client), D1 ${o.d1.statements ?? "?"} statements in ${o.d1.calls ?? "?"} calls; ` +
      `plan: ${n0(p.images)} images, ${n0(p.pairs)} pairs, ${p.gold_pairs} gold, ${n0(p.ballots)} ballots; create ${f1(o.createMs)} ms (${o.studyId})`,
  );
  return okPlan;
}

function phaseLines(p: ClaimPhase): void {
  const r = p.rate;
  console.log(
    `${`${p.kind} #${p.round}`.padEnd(16)} ${f1(r.perSecond).padStart(7)} claims/s   p50 ${f1(r.p50)} ms   p99 ${f1(r.p99)} ms   max ${f1(r.max)} ms   ` +
      `(${n0(r.ok)} in ${f1(p.phase.seconds)} s${p.phase.stoppedEarly ? ", STOPPED EARLY: the next claims would have left the later phases short (raise --budget-rate)" : ""}; ` +
      `${p.kind === "task" ? "open tasks" : "open ballots"} ${n0(p.depth.start)} → ${n0(p.depth.end)}; principals used ${n0(p.principals.start)} → ${n0(p.principals.end)}${p.dry ? `; ${p.dry} × 204 in the window: QUEUE DRY` : ""}${others(r)})`,
  );
  console.log(`                 ${cpuLine(p.phase)}`);
  console.log(
    `                 D1 per claim: ${f2(p.d1.statements)} statements in ${f2(p.d1.calls)} calls (over ${n0(p.d1.n)} incl. warm-up; a shared batch is charged to the request that sends it); ` +
      `${batchLine("claims", p.d1.batches).replace(/^claims per D1 batch/, "claims per batch")}; answer ${f1(p.bodyBytes / 1024)} KiB`,
  );
}

function checkLine(label: string, c: StudyChecks, withClients: boolean): void {
  console.log(
    `${label.padEnd(16)} ballots ${n0(c.ballots)} (${Object.entries(c.byStatus).map(([s, n]) => `${s} ${n0(n)}`).join(", ")}); leased twice ${c.leasedTwice}; ` +
      `pairs over k: leases ${c.pairsOverK.leases}, holdings ${c.pairsOverK.holdings}, votes ${c.pairsOverK.votes}; ` +
      `voter twice on a pair: ballots ${c.voterTwice.ballots}, pair_voters ${c.voterTwice.holdings}, votes ${c.voterTwice.votes}; lease without its pair_voters row ${c.withoutHolding}`,
  );
  console.log(
    `                 votes ${n0(c.votes)} (studies.votes ${n0(c.studyCounter)}, Σ study_voters.votes ${n0(c.voterCounters)}); voted ballot without its vote ${c.votedWithoutVote}, vote without its voted ballot ${c.voteWithoutBallot}` +
      `; second source on the left in ${n0(c.swapped)} of ${n0(c.taken)} taken ballots` +
      (withClients ? `; client leases ${n0(c.clientLeases)}, leased in db ${n0(c.dbLeased)}, seen twice by clients ${c.clientTwice}, client lease ≠ db owner/token ${c.ownerMismatch}` : ""),
  );
}

function report(r: RunResult, a: Args): boolean {
  console.log(`\n== Study open: ${n0(a.pairs)} images × sources ${SOURCES.join(" vs ")}, ${a.k} votes per pair, no gold ==`);
  const planOk = openLines("results study", r.resultsStudy, a.k, a.pairs);
  openLines("claim study", r.claimStudy, a.k, r.sizes.claimImages);
  console.log(`                 (the claim study serves only the claim phases: ${n0(r.sizes.claimBallots)} ballots, so that no ballot phase runs dry; ${n0(r.preJoined)} voters pre-joined)`);

  console.log(`\n== Claims: ${a.clients} clients, ${a.seconds} s after a ${a.warmup} s warm-up, task / ballot alternating, each claim by a principal holding nothing ==`);
  console.log(`                 tasks: POST /v1/projects/${TASK_PROJECT}/tasks/next {} (template drafts, ${TASKS_PER_IMAGE} per image, ${TASK_SEGMENTS} segments); ballots: POST /v1/studies/{claim study}/ballots/next {} (2 segments, 2 captions)`);
  for (const p of r.phases) phaseLines(p);
  const of = (kind: Kind) => r.phases.filter((p) => p.kind === kind);
  const task = median(of("task").map((p) => p.rate.perSecond));
  const ballot = median(of("ballot").map((p) => p.rate.perSecond));
  const ratio = ballot / task;
  const perCore = (kind: Kind) => median(of(kind).map((p) => perServerCore(p.rate, p.phase)));
  const d1 = (kind: Kind) => `${f2(mean(of(kind).map((p) => p.d1.statements)))} statements in ${f2(mean(of(kind).map((p) => p.d1.calls)))} calls, batch mean ${f1(mean(of(kind).map((p) => p.d1.batches.mean)))}`;
  console.log(`medians          task ${f1(task)} claims/s, ballot ${f1(ballot)} claims/s; ratio ${f2(ratio)}`);
  console.log(`per server core  task ${f1(perCore("task"))}/core-s, ballot ${f1(perCore("ballot"))}/core-s, ratio ${f2(perCore("ballot") / perCore("task"))} (claims per second of server CPU; for information)`);
  console.log(`D1 per claim     task: ${d1("task")};  ballot: ${d1("ballot")}`);
  for (const line of duplicateLines(r.taskDup)) console.log(line.replace(/^duplicates /, "task leases"));
  for (const p of r.phases) printPhaseErrors(`${p.kind} #${p.round}`, p.phase);
  const dryPhases = r.phases.filter((p) => p.dry > 0 || p.phase.stoppedEarly);

  console.log(`\n== Results: ${n0(r.votes.votes)} votes on ${n0(r.votes.pairs)} pairs, resamples=${a.resamples}, ${r.resultsRuns.length} requests one after the other ==`);
  const compute = r.resultsRuns.map((x) => x.computeMs ?? Number.NaN);
  const client = latency(r.resultsRuns.map((x) => x.clientMs));
  const computeMedian = median(compute);
  const computeMax = Math.max(...compute.filter(Number.isFinite));
  console.log(`compute          median ${f1(computeMedian)} ms, max ${f1(computeMax)} ms  (Server-Timing results;dur, the Worker's own time: ${compute.map(f1).join(", ")} ms)`);
  console.log(`client latency   median ${f1(median(r.resultsRuns.map((x) => x.clientMs)))} ms, max ${f1(client.max)} ms  (${r.resultsRuns.map((x) => f1(x.clientMs)).join(", ")} ms; answer ${f1(mean(r.resultsRuns.map((x) => x.bytes)) / 1024)} KiB)`);
  console.log(`D1               ${[...new Set(r.resultsRuns.map((x) => `${x.statements ?? "?"} statements in ${x.calls ?? "?"} calls`))].join(" / ")} per request`);
  const f = r.results;
  if (f) {
    console.log(`coverage         ${n0(f.coverage.pairs_with_k_votes)} of ${n0(f.coverage.pairs_planned)} pairs with k votes (share ${num(f.coverage.share, 2)}), ${n0(f.votes_counted)} votes counted`);
    for (const p of f.pairs) {
      console.log(`pair             ${p.a} vs ${p.b}: wins ${p.wins}, ties ${p.ties}, losses ${p.losses} (n ${p.n}); win rate ${interval(p.win_rate)}; sign test p ${pval(p.sign_test_p)}`);
    }
    console.log(
      `Bradley–Terry    ${f.bradley_terry.sources.map((s) => `${s.source} ${num(s.score)} [${num(s.low)}, ${num(s.high)}] (Elo ${num(s.elo, 0)})`).join(";  ")}; ${f.bradley_terry.resamples} resamples, converged ${f.bradley_terry.converged}` +
        (f.davidson ? `; Davidson tie ${num(f.davidson.tie)}` : ""),
    );
    console.log(`position bias    left chosen in ${f.position_bias.left_votes} of ${f.position_bias.decided_votes} decided votes, share ${interval(f.position_bias.share_left)}, p ${pval(f.position_bias.p)}`);
    console.log(`agreement        Fleiss κ ${num(f.agreement.fleiss_kappa)} over ${n0(f.agreement.fleiss_pairs)} pairs, Krippendorff α ${num(f.agreement.krippendorff_alpha)}; voters ${f.voters_table.length} (flagged ${f.voters_table.filter((v) => v.flags.length).length})`);
  }

  console.log(`\n== Integrity (from the database, server stopped) ==`);
  checkLine("results study", r.checks.results, false);
  checkLine("claim study", r.checks.claims, true);
  const problems = r.checks.results.total + r.checks.claims.total + r.taskDup.total;

  console.log(`\n== Verdicts ==`);
  console.log(`target plan ${n0(a.pairs)} pairs, ${n0(a.pairs * a.k)} ballots              ${verdict(planOk)}  (${n0(r.resultsStudy.plan.pairs)} pairs, ${n0(r.resultsStudy.plan.ballots)} ballots; open ${f1(r.resultsStudy.open.ms)} ms, ${r.resultsStudy.d1.statements ?? "?"} D1 statements)`);
  console.log(
    `target ballot claims/s ≥ ${TARGET.ballotVsTask} × task claims/s          ${verdict(ratio >= TARGET.ballotVsTask)}  (medians ${f1(ballot)} ÷ ${f1(task)} = ${f2(ratio)}` +
      `${dryPhases.length ? `; ${dryPhases.length} phase(s) stopped early or saw 204s` : ""}${r.phases.some((p) => p.phase.discarded > 0) ? "; some phases repeated because the machine disturbed them" : ""})`,
  );
  console.log(`target results compute ≤ ${TARGET.resultsMs} ms                  ${verdict(computeMedian <= TARGET.resultsMs)}  (median ${f1(computeMedian)} ms, max ${f1(computeMax)} ms ${computeMax <= TARGET.resultsMs ? "within" : "beyond"} the aim; resamples=${a.resamples})`);
  console.log(`target 0 duplicates / broken invariants         ${verdict(problems === 0)}  (${problems})`);
  return problems === 0;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  ensureDevVars();
  const s = sizesOf(a);
  console.log(
    `bench:study  clients=${a.clients} seconds=${a.seconds} warmup=${a.warmup} rounds=${a.rounds} budget-rate=${a.budgetRate} pairs=${a.pairs} votes-per-pair=${a.k} ` +
      `voter-pool=${a.voterPool} results-runs=${a.resultsRuns} resamples=${a.resamples}  (Node ${process.version}; measured runs repeated up to ${MAX_ATTEMPTS}× when disturbed; ` +
      `claim capacity ${n0(s.capacity)} per kind: ${n0(s.perPhase)} per phase)`,
  );
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
