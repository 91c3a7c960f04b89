import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "@hono/zod-openapi";
import { INCONSISTENT } from "../../schema/api/common.ts";
import type { AppEnv } from "../env.ts";
import { DomainError } from "../domain/errors.ts";
import { Problem, problemOf, problemResponse, problems, type InvalidParam } from "./problem.ts";

/** "body.categories[3].id" from a zod issue path under a request part. */
export function issuePath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) out += typeof key === "number" ? `[${key}]` : `${out ? "." : ""}${String(key)}`;
  return out || "(root)";
}

/**
 * A schema failure as its problem. Failures of refinements across fields (a gold pair naming a
 * source the study does not compare, two categories with one id) are requests the document could
 * not refuse, since JSON Schema cannot state those rules: they are 422, documented as inconsistent
 * input, so that 400 always means "the document says no". Such refinements say so with
 * `params: INCONSISTENT` (schema/api/common.ts); when every failure is one, the answer is 422.
 */
export function zodProblem(prefix: string, error: z.ZodError): DomainError {
  const errors: InvalidParam[] = error.issues.map((i) => ({ path: issuePath(prefix, i.path), message: i.message }));
  const crossField = error.issues.every((i) => i.code === "custom" && (i.params as typeof INCONSISTENT | undefined)?.inconsistent === true);
  return crossField ? problems.inconsistent(errors) : problems.validation(errors);
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

/**
 * No route for this method and path: a 405 with `Allow` when the path is served under other
 * methods (a TRACE, a PUT where only GET is), else a 404. `routes` is the app's route table, read
 * once on the first miss.
 */
export function notFound(routes: () => readonly { method: string; path: string }[]) {
  let served: { pattern: RegExp; methods: Set<string> }[] | undefined;
  return (c: Context<AppEnv>): Response => {
    served ??= servedPaths(routes());
    const methods = new Set<string>();
    for (const s of served) if (s.pattern.test(c.req.path)) for (const m of s.methods) methods.add(m);
    // A route of this very method that answered "not found" (c.notFound()) stays a 404.
    if (methods.size && !methods.has(c.req.method) && !(c.req.method === "HEAD" && methods.has("GET"))) {
      if (methods.has("GET")) methods.add("HEAD");
      const allow = [...methods].sort().join(", ");
      return problemResponse(
        new Problem(405, "method-not-allowed", "Method not allowed", `${c.req.path} answers ${allow}, not ${c.req.method}`, {}, { Allow: allow }),
        c.req.path,
      );
    }
    return problemResponse(new Problem(404, "not-found", "Not found", `no route for ${c.req.method} ${c.req.path}`), c.req.path);
  };
}

function servedPaths(routes: readonly { method: string; path: string }[]) {
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) {
    // Middleware registers as ALL on wildcards: it serves nothing itself.
    if (r.method === "ALL" || r.path.includes("*")) continue;
    const methods = byPath.get(r.path) ?? new Set<string>();
    methods.add(r.method.toUpperCase());
    byPath.set(r.path, methods);
  }
  return [...byPath].map(([path, methods]) => ({
    pattern: new RegExp(`^${path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:\w+/g, "[^/]+")}/?$`),
    methods,
  }));
}
