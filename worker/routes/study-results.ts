import { createRoute, z } from "@hono/zod-openapi";
import { problemResponses } from "../../schema/api/common.ts";
import { StudyIdParam } from "../../schema/api/studies.ts";
import { StudyResultsSchema } from "../../schema/api/study-results.ts";
import { toCsv } from "../domain/csv.ts";
import { resultsTables } from "../domain/study-results.ts";
import { studyResultsOf } from "../flows/study-results.ts";
import { principal } from "../http/middleware.ts";
import { router } from "../http/router.ts";
import { dbOf } from "../store/db.ts";
import { goldAnswers } from "../store/studies.ts";
import { excludedVoters } from "../store/voters.ts";
import { listVotes } from "../store/votes.ts";
import { studyForLead } from "./study-guards.ts";

export const studyResultRoutes = router();
const tags = ["Study results"];
const security = [{ bearer: [] }];

const ResultsQuery = z.object({
  voters: z.enum(["included", "all"]).default("included").openapi({ description: "`included` leaves excluded voters out; `all` counts everyone." }),
  resamples: z.coerce.number().int().min(0).max(10_000).default(1000).openapi({ description: "Bootstrap resamples (by image) for the Bradley–Terry intervals." }),
  seed: z.coerce.number().int().min(0).max(0xffff_ffff).optional().openapi({ description: "Bootstrap seed; the study's seed when absent, so results are reproducible." }),
  table: z.enum(["pairs", "sources", "voters", "reasons"]).default("pairs").openapi({ description: "With `Accept: text/csv`: which table." }),
});

const results = createRoute({
  method: "get",
  path: "/v1/studies/{studyId}/results",
  tags,
  security,
  summary: "A study's results: win rates, sign tests, Bradley–Terry, position bias, agreement, reasons, voters (JSON or CSV)",
  description:
    "Lead or admin. Per source pair: wins, ties, losses, win rate with ties left out and with ties as half (Wilson 95 %), the exact sign test. " +
    "Bradley–Terry scores over all sources (ties half a win each way) with bootstrap intervals resampling images, and Davidson's tie model. " +
    "Position bias (share of votes for the left caption). Fleiss' κ over pairs with k votes, Krippendorff's α (nominal). Reason codes per source. " +
    "Per voter: votes, gold accuracy, flip rate, median time, agreement with the majority, flags. Only regular pairs count toward sources. " +
    "`Accept: text/csv` gives one table (`table=`), RFC 4180 with a header row.",
  request: { params: StudyIdParam, query: ResultsQuery },
  responses: {
    200: {
      description: "The results",
      content: { "application/json": { schema: StudyResultsSchema }, "text/csv": { schema: z.string() } },
    },
    ...problemResponses(400, 401, 403, 404),
  },
});

studyResultRoutes.openapi(results, async (c) => {
  const { studyId } = c.req.valid("param");
  const q = c.req.valid("query");
  const db = dbOf(c.env.DB);
  const { study } = await studyForLead(db, principal(c), studyId, "read study results");
  const computed = await studyResultsOf(db, study, { includeExcluded: q.voters === "all", resamples: q.resamples, seed: q.seed ?? study.seed });
  c.header("Server-Timing", `results;dur=${computed.ms.toFixed(1)};desc="computed in the Worker"`, { append: true });
  if (/\btext\/csv\b/.test(c.req.header("accept") ?? "")) {
    const table = resultsTables(computed.results)[q.table];
    return c.body(toCsv(table.header, table.rows), 200, {
      "Content-Type": "text/csv; charset=utf-8; header=present",
      "Content-Disposition": `attachment; filename="${study.id}-${q.table}.csv"`,
    });
  }
  return c.json(computed.results, 200);
});

const VOTE_PAGE = 1000;

const votes = createRoute({
  method: "get",
  path: "/v1/studies/{studyId}/votes",
  tags,
  security,
  summary: "Every vote, as NDJSON: pair, sides, sources, voter, choice, reasons, times (recompute anything from it)",
  description: "Lead or admin. Streamed in id order, a page of 1,000 votes per D1 statement. Excluded voters' votes are included and marked.",
  request: { params: StudyIdParam },
  responses: {
    200: { description: "One vote per line", content: { "application/x-ndjson": { schema: z.string() } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

studyResultRoutes.openapi(votes, async (c) => {
  const { studyId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const { study } = await studyForLead(db, principal(c), studyId, "export votes");
  const [gold, excluded] = await Promise.all([goldAnswers(db, study.id), excludedVoters(db, study.id)]);
  const encoder = new TextEncoder();
  let after: string | null = null;
  let finished = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (finished) return controller.close();
      const page = await listVotes(db, study.id, after, VOTE_PAGE);
      const lines = page.map((v) =>
        JSON.stringify({
          vote_id: v.id,
          study_id: v.studyId,
          pair_id: v.pairId,
          ballot_id: v.ballotId,
          image_id: v.imageId,
          kind: v.kind,
          a: v.a,
          b: v.b,
          left: v.left,
          right: v.left === v.a ? v.b : v.a,
          choice: v.choice,
          winner: v.winner,
          gold_answer: gold.get(v.pairId) ?? null,
          voter: v.voter,
          excluded: excluded.has(v.voter),
          reasons: v.reasons,
          active_ms: v.activeMs,
          duration_ms: v.durationMs,
          leased_at: new Date(v.leasedAt).toISOString(),
          at: new Date(v.at).toISOString(),
        }),
      );
      if (lines.length) controller.enqueue(encoder.encode(lines.join("\n") + "\n"));
      if (page.length < VOTE_PAGE) finished = true;
      else after = page[page.length - 1].id;
    },
  });
  return new Response(body, {
    status: 200,
    headers: { "Content-Type": "application/x-ndjson; charset=utf-8", "Content-Disposition": `attachment; filename="${study.id}-votes.ndjson"`, "Cache-Control": "no-store" },
  }) as never;
});
