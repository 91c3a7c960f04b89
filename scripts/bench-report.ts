/**
 * Report benchmark: the lead's report endpoints on a COCONut-PanCap-sized campaign against the same
 * campaign at 10,000 images, through `wrangler dev`.
 *
 *   node scripts/bench-report.ts [--images=118000] [--small=10000] [--annotators=500] [--days=90] [--overlap=0.05]
 *     [--runs=15] [--warmup=3] [--rebuild-large] [--no-screenshot] [--wait-minutes=25]
 *
 * For each size (the small one first), in a fresh temporary state folder with the D1 migrations applied:
 *  1. seed the campaign straight into the SQLite file (scripts/lib/seed-report.ts): images and ~12.7
 *     segments each, 90 days of drafts and model calls, tasks and their events, submissions by 500
 *     annotators, reviews, consolidations, agreement records of the 5 % overlap sample, final captions
 *     and a study's votes, in the Worker's order, in one transaction, so that the triggers of
 *     migrations 0012–0014 fill the counters as the Worker's writes would; the seeding time is printed;
 *  2. count the counter rows the reports read (per metric; daily vs total) and, as evidence of where a
 *     report's time goes, time in Node the same statement in SQLite alone and the pure report
 *     functions (worker/domain/*-report.ts) on its rows;
 *  3. start `wrangler dev` and, with a lead token, warm each endpoint up (`--warmup` requests), then
 *     time it `--runs` times, one request after the other: client latency (median, p90, max), the
 *     D1 statements from Server-Timing, the answer's size. Endpoints:
 *     GET /v1/projects/{id}/report, …/report/annotators?limit=100 (and &sort=edit_rate_mean),
 *     …/report/dataset, …/report/agreement;
 *  4. at the small size (and at the large one with --rebuild-large), `POST …/report/rebuild` once
 *     after the timing: the recount from the source tables must find no drift (the seed went
 *     through the triggers consistently).
 * The aims, per endpoint: median ≤ 250 ms at the large size, and ≤ 1.5 × its median at the small size.
 * After the large size's timings, its dashboard is opened in Debian's Chromium (loopback only) and
 * saved as /tmp/groundwork-dashboard-118k.png (`--no-screenshot`: not).
 *
 * The machine may be shared (2 cores): before a state folder is made or a server is started, the
 * bench waits for workerd/wrangler processes it did not start (at most --wait-minutes), and before
 * each endpoint's runs for the cores to quiet down. An endpoint whose warm-up takes over 5 s gets 3
 * runs (said so). The servers are stopped and the state folders deleted on exit, on error and on Ctrl-C.
 */
import { Agent, request as httpRequest } from "node:http";
import { agreementReport } from "../worker/domain/agreement-report.ts";
import { annotatorRows, sortAnnotators } from "../worker/domain/annotator-report.ts";
import { datasetReport } from "../worker/domain/dataset-report.ts";
import { progressReport } from "../worker/domain/progress-report.ts";
import { cleanupBench, freshState, removeState, serverLogTail, startBenchServer, stopBenchServer } from "./lib/bench-server.ts";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { waitForForeignServers } from "./lib/foreign-servers.ts";
import { awaitQuiet, quantile } from "./lib/load.ts";
import { parseServerTiming } from "./lib/loopback-client.ts";
import { counterCensus, readCounters, seedReportBench, type CounterCensus, type ReportSeedResult } from "./lib/seed-report.ts";
import { devToken } from "./token.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const LEAD = "bench-lead";
const TARGET = { medianMs: 250, ratio: 1.5 };
const SLOW_MS = 5000;
const SLOW_RUNS = 3;
const REQUEST_TIMEOUT_MS = 600_000;
const USAGE = "[--images=118000] [--small=10000] [--annotators=500] [--days=90] [--overlap=0.05] [--runs=15] [--warmup=3] [--rebuild-large] [--no-screenshot] [--wait-minutes=25]";

