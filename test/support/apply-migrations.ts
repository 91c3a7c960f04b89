import { applyD1Migrations, env } from "cloudflare:test";
import { afterAll, expect } from "vitest";
import { recentInvocations, refusedInvocations } from "../../worker/store/statement-budget.ts";

// Setup files run outside per-file isolated storage and may run more than once;
// applyD1Migrations only applies what is not applied yet.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// Every request, queue batch and cron tick of a test file kept within D1_STATEMENT_LIMIT: the
// Worker refuses the statement past it, and a file in which any invocation was refused fails here,
// whatever its own assertions looked at. The largest is printed, so the margin is seen.
afterAll(() => {
  expect(refusedInvocations.map((i) => `${i.label}: over ${i.limit} statements`), "invocations past D1_STATEMENT_LIMIT").toEqual([]);
  const top = recentInvocations.reduce((a, b) => (b.statements > (a?.statements ?? -1) ? b : a), undefined as (typeof recentInvocations)[number] | undefined);
  if (top) console.log(`[d1] most statements in one invocation: ${top.statements} of ${top.limit} (${top.label}); ${recentInvocations.length} invocations`);
});
