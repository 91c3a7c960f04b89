import { createRoute, z } from "@hono/zod-openapi";
import { router } from "../http/router.ts";
import { groupCommit } from "../store/group-commit.ts";

/** Health: with the OpenAPI document and the docs page (routes/docs.ts), the only routes that need no token. */
export const metaRoutes = router();

const HealthQuery = z.object({
  via: z
    .enum(["group-commit"])
    .optional()
    .openapi({
      param: { name: "via", in: "query" },
      description:
        "`group-commit`: send the probe (`SELECT 1`) through the same group commit as claims, so it shares D1 batches with whatever " +
        "arrives together (the trivial request a claim benchmark compares claims against). Without it, the probe goes to D1 alone.",
    }),
});

const HealthHeaders = z.object({
  "Server-Timing": z.string().openapi({
    description: 'D1 statements and calls of the request; with `via=group-commit` also how many statements shared its batch, e.g. `group-commit;desc="batch of 7"`.',
  }),
});

const health = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["Meta"],
  summary: "Liveness and database reachability",
  request: { query: HealthQuery },
  responses: {
    200: {
      description: "Healthy",
      headers: HealthHeaders,
      content: { "application/json": { schema: z.object({ status: z.literal("ok"), db: z.literal("ok"), time: z.iso.datetime() }).openapi("Health") } },
    },
  },
});

metaRoutes.openapi(health, async (c) => {
  const { via } = c.req.valid("query");
  const probe = c.env.DB.prepare("SELECT 1");
  // Group commit needs requests to wake each other; where they cannot, the probe goes alone (as claims then do).
  const commit = via === "group-commit" ? groupCommit(c.env.DB) : null;
  if (commit) c.header("Server-Timing", `group-commit;desc="batch of ${(await commit.run(probe)).batch}"`);
  else await probe.first();
  return c.json({ status: "ok" as const, db: "ok" as const, time: new Date().toISOString() }, 200);
});
