import { createRoute, z } from "@hono/zod-openapi";
import { router } from "../http/router.ts";

/** Health, the OpenAPI document and the docs page: the only routes that need no token. */
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

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>Groundwork API</title>
</head>
<body>
  <noscript>The interactive reference needs JavaScript; the raw description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
  <script id="api-reference" data-url="/openapi.json"></script>
  <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script>
</body>
</html>`;
