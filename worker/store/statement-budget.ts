import { AsyncLocalStorage } from "node:async_hooks";

/**
 * D1 counts every statement against the Worker invocation that sends it (a batch counts each of
 * its statements): 1,000 per invocation on the paid plan, 50 on the free plan. Miniflare does not
 * enforce either, so code that passes locally can fail at the edge. This module counts the
 * statements of each invocation (a request, a queue batch, a cron tick) and, where
 * `D1_STATEMENT_LIMIT` is set (tests, `wrangler dev`), refuses the statement that would go past
 * the limit exactly as production does, so a test that passes is a test that fits.
 */
export interface Invocation {
  /** "GET /v1/projects", "queue groundwork-drafts", "scheduled". */
  label: string;
  statements: number;
  /** Round trips to D1: a batch is one call, however many statements it holds. */
  calls: number;
  /** The most statements this invocation may send; Infinity where nothing is enforced here. */
  limit: number;
}

export class StatementLimitExceeded extends Error {
  readonly invocation: Invocation;
  constructor(invocation: Invocation) {
    super(`D1: more than ${invocation.limit} statements in one invocation (${invocation.label}); production D1 refuses this too`);
    this.invocation = invocation;
  }
}

const current = new AsyncLocalStorage<Invocation>();

/** Invocations refused for going past their limit (tests fail a file that has any). */
export const refusedInvocations: Invocation[] = [];

/** The last invocations, newest last, for tests and benchmarks to read their counts. */
export const recentInvocations: Invocation[] = [];
const KEEP = 500;

/** Runs `fn` as one invocation with its own statement count. */
export function withStatementBudget<T>(label: string, limitVar: string | undefined, fn: () => T): T {
  const limit = limitVar ? Number(limitVar) : Infinity;
  const invocation: Invocation = { label, statements: 0, calls: 0, limit: Number.isFinite(limit) && limit > 0 ? limit : Infinity };
  recentInvocations.push(invocation);
  if (recentInvocations.length > KEEP) recentInvocations.splice(0, recentInvocations.length - KEEP);
  return current.run(invocation, fn);
}

/** The invocation the caller runs in, if any. */
export const currentInvocation = (): Invocation | undefined => current.getStore();

/** Counts `n` statements against the current invocation; throws before sending one past its limit. */
function spend(n: number): void {
  const inv = current.getStore();
  if (!inv) return;
  if (inv.statements + n > inv.limit) {
    refusedInvocations.push(inv);
    throw new StatementLimitExceeded(inv);
  }
  inv.statements += n;
  inv.calls += 1;
}

type Method = (...args: unknown[]) => unknown;
let installed = false;

/**
 * Counts at the binding's public methods, which every caller (Drizzle, the claim's prepared
 * statements, group commit) goes through. The prototypes are shared by every D1 binding of the
 * isolate, so this is done once. A statement's methods do not call each other, nor does batch
 * call them, so nothing is counted twice.
 */
export function countStatements(d1: D1Database): void {
  if (installed) return;
  installed = true;
  const dbProto = Object.getPrototypeOf(d1) as Record<string, Method>;
  const stmtProto = Object.getPrototypeOf(d1.prepare("SELECT 1")) as Record<string, Method>;
  for (const name of ["first", "run", "all", "raw"]) wrap(stmtProto, name, () => 1);
  wrap(dbProto, "batch", (args) => (Array.isArray(args[0]) ? args[0].length : 1));
  // exec sends one statement per line, as D1's own exec splits them.
  wrap(dbProto, "exec", (args) => String(args[0] ?? "").split("\n").filter((l) => l.trim()).length);
}

function wrap(proto: Record<string, Method>, name: string, cost: (args: unknown[]) => number): void {
  const original = proto[name];
  if (typeof original !== "function") return;
  proto[name] = function (this: unknown, ...args: unknown[]) {
    try {
      spend(cost(args));
    } catch (err) {
      return Promise.reject(err);
    }
    return original.apply(this, args);
  };
}
