import { createRoute, z } from "@hono/zod-openapi";
import { router } from "../http/router.ts";

/** Health: with the OpenAPI document and the docs page (routes/docs.ts), the only routes that need no token. */
export const metaRoutes = router();

const health = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["Meta"],
  summary: "Liveness and database reachability",
  responses: {
    200: {
      description: "Healthy",
      content: { "application/json": { schema: z.object({ status: z.literal("ok"), db: z.literal("ok"), time: z.iso.datetime() }).openapi("Health") } },
    },
  },
});

metaRoutes.openapi(health, async (c) => {
  await c.env.DB.prepare("SELECT 1").first();
  return c.json({ status: "ok" as const, db: "ok" as const, time: new Date().toISOString() }, 200);
});