interface Args {
  images: number;
  small: number;
  annotators: number;
  days: number;
  overlap: number;
  runs: number;
  warmup: number;
  rebuildLarge: boolean;
  /** After timing the large project, a screenshot of its dashboard (Chromium); `--no-screenshot` skips it. */
  screenshot: boolean;
  waitMinutes: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const num = (name: string, fallback: number, min: number, max: number, integer = true) => {
    const raw = get(name)?.replace(/_/g, "");
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) throw new Error(`--${name} must be ${integer ? "an integer" : "a number"} in ${min}..${max}`);
    return n;
  };
  for (const a of argv) {
    if (!/^--(images|small|annotators|days|overlap|runs|warmup|wait-minutes)=/.test(a) && a !== "--rebuild-large" && a !== "--no-screenshot") {
      throw new Error(`unknown argument ${a}\nusage: node scripts/bench-report.ts ${USAGE}`);
    }
  }
  return {
    images: num("images", 118_000, 100, 2_000_000),
    small: num("small", 10_000, 100, 2_000_000),
    annotators: num("annotators", 500, 3, 100_000),
    days: num("days", 90, 30, 3650),
    overlap: num("overlap", 0.05, 0, 1, false),
    runs: num("runs", 15, 1, 1000),
    warmup: num("warmup", 3, 0, 100),
    rebuildLarge: argv.includes("--rebuild-large"),
    screenshot: !argv.includes("--no-screenshot"),
    waitMinutes: num("wait-minutes", 25, 0, 600),
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP (keep-alive, one socket, a timeout long enough for a slow report)

interface Answer {
  status: number;
  text: string;
  serverTiming: string;
  ms: number;
}

function client(port: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
      const t = performance.now();
      return new Promise((ok, fail) => {
        const req = httpRequest(
          { host: "127.0.0.1", port, method, path, agent, headers: body === undefined ? headers : { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) }, timeout: REQUEST_TIMEOUT_MS },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => ok({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), serverTiming: String(res.headers["server-timing"] ?? ""), ms: performance.now() - t }));
            res.on("error", fail);
          },
        );
        req.on("timeout", () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
        req.on("error", fail);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

// ---------------------------------------------------------------------------------------------
// One size

interface Endpoint {
  name: string;
  /** Not a report: the same auth and project lookup without the counters, the floor of a request (no verdict). */
  baseline?: boolean;
  path: (projectId: string) => string;
  /** A figure from the answer, to show that it is the report of the seeded project. */
  sanity: (body: unknown) => string;
}

type Json = Record<string, unknown>;

const ENDPOINTS: Endpoint[] = [
  {
    name: "(baseline) GET project",
    baseline: true,
    path: (p) => `/v1/projects/${p}`,
    sanity: (b) => `project ${(b as Json).id}`,
  },
  {
    name: "report",
    path: (p) => `/v1/projects/${p}/report`,
    sanity: (b) => {
      const r = b as Json & { rounds: { tasks: { accepted: number } }[]; per_day: unknown[]; vlm: unknown[]; eta: { days: number | null } };
      return `images ${r.images}, finals ${r.finals}, r1/r2 accepted ${r.rounds.map((x) => x.tasks.accepted).join("/")}, ${r.per_day.length} days, ${r.vlm.length} VLM rows, ETA ${r.eta.days === null ? "–" : r.eta.days.toFixed(1)} d`;
    },
  },
  {
    name: "annotators?limit=100",
    path: (p) => `/v1/projects/${p}/report/annotators?limit=100`,
    sanity: (b) => {
      const r = b as { items: { subject: string; tasks: number; rubber_stamp: boolean }[]; next_cursor: string | null };
      return `${r.items.length} rows, top ${r.items[0]?.subject} (${r.items[0]?.tasks} tasks), next ${r.next_cursor}`;
    },
  },
  {
    name: "annotators?sort=edit_rate_mean",
    path: (p) => `/v1/projects/${p}/report/annotators?limit=100&sort=edit_rate_mean`,
    sanity: (b) => {
      const r = b as { items: { subject: string; edit_rate_mean: number | null }[] };
      return `${r.items.length} rows, top edit rate ${r.items[0]?.edit_rate_mean?.toFixed(3)} (${r.items[0]?.subject})`;
    },
  },
  {
    name: "dataset",
    path: (p) => `/v1/projects/${p}/report/dataset`,
    sanity: (b) => {
      const r = b as { final_captions: number; words: { mean: number | null }; masks_per_image: number | null; top_nouns: { noun: string }[] };
      return `${r.final_captions} captions, ${r.words.mean?.toFixed(1)} words, ${r.masks_per_image?.toFixed(2)} masks/image, top nouns ${r.top_nouns.slice(0, 3).map((n) => n.noun).join(", ")}`;
    },
  },
  {
    name: "agreement",
    path: (p) => `/v1/projects/${p}/report/agreement`,
    sanity: (b) => {
      const r = b as { images: number; alpha_mean: number | null; members: string[]; matrix: unknown[] };
      return `${r.images} images, α ${r.alpha_mean?.toFixed(3)}, ${r.members.length} members, ${r.matrix.length} pairs in the matrix`;
    },
  },
];

interface Timing {
  name: string;
  baseline: boolean;
  n: number;
  slow: boolean;
  median: number;
  p90: number;
  max: number;
  statements: number | null;
  bytes: number;
  sanity: string;
}

interface SizeResult {
  label: string;
  images: number;
  seed: ReportSeedResult;
  census: CounterCensus;
  node: { name: string; ms: number; runs: number }[];
  timings: Timing[];
  drift: { drift: unknown[]; counters: number; people: number; ms: number } | null;
  disturbed: boolean;
}

const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);
const pad = (s: string | number, n: number) => String(s).padStart(n);
const padEnd = (s: string | number, n: number) => String(s).padEnd(n);

