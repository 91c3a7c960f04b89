/**
 * Group commit for the claim and the submit: statements that arrive while another batch of them is
 * on its way to D1 wait and go together in the next batch, so many requests share one D1 round trip
 * and one commit.
 * A database is single-threaded, and a claim's fixed cost per D1 call (the request to the database,
 * its transaction, the commit) is larger than its own query: under load this is what lets claims
 * scale. With nothing in flight a statement leaves at once (no timer, no added wait).
 *
 * Each batch is sent by one of the requests whose statements are in it (the first waiting one
 * leads the next batch), so a request never waits on I/O owned by a request that has already
 * answered. A batch is one transaction: if it fails, nothing of it happened, and each of its
 * requests runs its own statements alone (as one batch of their own), so a failure reaches only
 * the request that caused it.
 *
 * Waking a waiting request from another request's code needs the runtime to run the continuation
 * in the waiting request's own context (`handle_cross_request_promise_resolution`, the default
 * since 2024-10-14). Where that is off (the vitest pool turns it off for its own runner), requests
 * do not share batches; calls within one request always may.
 */

/**
 * D1 counts every statement of a batch against the invocation that sends it (50 per invocation on
 * the free plan): a batch holds at most this many statements, so a claim (which leads at most two
 * batches: open queue, then expired leases) or a submit (its read, then its writes) is charged at
 * most 2 × MAX_BATCH for them.
 */
export const MAX_BATCH = 20;

/** How long a statement waits for its turn; a batch normally answers in milliseconds. */
const MAX_WAIT_MS = 10_000;

/** A statement's result, and how many requests' statements shared its batch. */
export interface Committed {
  result: D1Result;
  batch: number;
}

/** A group's results, in its order, and how many requests' groups shared its batch. */
export interface CommittedGroup {
  results: D1Result[];
  batch: number;
}

type Turn = { kind: "done"; committed: CommittedGroup } | { kind: "lead" } | { kind: "alone" } | { kind: "lost" };

interface Waiting {
  statements: D1PreparedStatement[];
  /** Taken into a batch that is on its way: going alone now could run the statements twice. */
  taken: boolean;
  turn: (t: Turn) => void;
}

export class BatchLostError extends Error {
  constructor(waitedMs: number) {
    super(`a D1 batch shared with other requests did not answer within ${waitedMs / 1000} s; it may or may not have been applied`);
  }
}

const crossRequestWakeUps = (): boolean => Boolean((globalThis as { Cloudflare?: Cloudflare }).Cloudflare?.compatibilityFlags?.handle_cross_request_promise_resolution);

/**
 * Statements go in groups: a group is one request's statements that must commit together (a
 * submission with its task's move and its review task). A batch is one transaction, so every group
 * in it commits with it or not at all; when a batch fails, each group is sent again alone, as its
 * own batch, so a failure reaches only the request whose statements caused it and a group is never
 * split. A claim is a group of one.
 */
export class GroupCommit {
  private inFlight = false;
  /** Which lead is the current one, and since when: a lead that never answers must not hold the queue. */
  private generation = 0;
  private leadSince = 0;
  private readonly waiting: Waiting[] = [];
  private readonly d1: D1Database;
  private readonly maxWaitMs: number;

  constructor(d1: D1Database, maxWaitMs = MAX_WAIT_MS) {
    this.d1 = d1;
    this.maxWaitMs = maxWaitMs;
  }

  async run(statement: D1PreparedStatement): Promise<Committed> {
    const { results, batch } = await this.runGroup([statement]);
    return { result: results[0], batch };
  }

  /** Runs `statements` as one atomic group, sharing a batch with the groups of other requests that wait. */
  async runGroup(statements: D1PreparedStatement[]): Promise<CommittedGroup> {
    if (statements.length === 0) return { results: [], batch: 1 };
    this.abandonStaleLead();
    if (this.inFlight) {
      const turn = await this.wait(statements);
      if (turn.kind === "done") return turn.committed;
      if (turn.kind === "alone") return { results: await this.alone(statements), batch: 1 };
      if (turn.kind === "lost") throw new BatchLostError(this.maxWaitMs);
    }
    return this.lead(statements);
  }

  private alone(statements: D1PreparedStatement[]): Promise<D1Result[]> {
    return statements.length === 1 ? statements[0].all().then((r) => [r]) : this.d1.batch(statements);
  }

  private async lead(mine: D1PreparedStatement[]): Promise<CommittedGroup> {
    this.inFlight = true;
    this.leadSince = Date.now();
    const generation = ++this.generation;
    // Waiting groups in their order, as many as fit beside this one (a group larger than the cap goes alone).
    const others: Waiting[] = [];
    let size = mine.length;
    while (this.waiting.length > 0 && size + this.waiting[0].statements.length <= MAX_BATCH) {
      const w = this.waiting.shift()!;
      w.taken = true;
      others.push(w);
      size += w.statements.length;
    }
    let results: D1Result[] | null = null;
    try {
      results = await this.d1.batch([...mine, ...others.flatMap((w) => w.statements)]);
    } catch (error) {
      if (others.length === 0) {
        if (this.generation === generation) this.handOver();
        throw error;
      }
    }
    const batch = others.length + 1;
    let at = mine.length;
    for (const w of others) {
      const n = w.statements.length;
      w.turn(results ? { kind: "done", committed: { results: results.slice(at, at + n), batch } } : { kind: "alone" });
      at += n;
    }
    // A lead given up on meanwhile has already handed over; handing over again would start a second lead.
    if (this.generation === generation) this.handOver();
    return results ? { results: results.slice(0, mine.length), batch } : { results: await this.alone(mine), batch: 1 };
  }

  /**
   * Waits for a turn with a timer of its own: the runtime ends a request that waits only on
   * another request's work, and a batch whose request was cancelled would never answer.
   */
  private wait(statements: D1PreparedStatement[]): Promise<Turn> {
    return new Promise<Turn>((resolve) => {
      const entry: Waiting = {
        statements,
        taken: false,
        turn: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(entry);
        if (at >= 0) this.waiting.splice(at, 1);
        this.abandonStaleLead();
        resolve({ kind: entry.taken ? "lost" : "alone" });
      }, this.maxWaitMs);
      this.waiting.push(entry);
    });
  }

  /**
   * A lead whose batch has not answered within the wait is given up on: its request may have been
   * cancelled (a client gone, the runtime ending it), and then it never hands over. The groups in
   * its batch learn they were lost from their own timers; the queue moves on without it.
   */
  private abandonStaleLead(): void {
    if (!this.inFlight || Date.now() - this.leadSince < this.maxWaitMs) return;
    this.generation++;
    this.leadSince = Date.now();
    this.handOver();
  }

  /** The first group that waited leads the next batch; with none waiting, the next one leaves at once. */
  private handOver(): void {
    const next = this.waiting.shift();
    if (next) next.turn({ kind: "lead" });
    else this.inFlight = false;
  }
}

const perBinding = new WeakMap<D1Database, GroupCommit>();

/** The group commit of a database binding, or none where requests cannot wake each other. */
export function groupCommit(d1: D1Database, acrossRequests = crossRequestWakeUps()): GroupCommit | null {
  if (!acrossRequests) return null;
  let g = perBinding.get(d1);
  if (!g) perBinding.set(d1, (g = new GroupCommit(d1)));
  return g;
}
