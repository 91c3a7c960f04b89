import { OpenAPIHono } from "@hono/zod-openapi";
import { problemResponses } from "../../schema/api/common.ts";
import type { AppEnv } from "../env.ts";
import { validationHook } from "./errors.ts";
import { knownQuery } from "./known-query.ts";

/**
 * Every route group is built here, so every schema failure takes the one error path and every
 * operation refuses query parameters its schema does not declare.
 */
export function router(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const register = app.openapi;
  app.openapi = ((route, handler, hook) => {
    const own = route.middleware === undefined ? [] : Array.isArray(route.middleware) ? route.middleware : [route.middleware];
    // Any operation can answer 400 now (an unknown query parameter), so each documents it.
    const responses = { ...problemResponses(400), ...route.responses };
    return register({ ...route, responses, middleware: [knownQuery(route.request?.query), ...own] }, handler, hook);
  }) as typeof app.openapi;
  return app;
}