/** A pure function timed in Node: the median of up to 5 runs, a single run when it takes over 2 s. */
function timeNode(fn: () => unknown): { ms: number; runs: number } {
  const times: number[] = [];
  for (let k = 0; k < 5; k++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
    if (times[0] > 2000) break;
  }
  times.sort((a, b) => a - b);
  return { ms: quantile(times, 0.5), runs: times.length };
}

async function runSize(label: string, images: number, large: boolean, a: Args, now: number, lead: string): Promise<SizeResult> {
  const projectId = `report-${label.toLowerCase()}`;
  console.log(`\n=== ${label}: ${images.toLocaleString("en-US")} images, ${a.annotators} annotators, ${a.days} days (project ${projectId}) ===`);
  let disturbed = !(await waitForForeignServers(`${label} migrations`, a.waitMinutes * 60_000));
  const { stateDir, file } = freshState(`groundwork-bench-report-${label.toLowerCase()}-`);

  const seed = seedReportBench(file, {
    projectId,
    images,
    annotators: a.annotators,
    days: a.days,
    now,
    createdBy: LEAD,
    overlapShare: a.overlap,
    onProgress: (done, total) => process.stdout.write(`  seeding: ${done.toLocaleString("en-US")} / ${total.toLocaleString("en-US")} images\r`),
  });
  process.stdout.write("\n");
  console.log(
    `seeded in ${f1(seed.ms / 1000)} s (segments ${f1(seed.segmentsMs / 1000)} s of it, ANALYZE ${f1(seed.analyzeMs / 1000)} s), database ${f0(seed.fileBytes / 2 ** 20)} MiB`,
  );
  const order = ["images", "segments", "drafts", "vlm_calls", "dead_letters", "tasks", "task_events", "image_workers", "submissions", "reviews", "consolidations", "image_agreement", "final_captions", "final_caption_versions", "votes", "report_counters", "annotator_counters"];
  console.log(`  rows: ${order.map((t) => `${t} ${(seed.rows[t] ?? 0).toLocaleString("en-US")}`).join(", ")}`);

  // What the reports read, and where a report's time goes, outside the Worker.
  const census = counterCensus(file, projectId);
  console.log(
    `counter rows read by every report endpoint: report_counters ${census.total.toLocaleString("en-US")} (${census.daily.toLocaleString("en-US")} per-day rows), ` +
      `annotator_counters ${census.annotatorTotal.toLocaleString("en-US")} (${census.annotatorSubjects} subjects)`,
  );
  console.log(`  report_counters by metric (rows, of which per-day): ${census.byMetric.map((m) => `${m.metric} ${m.rows}${m.daily ? ` (${m.daily})` : ""}`).join(", ")}`);
  console.log(`  annotator_counters by metric: ${census.annotatorByMetric.map((m) => `${m.metric} ${m.rows}`).join(", ")}`);
  const { counters, people } = readCounters(file, projectId);
  const pairDims = new Set(counters.filter((r) => r.metric === "agree_pair_images" && r.day === "").map((r) => r.dim)).size;
  // Every report endpoint reads all of the project's rows; what each of them uses of them (by the metrics its function looks at):
  const isDataset = (m: string) => m.startsWith("ds_") || m === "noun" || m === "images" || m === "segments";
  const used = {
    report: counters.filter((r) => !r.metric.startsWith("ds_") && r.metric !== "noun" && !r.metric.startsWith("agree_")).length,
    dataset: counters.filter((r) => isDataset(r.metric) && r.day === "").length,
    agreement: counters.filter((r) => r.metric.startsWith("agree_")).length,
  };
  const share = (n: number) => `${n.toLocaleString("en-US")} (${((100 * n) / Math.max(1, counters.length)).toFixed(1)} %)`;
  console.log(
    `  of the ${counters.length.toLocaleString("en-US")} report_counters rows each request reads, /report uses ${share(used.report)}, /report/dataset ${share(used.dataset)}, ` +
      `/report/agreement ${share(used.agreement)} (agree_pair_* alone: ${share(counters.filter((r) => r.metric.startsWith("agree_pair_")).length)})`,
  );
  const node = [
    { name: "SQLite: SELECT … report_counters WHERE project_id (best of 5)", ms: census.readMs, runs: 5 },
    { name: "SQLite: SELECT … annotator_counters WHERE project_id (best of 5)", ms: census.annotatorReadMs, runs: 5 },
    { name: "progressReport(rows)", ...timeNode(() => progressReport(counters, now, {})) },
    { name: "annotatorRows + sortAnnotators(tasks)", ...timeNode(() => sortAnnotators(annotatorRows(people), "tasks", "desc")) },
    { name: "datasetReport(rows)", ...timeNode(() => datasetReport(counters)) },
    { name: `agreementReport(rows): ${pairDims.toLocaleString("en-US")} pairs × 5 scans of ${counters.length.toLocaleString("en-US")} rows`, ...timeNode(() => agreementReport(counters)) },
  ];
  console.log("in Node, without the Worker (evidence of where the time goes):");
  for (const x of node) console.log(`  ${padEnd(x.name, 92)} ${pad(f1(x.ms), 9)} ms${x.runs === 1 ? " (1 run)" : ""}`);

  disturbed = !(await waitForForeignServers(`${label} server`, a.waitMinutes * 60_000)) || disturbed;
  const server = await startBenchServer(stateDir, 1);
  const http = client(server.port);
  const auth = { authorization: `Bearer ${lead}`, accept: "application/json" };
  const timings: Timing[] = [];
  let drift: SizeResult["drift"] = null;
  try {
    for (const e of ENDPOINTS) {
      await awaitQuiet(`${label} ${e.name}`);
      const path = e.path(projectId);
      let slow = false;
      let last: Answer | null = null;
      for (let k = 0; k < a.warmup; k++) {
        last = await http.request("GET", path, auth);
        if (last.status !== 200) throw new Error(`GET ${path} answered ${last.status}: ${last.text.slice(0, 400)}`);
        if (last.ms > SLOW_MS) {
          slow = true;
          console.log(`  (${e.name}: a warm-up request took ${f1(last.ms / 1000)} s: ${SLOW_RUNS} runs instead of ${a.runs})`);
          break;
        }
      }
      const runs = slow ? SLOW_RUNS : a.runs;
      const ms: number[] = [];
      const statements: number[] = [];
      for (let k = 0; k < runs; k++) {
        last = await http.request("GET", path, auth);
        if (last.status !== 200) throw new Error(`GET ${path} answered ${last.status}: ${last.text.slice(0, 400)}`);
        ms.push(last.ms);
        const st = parseServerTiming(last.serverTiming).statements;
        if (st !== null) statements.push(st);
      }
      ms.sort((x, y) => x - y);
      const t: Timing = {
        name: e.name,
        baseline: e.baseline ?? false,
        n: runs,
        slow,
        median: quantile(ms, 0.5),
        p90: quantile(ms, 0.9),
        max: ms[ms.length - 1],
        statements: statements.length ? Math.max(...statements) : null,
        bytes: Buffer.byteLength(last!.text),
        sanity: e.sanity(JSON.parse(last!.text)),
      };
      timings.push(t);
      console.log(
        `  ${padEnd(e.name, 32)} median ${pad(f1(t.median), 8)} ms  p90 ${pad(f1(t.p90), 8)}  max ${pad(f1(t.max), 8)}  (n=${t.n}, ${t.statements ?? "?"} D1 statements, ${(t.bytes / 1024).toFixed(1)} KiB)  ${t.sanity}`,
      );
    }
    if (large && a.screenshot) await screenshotDashboard(server.port, projectId, lead);
    if (!large || a.rebuildLarge) {
      const res = await http.request("POST", `/v1/projects/${projectId}/report/rebuild`, auth, "{}");
      if (res.status !== 200) throw new Error(`POST rebuild answered ${res.status}: ${res.text.slice(0, 400)}`);
      const body = JSON.parse(res.text) as { drift: unknown[]; counters: number; people: number };
      drift = { ...body, ms: res.ms };
      console.log(
        `  rebuild: drift ${JSON.stringify(body.drift.slice(0, 5))}${body.drift.length > 5 ? ` … (${body.drift.length} in all)` : ""}; ${body.counters.toLocaleString("en-US")} counters, ${body.people.toLocaleString("en-US")} person counters recounted in ${f1(res.ms)} ms (${parseServerTiming(res.serverTiming).statements ?? "?"} D1 statements)`,
      );
    }
  } catch (err) {
    console.error(serverLogTail());
    throw err;
  } finally {
    http.close();
    await stopBenchServer(server);
    removeState(stateDir);
  }
  return { label, images, seed, census, node, timings, drift, disturbed };
}

