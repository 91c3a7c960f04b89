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

export const JSON_BODY_LIMIT = 1024 * 1024;

/**
 * Body size limits: uploads get MAX_UPLOAD_BYTES, JSON bodies 1 MiB. A declared Content-Length
 * over the limit is refused unread; a body without one (chunked) is counted as it arrives and
 * refused at the first byte past the limit, so nothing larger is ever parsed.
 */
export function limitBody(kind: "json" | "upload"): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    const maxSize = kind === "upload" ? Number(c.env.MAX_UPLOAD_BYTES ?? 32 * 1024 * 1024) : JSON_BODY_LIMIT;
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
/** Operations anyone may call without a token (a crowd participant arriving through an invite link). */
const PUBLIC = [{ method: "POST", path: /^\/v1\/studies\/[^/]+\/participants$/ }];

export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const open = !c.req.header("authorization") && PUBLIC.some((p) => p.method === c.req.method && p.path.test(c.req.path));
  if (!open && !(c.req.method === "GET" && c.req.query("sig") !== undefined && !c.req.header("authorization"))) {
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
    const expected = kind === "json" ? "application/json" : "multipart/form-data";
    // No body at all is a missing required part of the request (400), not a body of the wrong type.
    if (!type && (c.req.raw.body === null || c.req.header("content-length") === "0")) {
      throw problems.validation([{ path: "body", message: `required: send a ${expected} body` }]);
    }
    const ok = kind === "json" ? /^application\/(.+\+)?json\b/.test(type) : type.startsWith("multipart/form-data");
    if (!ok) {
      throw problems.unsupportedMediaType(
        `this endpoint takes ${kind === "json" ? "application/json" : "multipart/form-data"}, not "${type || "no content type"}"`,
      );
    }
    await next();
  };
}

/**
 * For a route whose body is optional: an empty body, whatever content type it declares, stands for
 * `{}`, so the schema's defaults apply (`curl -X POST` sends no body and no content type). A body
 * with bytes goes on as it came, to the content type check. Put it after `limitBody`: a body of
 * unknown length is read here, and the limit keeps that read bounded.
 */
export function emptyBodyAsJson(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const raw = c.req.raw;
    const length = raw.headers.get("content-length");
    if (raw.body !== null && length !== null && length !== "0") return next();
    const bytes = raw.body === null || length === "0" ? new ArrayBuffer(0) : await raw.arrayBuffer();
    if (bytes.byteLength > 0) {
      c.req.raw = new Request(raw, { body: bytes });
      return next();
    }
    const headers = new Headers(raw.headers);
    headers.set("content-type", "application/json");
    headers.delete("content-length");
    headers.delete("transfer-encoding");
    c.req.raw = new Request(raw.url, { method: raw.method, headers, body: "{}" });
    return next();
  };
}

export async function principalOf(c: Context<AppEnv>): Promise<Principal> {
  const header = c.req.header("authorization");
  if (!header) throw problems.unauthorized("an Authorization: Bearer <token> header is required");
  const match = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  if (!match) throw problems.unauthorized("the Authorization header must be 'Bearer <token>'");
  return verifyBearer(match[1], c.env);
}
