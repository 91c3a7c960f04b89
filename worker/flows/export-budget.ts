import { currentInvocation } from "../store/statement-budget.ts";

/** D1's statements per invocation where D1_STATEMENT_LIMIT is not set (production, paid plan). */
const PAID_PLAN_LIMIT = 1000;

/**
 * The D1 statements export work may use of one invocation: half the limit. A queue batch shares
 * one invocation among its messages (other exports, drafts), and a request also authenticates and
 * loads the project, so the other half is their margin. Set D1_STATEMENT_LIMIT=50 on the free plan.
 */
export function exportStatementBudget(limitVar: string | undefined): number {
  const limit = Number(limitVar);
  return Math.floor((Number.isFinite(limit) && limit > 0 ? limit : PAID_PLAN_LIMIT) / 2);
}

/** An export message's wall time where EXPORT_MESSAGE_SECONDS is not set. */
const MESSAGE_SECONDS = 20;

/**
 * How long one export message may write, whatever its statement budget: gcg pages read and decode
 * masks, and a queue consumer's CPU time is limited too (30 s by default).
 */
export function exportMessageMs(secondsVar: string | undefined): number {
  const s = Number(secondsVar);
  return (Number.isFinite(s) && s > 0 ? s : MESSAGE_SECONDS) * 1000;
}

/** Statements the current invocation has sent so far (all of its work, not only the caller's). */
export const statementsSpent = (): number => currentInvocation()?.statements ?? 0;
