/**
 * Group commit for the claim: statements that arrive while another batch of them is on its way to
 * D1 wait and go together in the next batch, so many claims share one D1 round trip and one commit.
 * A database is single-threaded, and a claim's fixed cost per D1 call (the request to the database,
 * its transaction, the commit) is larger than its own query: under load this is what lets claims
 * scale. With nothing in flight a statement leaves at once (no timer, no added wait).
 *
 * Each batch is sent by one of the requests whose statements are in it (the first waiting one
 * leads the next batch), so a request never waits on I/O owned by a request that has already
 * answered. A batch is one transaction: if it fails, nothing of it happened, and each of its
 * requests runs its own statement alone, so a failure reaches only the request that caused it.
 *
 * Waking a waiting request from another request's code needs the runtime to run the continuation
 * in the waiting request's own context (`handle_cross_request_promise_resolution`, the default
 * since 2024-10-14). Where that is off (the vitest pool turns it off for its own runner), requests
 * do not share batches; calls within one request always may.
 */

/**
 * D1 counts every statement of a batch against the invocation that sends it (50 per invocation on
 * the free plan): a claim leads at most two batches (open queue, then expired leases).
 */
export const MAX_BATCH = 20;

/** How long a statement waits for its turn; a batch normally answers in milliseconds. */
const MAX_WAIT_MS = 10_000;

/** A statement's result, and how many statements shared its batch. */
export interface Committed {
  result: D1Result;
  batch: number;
}

type Turn = { kind: "done"; committed: Committed } | { kind: "lead" } | { kind: "alone" } | { kind: "lost" };

interface Waiting {
  statement: D1PreparedStatement;
  /** Taken into a batch that is on its way: going alone now could run the statement twice. */
  taken: boolean;
  turn: (t: Turn) => void;
}

export class BatchLostError extends Error {
  constructor(waitedMs: number) {
    super(`a batch of claims did not answer within ${waitedMs / 1000} s; it may or may not have been applied`);
  }
}

const crossRequestWakeUps = (): boolean => Boolean((globalThis as { Cloudflare?: Cloudflare }).Cloudflare?.compatibilityFlags?.handle_cross_request_promise_resolution);

export class GroupCommit {
  private inFlight = false;
  private readonly waiting: Waiting[] = [];
  private readonly d1: D1Database;
  private readonly maxWaitMs: number;

  constructor(d1: D1Database, maxWaitMs = MAX_WAIT_MS) {
    this.d1 = d1;
    this.maxWaitMs = maxWaitMs;
  }

  async run(statement: D1PreparedStatement): Promise<Committed> {
    if (this.inFlight) {
      const turn = await this.wait(statement);
      if (turn.kind === "done") return turn.committed;
      if (turn.kind === "alone") return { result: await statement.all(), batch: 1 };
      if (turn.kind === "lost") throw new BatchLostError(this.maxWaitMs);
    }
    return this.lead(statement);
  }

  private async lead(statement: D1PreparedStatement): Promise<Committed> {
    this.inFlight = true;
    const others = this.waiting.splice(0, MAX_BATCH - 1);
    for (const w of others) w.taken = true;
    let results: D1Result[] | null = null;
    try {
      results = await this.d1.batch([statement, ...others.map((w) => w.statement)]);
    } catch (error) {
      if (others.length === 0) {
        this.handOver();
        throw error;
      }
    }
    const batch = others.length + 1;
    others.forEach((w, i) => w.turn(results ? { kind: "done", committed: { result: results[i + 1], batch } } : { kind: "alone" }));
    this.handOver();
    return results ? { result: results[0], batch } : { result: await statement.all(), batch: 1 };
  }

  /**
   * Waits for a turn with a timer of its own: the runtime ends a request that waits only on
   * another request's work, and a batch whose request was cancelled would never answer.
   */
  private wait(statement: D1PreparedStatement): Promise<Turn> {
    return new Promise<Turn>((resolve) => {
      const entry: Waiting = {
        statement,
        taken: false,
        turn: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(entry);
        if (at >= 0) this.waiting.splice(at, 1);
        resolve({ kind: entry.taken ? "lost" : "alone" });
      }, this.maxWaitMs);
      this.waiting.push(entry);
    });
  }

  /** The first statement that waited leads the next batch; with none waiting, the next one leaves at once. */
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
