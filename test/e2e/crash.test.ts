/**
 * Crash safety, end to end: the local server (started as the README says) is killed with SIGKILL,
 * its whole process group at once, in the middle of a burst of claims, submissions, ballot claims
 * and votes from many clients, then started again on the same state folder. Every write that was
 * acknowledged before the kill must be there, once; every write that was in flight must be
 * accepted exactly once when retried with its Idempotency-Key (a retry of one that had landed
 * answers what the first attempt would have); and every task and ballot leased by a client that
 * died comes back to another principal once its lease runs out.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devToken } from "../../scripts/token.ts";
import { synthesizeScene } from "../../worker/imaging/synthetic.ts";
import { startLocalServer, type LocalServer } from "./server.ts";

const PORT = 20787 + 2 * Math.floor(Math.random() * 500); // the mock VLM takes PORT + 1
const PROJECT = "crash";
const IMAGES = 200; // one round-1 edit task each
const VOTES_PER_PAIR = 2; // IMAGES pairs (two sources), so IMAGES × 2 ballots
const LEASE_SECONDS = 60; // the minimum of settings.leaseSeconds; the study's ballots get the same
const LIVE_ANNOTATORS = 24;
const DEAD_ANNOTATORS = 6;
const LIVE_VOTERS = 30;
const DEAD_VOTERS = 6;
/** Kill once this many submissions and votes have been acknowledged (a minority of what the burst would do). */
const KILL_AFTER = { submissions: 60, votes: 100 };

let first: LocalServer | undefined;
let second: LocalServer | undefined;
let stateDir = "";
let lead = "";

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "groundwork-crash-"));
  first = startLocalServer({ port: PORT, stateDir });
  lead = (await first.waitFor(/LEAD_TOKEN=(\S+)/, 180_000))[1];
});