function summary(small: SizeResult, large: SizeResult): boolean {
  console.log(`\n=== Summary: each report ≤ ${TARGET.medianMs} ms at ${large.images.toLocaleString("en-US")} images, and ≤ ${TARGET.ratio}× the same report at ${small.images.toLocaleString("en-US")} ===`);
  console.log(
    `seeding: ${small.label} ${f1(small.seed.ms / 1000)} s, ${large.label} ${f1(large.seed.ms / 1000)} s (${large.seed.segments.toLocaleString("en-US")} segments); ` +
      `counter rows read per request: ${small.label} ${small.census.total.toLocaleString("en-US")} + ${small.census.annotatorTotal.toLocaleString("en-US")}, ` +
      `${large.label} ${large.census.total.toLocaleString("en-US")} + ${large.census.annotatorTotal.toLocaleString("en-US")} (report_counters + annotator_counters)`,
  );
  console.log(`${padEnd("endpoint", 32)} ${pad(`${large.label} med`, 10)} ${pad("p90", 8)} ${pad("max", 8)} ${pad(`${small.label} med`, 10)} ${pad("ratio", 7)}  ≤${TARGET.medianMs} ms  ≤${TARGET.ratio}×`);
  let ok = true;
  for (const l of large.timings) {
    const s = small.timings.find((x) => x.name === l.name)!;
    const ratio = l.median / s.median;
    if (l.baseline) {
      console.log(`${padEnd(l.name, 32)} ${pad(f1(l.median), 10)} ${pad(f1(l.p90), 8)} ${pad(f1(l.max), 8)} ${pad(f1(s.median), 10)} ${pad(ratio.toFixed(2), 7)}  (no counters read: the floor of a request)`);
      continue;
    }
    const fast = l.median <= TARGET.medianMs;
    const flat = ratio <= TARGET.ratio;
    ok &&= fast && flat;
    console.log(
      `${padEnd(l.name, 32)} ${pad(f1(l.median), 10)} ${pad(f1(l.p90), 8)} ${pad(f1(l.max), 8)} ${pad(f1(s.median), 10)} ${pad(ratio.toFixed(2), 7)}  ${padEnd(fast ? "PASS" : "MISS", 8)} ${flat ? "PASS" : "MISS"}${l.slow || s.slow ? "  (3 runs: slow)" : ""}`,
    );
  }
  if (small.drift) console.log(`rebuild at ${small.label}: ${small.drift.drift.length === 0 ? "no drift" : `${small.drift.drift.length} counters drifted`}`);
  if (large.drift) console.log(`rebuild at ${large.label}: ${large.drift.drift.length === 0 ? "no drift" : `${large.drift.drift.length} counters drifted`}`);
  if (small.disturbed || large.disturbed) console.log("(other workerd/wrangler processes were running during part of the run: the figures shared the machine)");
  const drifted = (small.drift?.drift.length ?? 0) + (large.drift?.drift.length ?? 0) > 0;
  return ok && !drifted;
}

