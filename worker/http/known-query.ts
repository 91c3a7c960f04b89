import type { MiddlewareHandler } from "hono";
import type { z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { problems } from "./problem.ts";

/**
 * Refuses query parameters an operation does not declare. Zod strips unknown keys, so without this
 * a misspelt `?limt=5` or `?statu=accepted` would silently give the default page: a client's typo
 * must be a 400 naming the parameter, as the document (which lists every parameter) implies.
 */
export function knownQuery(query: z.ZodType | undefined): MiddlewareHandler<AppEnv> {
  const shape = (query as { shape?: Record<string, unknown> } | undefined)?.shape;
  const known = new Set(Object.keys(shape ?? {}));
  const takes = known.size ? `it takes ${[...known].join(", ")}` : "it takes none";
  return async (c, next) => {
    const url = c.req.url;
    const q = url.indexOf("?");
    if (q >= 0 && q < url.length - 1) {
      const unknown = [...new Set(new URLSearchParams(url.slice(q + 1)).keys())].filter((name) => !known.has(name));
      if (unknown.length) {
        throw problems.validation(unknown.map((name) => ({ path: `query.${name}`, message: `not a parameter of this operation (${takes})` })));
      }
    }
    await next();
  };
}