afterAll(async () => {
  await first?.stop();
  await second?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

const BASE = `http://127.0.0.1:${PORT}`;

interface Answer<T = any> {
  status: number;
  body: T;
  text: string;
}

/** One request; rejects only when no answer came (connection refused or cut): the server is down. */
async function call<T = any>(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, type = "application/json"): Promise<Answer<T>> {
  const h: Record<string, string> = { authorization: `Bearer ${token}`, ...headers };
  if (body !== undefined && !(body instanceof FormData)) h["content-type"] = type;
  const payload = body === undefined || body instanceof FormData || typeof body === "string" ? (body as BodyInit | undefined) : JSON.stringify(body);
  const r = await fetch(`${BASE}${path}`, { method, headers: h, body: payload, signal: AbortSignal.timeout(60_000) });
  // The whole body is part of the answer: a response cut off by the kill is no acknowledgement.
  const text = await r.text();
  let parsed: unknown = null;
  if (text && (r.headers.get("content-type") ?? "").includes("json")) parsed = JSON.parse(text);
  return { status: r.status, body: parsed as T, text };
}

async function must<T = any>(expected: number, token: string, method: string, path: string, body?: unknown, headers?: Record<string, string>, type?: string): Promise<T> {
  const a = await call<T>(token, method, path, body, headers, type);
  if (a.status !== expected) throw new Error(`${method} ${path}: ${a.status} (wanted ${expected}) ${a.text.slice(0, 1500)}`);
  return a.body;
}

async function pool<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

type Lease = { task_id: string; lease_token: string; lease_expires_at: string; start: { texts: { segment_id: number; text: string }[] } };
type Submission = { id: string; task_id: string; subject: string };
type Ballot = { ballot_id: string; lease_token: string; lease_expires_at: string };
type Vote = { vote_id: string; ballot_id: string; choice: string };
type VoteLine = { vote_id: string; ballot_id: string; pair_id: string; voter: string; choice: string };

/** Where one write stands from its client's side: never sent, sent with no answer yet (or ever), or answered. */
type Phase = "unsent" | "in-flight" | "acknowledged" | "refused";

/** One annotator's task: a keyed claim, then a keyed submission. */
interface TaskStep {
  client: number;
  token: string;
  subject: string;
  claimKey: string;
  submitKey: string;
  claim: Phase;
  submit: Phase;
  lease?: Lease;
  submitBody?: unknown;
  answer?: Submission;
  refusal?: string;
}

/** One voter's ballot: a claim, then a keyed vote. */
interface BallotStep {
  client: number;
  token: string;
  subject: string;
  voteKey: string;
  claim: Phase;
  vote: Phase;
  ballot?: Ballot;
  voteBody?: unknown;
  answer?: Vote;
  refusal?: string;
}

class ServerGone extends Error {}

function submissionBody(lease: Lease) {
  return { lease_token: lease.lease_token, regions: lease.start.texts.map((t) => ({ segment_id: t.segment_id, action: "accepted", text: t.text })) };
}

function voteBody(ballot: Ballot, n: number) {
  return { lease_token: ballot.lease_token, choice: (["A", "B", "tie"] as const)[n % 3], active_ms: 1000 + n };
}

async function readVotes(studyId: string): Promise<VoteLine[]> {
  const r = await fetch(`${BASE}/v1/studies/${studyId}/votes`, { headers: { authorization: `Bearer ${lead}` } });
  expect(r.status).toBe(200);
  return (await r.text())
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as VoteLine);
}

async function mySubmissions(token: string): Promise<{ submissions: Submission[]; leases: { task_id: string; expired: boolean }[] }> {
  return must(200, token, "GET", "/v1/me/tasks?limit=100");
}

const counts = <T>(xs: T[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<T, number>());
const duplicates = <T>(xs: T[]) => [...counts(xs)].filter(([, n]) => n > 1).map(([x]) => x);

describe("crash safety of the local server, end to end", () => {
  it("keeps every acknowledged submission and vote once after a SIGKILL mid-burst, accepts each in-flight one once on retry, and returns dead clients' leases", { timeout: 240_000 }, async () => {
    const t0 = Date.now();
    const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

    // ---- Prepare: a project with short leases, IMAGES synthetic scenes, two caption sets, an open study.
    await must(201, lead, "POST", "/v1/projects", { id: PROJECT, name: "crash safety e2e" });
    const patched = await must(200, lead, "PATCH", `/v1/projects/${PROJECT}`, { settings: { leaseSeconds: LEASE_SECONDS } });
    expect(patched.settings.leaseSeconds).toBe(LEASE_SECONDS);
    const seeds = Array.from({ length: IMAGES }, (_, i) => 7001 + i);
    await pool(seeds, 3, async (seed) => {
      const scene = synthesizeScene(seed, { width: 160, height: 120 });
      const form = new FormData();
      form.set("image", new Blob([scene.image], { type: "image/png" }), scene.fileName);
      form.set("panoptic", new Blob([scene.panoptic], { type: "image/png" }), "panoptic.png");
      form.set("segments_info", JSON.stringify(scene.segmentsInfo));
      form.set("external_id", `scene-${seed}`);
      await must(201, lead, "POST", `/v1/projects/${PROJECT}/images`, form);
    });
    for (const name of ["alpha", "beta"]) {
      const lines = seeds.map((seed) => JSON.stringify({ external_id: `scene-${seed}`, text: `${name} caption of scene ${seed}` })).join("\n") + "\n";
      await must(200, lead, "PUT", `/v1/projects/${PROJECT}/caption-sets/${name}`, lines, {}, "application/x-ndjson");
    }
    const study = await must<{ id: string }>(201, lead, "POST", `/v1/projects/${PROJECT}/studies`, {
      name: "crash study",
      question: "Which caption is better?",
      design: { sources: ["import:alpha", "import:beta"], votesPerPair: VOTES_PER_PAIR, allowTies: true, gold: { share: 0 }, leaseSeconds: LEASE_SECONDS, seed: 61 },
    });
    const opened = await must<{ status: string; plan: { pairs: number } }>(200, lead, "POST", `/v1/studies/${study.id}/open`);
    expect(opened).toMatchObject({ status: "open", plan: { pairs: IMAGES } });
    const BALLOTS = IMAGES * VOTES_PER_PAIR;
    console.log(`[crash] prepared ${IMAGES} images (${IMAGES} edit tasks), study ${study.id} with ${BALLOTS} ballots, leases ${LEASE_SECONDS} s, at ${since()}`);

    const annotator = (sub: string) => devToken("annotator", [PROJECT], sub);
    const voter = (sub: string) => devToken("voter", [PROJECT], sub);
    const liveAnnotators = await Promise.all(Array.from({ length: LIVE_ANNOTATORS }, (_, i) => annotator(`crash-annotator-${i}`)));
    const deadAnnotators = await Promise.all(Array.from({ length: DEAD_ANNOTATORS }, (_, i) => annotator(`crash-dead-annotator-${i}`)));
    const liveVoters = await Promise.all(Array.from({ length: LIVE_VOTERS }, (_, i) => voter(`crash-voter-${i}`)));
    const deadVoters = await Promise.all(Array.from({ length: DEAD_VOTERS }, (_, i) => voter(`crash-dead-voter-${i}`)));

    // ---- Burst: clients that claim and die, and clients that loop claim → write until the server goes.
    let killing = false;
    const taskSteps: TaskStep[] = [];
    const ballotSteps: BallotStep[] = [];
    const unexpected: string[] = [];
    const send = async <T,>(token: string, method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
      if (killing) throw new ServerGone("not sent: the server is being killed");
      try {
        return await call<T>(token, method, path, body, headers);
      } catch (err) {
        throw new ServerGone(String(err));
      }
    };

    const deadTasks: Lease[] = [];
    const deadBallots: Ballot[] = [];
    const dying = [
      ...deadAnnotators.map(async (token) => {
        const r = await send<Lease>(token, "POST", `/v1/projects/${PROJECT}/tasks/next`, { round: 1, kind: "edit" });
        if (r.status === 200) deadTasks.push(r.body);
        else unexpected.push(`dead annotator's claim: ${r.status} ${r.text.slice(0, 300)}`);
      }),
      ...deadVoters.map(async (token) => {
        const r = await send<Ballot>(token, "POST", `/v1/studies/${study.id}/ballots/next`);
        if (r.status === 200) deadBallots.push(r.body);
        else unexpected.push(`dead voter's claim: ${r.status} ${r.text.slice(0, 300)}`);
      }),
    ];

    const annotatorLoop = async (client: number) => {
      const token = liveAnnotators[client];
      for (let j = 0; ; j++) {
        const step: TaskStep = { client, token, subject: `crash-annotator-${client}`, claimKey: `crash-claim-${client}-${j}`, submitKey: `crash-submit-${client}-${j}`, claim: "unsent", submit: "unsent" };
        taskSteps.push(step);
        step.claim = "in-flight";
        const c = await send<Lease>(token, "POST", `/v1/projects/${PROJECT}/tasks/next`, { round: 1, kind: "edit" }, { "idempotency-key": step.claimKey });
        if (c.status === 204) return void (step.claim = "acknowledged");
        if (c.status !== 200) {
          step.claim = "refused";
          return void unexpected.push(`claim ${step.claimKey}: ${c.status} ${c.text.slice(0, 300)}`);
        }
        step.claim = "acknowledged";
        step.lease = c.body;
        step.submitBody = submissionBody(c.body);
        step.submit = "in-flight";
        const s = await send<Submission>(token, "POST", `/v1/tasks/${c.body.task_id}/submissions`, step.submitBody, { "idempotency-key": step.submitKey });
        if (s.status !== 201) {
          step.submit = "refused";
          return void unexpected.push(`submission ${step.submitKey}: ${s.status} ${s.text.slice(0, 300)}`);
        }
        step.submit = "acknowledged";
        step.answer = s.body;
      }
    };

    const voterLoop = async (client: number) => {
      const token = liveVoters[client];
      for (let j = 0; ; j++) {
        const step: BallotStep = { client, token, subject: `crash-voter-${client}`, voteKey: `crash-vote-${client}-${j}`, claim: "unsent", vote: "unsent" };
        ballotSteps.push(step);
        step.claim = "in-flight";
        const c = await send<Ballot>(token, "POST", `/v1/studies/${study.id}/ballots/next`);
        if (c.status === 204) return void (step.claim = "acknowledged");
        if (c.status !== 200) {
          step.claim = "refused";
          return void unexpected.push(`ballot claim of voter ${client}: ${c.status} ${c.text.slice(0, 300)}`);
        }
        step.claim = "acknowledged";
        step.ballot = c.body;
        step.voteBody = voteBody(c.body, client + j);
        step.vote = "in-flight";
        const v = await send<Vote>(token, "POST", `/v1/ballots/${c.body.ballot_id}/vote`, step.voteBody, { "idempotency-key": step.voteKey });
        if (v.status !== 201) {
          step.vote = "refused";
          return void unexpected.push(`vote ${step.voteKey}: ${v.status} ${v.text.slice(0, 300)}`);
        }
        step.vote = "acknowledged";
        step.answer = v.body;
      }
    };

    const burstStart = Date.now();
    const dyingDone = Promise.allSettled(dying);
    const loops = [...liveAnnotators.map((_, i) => annotatorLoop(i)), ...liveVoters.map((_, i) => voterLoop(i))];
    const settled = Promise.allSettled([...dying, ...loops]);
    const acked = () => ({
      submissions: taskSteps.filter((s) => s.submit === "acknowledged").length,
      votes: ballotSteps.filter((s) => s.vote === "acknowledged").length,
    });
    const inFlight = () => ({
      claims: taskSteps.filter((s) => s.claim === "in-flight").length + ballotSteps.filter((s) => s.claim === "in-flight").length,
      submissions: taskSteps.filter((s) => s.submit === "in-flight").length,
      votes: ballotSteps.filter((s) => s.vote === "in-flight").length,
    });
    await dyingDone;
    const burstDeadline = Date.now() + 60_000;
    while (acked().submissions < KILL_AFTER.submissions || acked().votes < KILL_AFTER.votes) {
      if (Date.now() > burstDeadline) throw new Error(`the burst did not reach ${JSON.stringify(KILL_AFTER)} in 60 s: ${JSON.stringify(acked())}; ${unexpected.join("; ")}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    // Pull the plug at a moment when a submission and a vote are both on their way.
    const pickDeadline = Date.now() + 3000;
    while ((inFlight().submissions === 0 || inFlight().votes === 0) && Date.now() < pickDeadline) await new Promise((r) => setTimeout(r, 1));
    killing = true;
    const atKill = { acked: acked(), inFlight: inFlight() };
    const killedAt = Date.now();
    await first!.kill();
    const outcomes = await settled;
    const crashed = outcomes.filter((o) => o.status === "rejected").map((o) => (o as PromiseRejectedResult).reason);
    expect(crashed.every((e) => e instanceof ServerGone), String(crashed.find((e) => !(e instanceof ServerGone)))).toBe(true);
    expect(unexpected, "refusals before the kill").toEqual([]);
    expect(deadTasks).toHaveLength(DEAD_ANNOTATORS);
    expect(deadBallots).toHaveLength(DEAD_VOTERS);
    await expect(fetch(`${BASE}/healthz`)).rejects.toThrow();

    // What the clients know now: acknowledged writes (the truth the server must keep), and writes with no answer.
    const ackedTasks = taskSteps.filter((s) => s.submit === "acknowledged");
    const ackedVotes = ballotSteps.filter((s) => s.vote === "acknowledged");
    const openSubmits = taskSteps.filter((s) => s.submit === "in-flight");
    const openVotes = ballotSteps.filter((s) => s.vote === "in-flight");
    const openTaskClaims = taskSteps.filter((s) => s.claim === "in-flight");
    const openBallotClaims = ballotSteps.filter((s) => s.claim === "in-flight");
    console.log(
      `[crash] SIGKILL after ${((killedAt - burstStart) / 1000).toFixed(1)} s of burst (at ${since()}): ` +
        `at the kill ${atKill.acked.submissions} submissions and ${atKill.acked.votes} votes acknowledged, in flight ${atKill.inFlight.submissions} submissions, ${atKill.inFlight.votes} votes, ${atKill.inFlight.claims} claims; ` +
        `in the end ${ackedTasks.length} submissions and ${ackedVotes.length} votes acknowledged, ${openSubmits.length} submissions, ${openVotes.length} votes, ` +
        `${openTaskClaims.length} task claims and ${openBallotClaims.length} ballot claims with no answer; dead clients hold ${deadTasks.length} tasks and ${deadBallots.length} ballots`,
    );
    expect(ackedTasks.length).toBeGreaterThanOrEqual(KILL_AFTER.submissions);
    expect(ackedVotes.length).toBeGreaterThanOrEqual(KILL_AFTER.votes);
    expect(openSubmits.length + openVotes.length + openTaskClaims.length + openBallotClaims.length, "writes in flight at the kill").toBeGreaterThan(0);

    // ---- Restart on the same state folder, as `npm start` does (it finds the migrations applied and the demo seeded).
    second = startLocalServer({ port: PORT, stateDir });
    await second.healthy(90_000);
    const restartedAt = Date.now();
    const oldest = Math.min(...[...openSubmits.map((s) => s.lease!), ...openVotes.map((s) => s.ballot!)].map((l) => Date.parse(l.lease_expires_at)), Infinity);
    console.log(
      `[crash] restarted on the same state in ${((restartedAt - killedAt) / 1000).toFixed(1)} s; ` +
        `the in-flight writes' leases have ${Number.isFinite(oldest) ? `${((oldest - restartedAt) / 1000).toFixed(1)} s` : "—"} left at least`,
    );

    // Before any retry: which in-flight writes had landed? (For the figures; the retries must answer the same either way.)
    const seenSubmissions = new Map<string, Submission>();
    for (const token of new Set([...openSubmits, ...openTaskClaims].map((s) => s.token))) {
      for (const sub of (await mySubmissions(token)).submissions) seenSubmissions.set(sub.task_id, sub);
    }
    const votesBefore = new Map((await readVotes(study.id)).map((v) => [v.ballot_id, v]));
    const landedSubmits = openSubmits.filter((s) => seenSubmissions.has(s.lease!.task_id));
    const landedVotes = openVotes.filter((s) => votesBefore.has(s.ballot!.ballot_id));

    // Every acknowledged write is there, once.
    for (const s of ackedTasks) {
      const got = await must<Submission>(200, lead, "GET", `/v1/submissions/${s.answer!.id}`);
      expect(got).toMatchObject({ id: s.answer!.id, task_id: s.lease!.task_id, subject: s.subject });
    }
    for (const s of ackedVotes) {
      expect(votesBefore.get(s.answer!.ballot_id), `vote ${s.answer!.vote_id} acknowledged before the kill`).toMatchObject({ vote_id: s.answer!.vote_id, voter: s.subject, choice: s.answer!.choice });
    }

    // ---- Retry every write that got no answer, with its Idempotency-Key: first the lease-bound ones (their leases run).
    const retriedSubmits = await Promise.all(
      openSubmits.map(async (s) => {
        const r = await call<Submission>(s.token, "POST", `/v1/tasks/${s.lease!.task_id}/submissions`, s.submitBody, { "idempotency-key": s.submitKey });
        expect(r.status, `retry of ${s.submitKey}: ${r.text.slice(0, 500)}`).toBe(201);
        const landed = seenSubmissions.get(s.lease!.task_id);
        if (landed) expect(r.body.id, `retry of ${s.submitKey} answers the submission that landed before the kill`).toBe(landed.id);
        s.answer = r.body;
        return s;
      }),
    );
    const retriedVotes = await Promise.all(
      openVotes.map(async (s) => {
        const r = await call<Vote>(s.token, "POST", `/v1/ballots/${s.ballot!.ballot_id}/vote`, s.voteBody, { "idempotency-key": s.voteKey });
        expect(r.status, `retry of ${s.voteKey}: ${r.text.slice(0, 500)}`).toBe(201);
        const landed = votesBefore.get(s.ballot!.ballot_id);
        if (landed) expect(r.body.vote_id, `retry of ${s.voteKey} answers the vote that landed before the kill`).toBe(landed.vote_id);
        s.answer = r.body;
        return s;
      }),
    );
    // A claim with no answer: the keyed task claim returns the lease it took, if it took one; a ballot claim returns the ballot held.
    let claimsThatLanded = 0;
    const reclaimedThenSubmitted = await Promise.all(
      openTaskClaims.map(async (s) => {
        const c = await call<Lease>(s.token, "POST", `/v1/projects/${PROJECT}/tasks/next`, { round: 1, kind: "edit" }, { "idempotency-key": s.claimKey });
        expect([200, 204], `retry of claim ${s.claimKey}: ${c.text.slice(0, 500)}`).toContain(c.status);
        if (c.status === 204) return null;
        if (Date.parse(c.body.lease_expires_at) <= killedAt + LEASE_SECONDS * 1000) claimsThatLanded++;
        s.lease = c.body;
        s.submitBody = submissionBody(c.body);
        const r = await call<Submission>(s.token, "POST", `/v1/tasks/${c.body.task_id}/submissions`, s.submitBody, { "idempotency-key": s.submitKey });
        expect(r.status, `submission after the retried claim ${s.claimKey}: ${r.text.slice(0, 500)}`).toBe(201);
        s.answer = r.body;
        return s;
      }),
    );
    const reballotedThenVoted = await Promise.all(
      openBallotClaims.map(async (s, n) => {
        const c = await call<Ballot>(s.token, "POST", `/v1/studies/${study.id}/ballots/next`);
        expect([200, 204], `ballot claim again by ${s.subject}: ${c.text.slice(0, 500)}`).toContain(c.status);
        if (c.status === 204) return null;
        if (Date.parse(c.body.lease_expires_at) <= killedAt + LEASE_SECONDS * 1000) claimsThatLanded++;
        s.ballot = c.body;
        s.voteBody = voteBody(c.body, 1000 + n);
        const r = await call<Vote>(s.token, "POST", `/v1/ballots/${c.body.ballot_id}/vote`, s.voteBody, { "idempotency-key": s.voteKey });
        expect(r.status, `vote after claiming again ${s.voteKey}: ${r.text.slice(0, 500)}`).toBe(201);
        s.answer = r.body;
        return s;
      }),
    );
    const lateSubmits = reclaimedThenSubmitted.filter((s): s is TaskStep => s !== null);
    const lateVotes = reballotedThenVoted.filter((s): s is BallotStep => s !== null);

    // A retry of an acknowledged write (its answer lost, as far as the server knows) answers the same and records nothing.
    await pool(ackedTasks, 8, async (s) => {
      const r = await call<Submission>(s.token, "POST", `/v1/tasks/${s.lease!.task_id}/submissions`, s.submitBody, { "idempotency-key": s.submitKey });
      expect(r.status, `replay of ${s.submitKey}: ${r.text.slice(0, 500)}`).toBe(201);
      expect(r.body).toEqual(s.answer);
    });
    await pool(ackedVotes, 8, async (s) => {
      const r = await call<Vote>(s.token, "POST", `/v1/ballots/${s.ballot!.ballot_id}/vote`, s.voteBody, { "idempotency-key": s.voteKey });
      expect(r.status, `replay of ${s.voteKey}: ${r.text.slice(0, 500)}`).toBe(201);
      expect(r.body).toEqual(s.answer);
    });
    // And a second retry of the in-flight ones answers what the first retry did.
    for (const s of [...retriedSubmits, ...lateSubmits]) {
      const r = await call<Submission>(s.token, "POST", `/v1/tasks/${s.lease!.task_id}/submissions`, s.submitBody, { "idempotency-key": s.submitKey });
      expect({ status: r.status, body: r.body }).toEqual({ status: 201, body: s.answer });
    }
    for (const s of [...retriedVotes, ...lateVotes]) {
      const r = await call<Vote>(s.token, "POST", `/v1/ballots/${s.ballot!.ballot_id}/vote`, s.voteBody, { "idempotency-key": s.voteKey });
      expect({ status: r.status, body: r.body }).toEqual({ status: 201, body: s.answer });
    }

    // ---- Exactly once: each client's submissions are the ones it was told of, the votes NDJSON holds each vote once.
    const allSubmits = [...ackedTasks, ...retriedSubmits, ...lateSubmits];
    const allVotes = [...ackedVotes, ...retriedVotes, ...lateVotes];
    for (const token of new Set(taskSteps.map((s) => s.token))) {
      const mine = (await mySubmissions(token)).submissions;
      expect(duplicates(mine.map((m) => m.task_id)), "a task submitted twice").toEqual([]);
      expect(mine.map((m) => m.id).sort()).toEqual(allSubmits.filter((s) => s.token === token).map((s) => s.answer!.id).sort());
    }
    for (const s of [...retriedSubmits, ...lateSubmits]) {
      expect(await must<Submission>(200, lead, "GET", `/v1/submissions/${s.answer!.id}`)).toMatchObject({ id: s.answer!.id, task_id: s.lease!.task_id });
    }
    expect(duplicates(allSubmits.map((s) => s.lease!.task_id))).toEqual([]);
    const votes = await readVotes(study.id);
    expect(duplicates(votes.map((v) => v.vote_id)), "a vote listed twice").toEqual([]);
    expect(duplicates(votes.map((v) => v.ballot_id)), "a ballot voted twice").toEqual([]);
    expect(duplicates(votes.map((v) => `${v.voter}|${v.pair_id}`)), "a voter twice on one pair").toEqual([]);
    expect(votes.map((v) => v.vote_id).sort()).toEqual(allVotes.map((s) => s.answer!.vote_id).sort());
    const report = await must<{ rounds: { round: number; tasks: { submitted: number }; in_progress: { review_open: number } }[] }>(200, lead, "GET", `/v1/projects/${PROJECT}/report`);
    const round1 = report.rounds.find((r) => r.round === 1)!;
    expect(round1.tasks.submitted).toBe(allSubmits.length);
    const rebuilt = await must<{ drift: unknown[] }>(200, lead, "POST", `/v1/projects/${PROJECT}/report/rebuild`);
    expect(rebuilt.drift, "report counters after the crash").toEqual([]);
    console.log(
      `[crash] after the restart: ${allSubmits.length} submissions in D1 (${ackedTasks.length} acknowledged before the kill, all there once; ` +
        `${openSubmits.length} in flight retried, ${landedSubmits.length} of them had landed and were answered from the first attempt, ${openSubmits.length - landedSubmits.length} accepted on retry; ` +
        `${lateSubmits.length} more after ${openTaskClaims.length} claims retried); ` +
        `${votes.length} votes in the NDJSON (${ackedVotes.length} acknowledged before the kill, all there once; ${openVotes.length} in flight retried, ${landedVotes.length} had landed, ` +
        `${openVotes.length - landedVotes.length} accepted on retry; ${lateVotes.length} more after ${openBallotClaims.length} ballot claims retried; ${claimsThatLanded} retried claims found the lease the lost attempt took); ` +
        `${ackedTasks.length + ackedVotes.length} acknowledged writes replayed with the same answer; report drift none; at ${since()}`,
    );

    // ---- The leases of the clients that died come back: once they run out, other principals claim them.
    const expiry = Math.max(...[...deadTasks, ...deadBallots].map((l) => Date.parse(l.lease_expires_at)));
    const waitMs = Math.max(0, expiry - Date.now() + 1500);
    console.log(`[crash] waiting ${(waitMs / 1000).toFixed(1)} s for the dead clients' leases to run out`);
    await new Promise((r) => setTimeout(r, waitMs));
    for (const token of deadAnnotators) expect((await mySubmissions(token)).leases.every((l) => l.expired)).toBe(true);

    const drain = async <T,>(claimOne: (n: number) => Promise<Answer<T>>, id: (x: T) => string): Promise<string[]> => {
      const got: string[] = [];
      for (let n = 0; ; n += 8) {
        const batch = await Promise.all(Array.from({ length: 8 }, (_, i) => claimOne(n + i)));
        for (const a of batch) {
          expect([200, 204], a.text.slice(0, 500)).toContain(a.status);
          if (a.status === 200) got.push(id(a.body));
        }
        if (batch.some((a) => a.status === 204)) return got;
        expect(n, "more claims than tasks and ballots").toBeLessThan(IMAGES * VOTES_PER_PAIR + 16);
      }
    };
    const drainedTasks = await drain<Lease>(
      async (n) => call(await annotator(`crash-drainer-${n}`), "POST", `/v1/projects/${PROJECT}/tasks/next`, { round: 1, kind: "edit" }),
      (l) => l.task_id,
    );
    const drainedBallots = await drain<Ballot>(async (n) => call(await voter(`crash-ballot-drainer-${n}`), "POST", `/v1/studies/${study.id}/ballots/next`), (b) => b.ballot_id);
    expect(duplicates(drainedTasks)).toEqual([]);
    expect(duplicates(drainedBallots)).toEqual([]);
    expect(drainedTasks).toEqual(expect.arrayContaining(deadTasks.map((l) => l.task_id)));
    expect(drainedBallots).toEqual(expect.arrayContaining(deadBallots.map((b) => b.ballot_id)));
    // Nothing is lost in between: every task was submitted once or can be claimed, every ballot voted once or can be claimed.
    const submittedTasks = new Set(allSubmits.map((s) => s.lease!.task_id));
    expect(drainedTasks.filter((t) => submittedTasks.has(t))).toEqual([]);
    expect(drainedTasks.length + submittedTasks.size).toBe(IMAGES);
    const votedBallots = new Set(votes.map((v) => v.ballot_id));
    expect(drainedBallots.filter((b) => votedBallots.has(b))).toEqual([]);
    expect(drainedBallots.length + votedBallots.size).toBe(BALLOTS);
    for (const token of deadAnnotators) expect((await mySubmissions(token)).leases).toEqual([]);

    // The restarted `npm start` seeded over the existing state without harm.
    await second.waitFor(/LEAD_TOKEN=\S+/, 60_000);
    expect(second.output()).toMatch(/Demo:\s+project "demo" \(0 images created, \d+ already there\)/);
    console.log(
      `[crash] reclaimed by other principals: ${deadTasks.length}/${deadTasks.length} dead clients' tasks and ${deadBallots.length}/${deadBallots.length} ballots ` +
        `(drained ${drainedTasks.length} tasks + ${submittedTasks.size} submitted = ${IMAGES}; ${drainedBallots.length} ballots + ${votedBallots.size} voted = ${BALLOTS}); done at ${since()}`,
    );
  });
});
