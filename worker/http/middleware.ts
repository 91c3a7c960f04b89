import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { verifyBearer } from "../auth/token.ts";
import type { AppEnv, Principal } from "../env.ts";
import { problems } from "./problem.ts";

/** CORS with an allow-list: an origin not on the list gets no Access-Control-Allow-Origin at all. */
export function corsFromEnv(): MiddlewareHandler<AppEnv> {
  // Built once per allow-list, not once per request (it sits in front of every request, claims included).
  const built = new Map<string, MiddlewareHandler<AppEnv>>();
  return async (c, next) => {
    const list = c.env.CORS_ORIGINS ?? "";
    let handler = built.get(list);
    if (!handler) {
      const allowed = list
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean);
      handler = cors({
        origin: (origin) => (allowed.includes(origin) ? origin : null),
        allowMethods: ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
        allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match"],
        exposeHeaders: ["ETag", "Location", "Retry-After", "X-Request-Id", "Server-Timing"],
        maxAge: 600,
        credentials: false,
      });
      built.set(list, handler);
    }
    return handler(c, next);
  };
}

const DEFAULT_JSON_LIMIT = 1024 * 1024;

/** Body size limits: uploads get MAX_UPLOAD_BYTES, everything else 1 MiB. */
export function limitBody(kind: "json" | "upload"): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    const maxSize = kind === "upload" ? Number(c.env.MAX_UPLOAD_BYTES ?? 32 * 1024 * 1024) : DEFAULT_JSON_LIMIT;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw problems.tooLarge(maxSize);
      },
    })(c, next);
  };
}

/**
 * Resolves the bearer token into the request's principal, or refuses with 401. A request that
 * carries a URL signature instead (an <img> loading bytes) goes on without one; the route checks
 * the signature, and `principal(c)` refuses it everywhere else.
 */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!(c.req.method === "GET" && c.req.query("sig") !== undefined && !c.req.header("authorization"))) {
    c.set("principal", await principalOf(c));
  }
  await next();
};

export function principal(c: Context<AppEnv>): Principal {
  const p = c.get("principal");
  if (!p) throw problems.unauthorized("an Authorization: Bearer <token> header is required");
  return p;
}

/** Uploads are multipart; everything else is JSON. Anything else is refused before it is read. */
export function requireContentType(kind: "json" | "multipart"): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const type = (c.req.header("content-type") ?? "").toLowerCase();
    const ok = kind === "json" ? /^application\/(.+\+)?json\b/.test(type) : type.startsWith("multipart/form-data");
    if (!ok) {
      throw problems.unsupportedMediaType(
        `this endpoint takes ${kind === "json" ? "application/json" : "multipart/form-data"}, not "${type || "no content type"}"`,
      );
    }
    await next();
  };
}

export async function principalOf(c: Context<AppEnv>): Promise<Principal> {
  const header = c.req.header("authorization");
  if (!header) throw problems.unauthorized("an Authorization: Bearer <token> header is required");
  const match = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  if (!match) throw problems.unauthorized("the Authorization header must be 'Bearer <token>'");
  return verifyBearer(match[1], c.env);
}
