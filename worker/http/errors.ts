import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { DomainError } from "../domain/errors.ts";
import { Problem, problemOf, problemResponse, problems, type InvalidParam } from "./problem.ts";

/** "body.categories[3].id" from a zod issue path under a request part. */
export function issuePath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) out += typeof key === "number" ? `[${key}]` : `${out ? "." : ""}${String(key)}`;
  return out || "(root)";
}

export function zodProblem(prefix: string, error: z.ZodError): DomainError {
  const errors: InvalidParam[] = error.issues.map((i) => ({ path: issuePath(prefix, i.path), message: i.message }));
  return problems.validation(errors);
}

const TARGET_NAMES: Record<string, string> = { json: "body", form: "body", query: "query", param: "path", header: "header", cookie: "cookie" };

/** The zod-openapi validation hook: every schema failure becomes the same 400 problem. */
export function validationHook(result: { success: boolean; error?: z.ZodError; target?: string }, _c: Context): void {
  if (!result.success && result.error) throw zodProblem(TARGET_NAMES[result.target ?? ""] ?? "", result.error);
}

/** The one error path: every failure leaves here as problem+json. */
export function onError(err: Error, c: Context<AppEnv>): Response {
  const instance = c.req.path;
  if (err instanceof Problem) return problemResponse(err, instance);
  if (err instanceof DomainError) return problemResponse(problemOf(err), instance);
  if (err instanceof HTTPException) {
    const status = err.status;
    const detail = err.message || "the request could not be processed";
    // Hono raises these for unreadable bodies (e.g. malformed JSON): name the part that failed.
    const p =
      status === 400
        ? problemOf(problems.validation([{ path: "body", message: detail }], `body: ${detail}`))
        : new Problem(status, "http-error", "Request refused", detail);
    return problemResponse(p, instance);
  }
  console.error(JSON.stringify({ level: "error", requestId: c.get("requestId"), path: instance, error: String(err), stack: err.stack }));
  return problemResponse(
    new Problem(500, "internal", "Internal error", `an unexpected error occurred; quote request id ${c.get("requestId") ?? "?"}`),
    instance,
  );
}

export function notFound(c: Context<AppEnv>): Response {
  return problemResponse(new Problem(404, "not-found", "Not found", `no route for ${c.req.method} ${c.req.path}`), c.req.path);
}