/** The lead's dashboard of the seeded project, in Debian's Chromium (loopback only), saved as a PNG. */
async function screenshotDashboard(port: number, projectId: string, lead: string): Promise<void> {
  const { chromiumMissing, openIsolatedBrowser } = await import("../test/e2e/browser.ts");
  const missing = chromiumMissing();
  if (missing) {
    console.log(`  (dashboard screenshot skipped: ${missing})`);
    return;
  }
  const browser = await openIsolatedBrowser();
  try {
    const started = performance.now();
    await browser.page.goto(`http://127.0.0.1:${port}/projects/${projectId}/dashboard#token=${lead}`);
    await browser.page.locator('body[data-state="ready"]').waitFor({ state: "attached", timeout: 60_000 });
    const drawn = await browser.page.locator('figure.chart[data-state="drawn"]').count();
    await browser.page.screenshot({ path: DASHBOARD_PNG, fullPage: true });
    console.log(`  dashboard: ${drawn} charts drawn in ${f1(performance.now() - started)} ms; screenshot ${DASHBOARD_PNG}${browser.errors.length ? `; page errors: ${browser.errors.join(" | ")}` : ""}`);
  } finally {
    await browser.close();
  }
}

const DASHBOARD_PNG = "/tmp/groundwork-dashboard-118k.png";

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.small >= a.images) throw new Error("--small must be smaller than --images");
  ensureDevVars();
  const now = Date.now();
  const labelOf = (n: number) => (n % 1000 === 0 ? `${n / 1000}K` : String(n));
  const labels = [labelOf(a.small), labelOf(a.images)];
  const lead = await devToken("lead", labels.map((l) => `report-${l.toLowerCase()}`), LEAD);
  const small = await runSize(labels[0], a.small, false, a, now, lead);
  const large = await runSize(labels[1], a.images, true, a, now, lead);
  if (!summary(small, large)) process.exitCode = 1;
}

main()
  .catch((err) => {
    console.error(`bench-report: ${(err as Error).stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(() => cleanupBench());
