import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { countStatements, recentInvocations, refusedInvocations, StatementLimitExceeded, withStatementBudget } from "../../worker/store/statement-budget.ts";
import { dbOf } from "../../worker/store/db.ts";
import { projects } from "../../schema/tables.ts";

countStatements(env.DB);

describe("the D1 statement budget of an invocation", () => {
  it("counts single statements, and each statement of a batch", async () => {
    const used = await withStatementBudget("t", "100", async () => {
      await env.DB.prepare("SELECT 1").first();
      await env.DB.prepare("SELECT 1").all();
      await env.DB.prepare("SELECT 1").raw();
      await env.DB.batch([env.DB.prepare("SELECT 1"), env.DB.prepare("SELECT 2"), env.DB.prepare("SELECT 3")]);
      const db = dbOf(env.DB);
      await db.select().from(projects).limit(1).all();
      await db.batch([db.select().from(projects).limit(1), db.select().from(projects).limit(1)]);
      const inv = recentInvocations.at(-1)!;
      return [inv.statements, inv.calls];
    });
    expect(used).toEqual([3 + 3 + 1 + 2, 3 + 1 + 1 + 1]);
  });

  it("refuses the statement past the limit, as production D1 does, and sends nothing of it", async () => {
    await env.DB.exec("CREATE TABLE IF NOT EXISTS budget_probe (n INTEGER)");
    const run = withStatementBudget("t", "3", async () => {
      await env.DB.prepare("INSERT INTO budget_probe VALUES (1)").run();
      await env.DB.prepare("INSERT INTO budget_probe VALUES (2)").run();
      // A batch of two would make four: refused whole.
      await env.DB.batch([env.DB.prepare("INSERT INTO budget_probe VALUES (3)"), env.DB.prepare("INSERT INTO budget_probe VALUES (4)")]);
    });
    await expect(run).rejects.toBeInstanceOf(StatementLimitExceeded);
    expect(refusedInvocations.map((i) => i.label)).toEqual(["t"]);
    refusedInvocations.length = 0; // refused on purpose: not a failure of this file
    const rows = await env.DB.prepare("SELECT n FROM budget_probe ORDER BY n").all<{ n: number }>();
    expect(rows.results.map((r) => r.n)).toEqual([1, 2]);
  });

  it("keeps concurrent invocations apart", async () => {
    const one = (n: number) =>
      withStatementBudget(`c${n}`, "100", async () => {
        for (let i = 0; i < n; i++) await env.DB.prepare("SELECT 1").first();
        return recentInvocations.find((x) => x.label === `c${n}`)!.statements;
      });
    expect(await Promise.all([one(2), one(5), one(7)])).toEqual([2, 5, 7]);
  });

  it("reports a request's count in Server-Timing, within the configured limit", async () => {
    const res = await SELF.fetch("http://groundwork.test/healthz");
    const timing = res.headers.get("server-timing") ?? "";
    const m = /d1;desc="(\d+) statements in (\d+) calls"/.exec(timing);
    expect(m, timing).not.toBeNull();
    expect([Number(m![1]), Number(m![2])]).toEqual([1, 1]);
    expect(Number(env.D1_STATEMENT_LIMIT)).toBeGreaterThan(0);
  });
});
