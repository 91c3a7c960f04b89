import { SELF, env } from "cloudflare:test";
import { mintToken } from "../../worker/auth/token.ts";
import type { Role } from "../../worker/env.ts";

export const BASE = "http://groundwork.test";

export async function tokenFor(role: Role, projects: string[] = [], subject = `${role}-1`, extra: { ttlSeconds?: number } = {}) {
  return mintToken({
    secret: env.JWT_SECRET,
    subject,
    role,
    projects,
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    ttlSeconds: extra.ttlSeconds,
  });
}

/** A request through the Worker's real fetch handler (and so through every middleware). */
export async function call(method: string, path: string, opts: { token?: string; json?: unknown; body?: BodyInit; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(opts.json);
  }
  const res = await SELF.fetch(`${BASE}${path}`, { method, headers, body });
  const type = res.headers.get("content-type") ?? "";
  const data = type.includes("json") && !type.includes("ndjson") ? await res.json<any>() : null;
  return { res, status: res.status, data };
}

export async function createProject(token: string, body: Record<string, unknown> = {}) {
  const r = await call("POST", "/v1/projects", { token, json: { name: "Test project", ...body } });
  if (r.status !== 201) throw new Error(`project create failed: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

/** What a request cost in D1, as its Server-Timing reports it: statements, and round trips (a batch is one). */
export function d1Cost(res: Response): { statements: number; calls: number } {
  const m = /d1;desc="(\d+) statements in (\d+) calls"/.exec(res.headers.get("server-timing") ?? "");
  if (!m) throw new Error(`no D1 cost in Server-Timing: ${res.headers.get("server-timing")}`);
  return { statements: Number(m[1]), calls: Number(m[2]) };
}
