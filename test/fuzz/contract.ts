import { Validator } from "@cfworker/json-schema";
import { deref, type Schema } from "./schema-arbitrary.ts";

/**
 * The OpenAPI document read as a contract: each operation's parameters, body and responses, with
 * their schemas resolved; whether a request keeps to them; whether a response does.
 */
export interface Param {
  name: string;
  in: "path" | "query" | "header";
  required: boolean;
  schema: Schema;
}

export interface Operation {
  key: string;
  method: string;
  path: string;
  params: Param[];
  body: { required: boolean; content: Record<string, Schema> } | null;
  responses: Record<string, { content: Record<string, Schema> }>;
  security: boolean;
}

export function operationsOf(raw: any): Operation[] {
  const doc = { components: raw.components };
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries<any>(raw.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      const params: Param[] = (op.parameters ?? []).map((p: any) => ({ name: p.name, in: p.in, required: !!p.required, schema: deref(doc, p.schema ?? {}) }));
      const body = op.requestBody
        ? { required: !!op.requestBody.required, content: Object.fromEntries(Object.entries<any>(op.requestBody.content).map(([ct, v]) => [ct, deref(doc, v.schema ?? {})])) }
        : null;
      const responses = Object.fromEntries(
        Object.entries<any>(op.responses).map(([status, r]) => [status, { content: Object.fromEntries(Object.entries<any>(r.content ?? {}).map(([ct, v]) => [ct, deref(doc, v.schema ?? {})])) }]),
      );
      out.push({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path, params, body, responses, security: (op.security ?? raw.security ?? []).length > 0 });
    }
  }
  return out;
}

const validators = new WeakMap<object, Validator>();
export function validates(schema: Schema, value: unknown): { valid: boolean; error?: string } {
  let v = validators.get(schema);
  if (!v) {
    v = new Validator(schema as any, "2020-12", false);
    validators.set(schema, v);
  }
  const r = v.validate(value);
  return r.valid ? { valid: true } : { valid: false, error: r.errors.slice(-3).map((e) => `${e.instanceLocation}: ${e.error}`).join("; ") };
}

/** A query or path value as the server reads it: typed as its schema says, when it can be. */
export function typedParam(schema: Schema, raw: string): unknown {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if ((types.includes("integer") || types.includes("number")) && /^-?(\d+)(\.\d+)?([eE][-+]?\d+)?$/.test(raw)) return Number(raw);
  if (types.includes("boolean") && (raw === "true" || raw === "false")) return raw === "true";
  return raw;
}

/** What a request carried, before it was serialised (a multipart file part stands as "<binary>"). */
export interface RequestParts {
  path: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  contentType: string | null;
  /** The parsed body, `undefined` when none was sent, or `MALFORMED` when its bytes are not its type. */
  body: unknown;
}
export const MALFORMED = Symbol("malformed body");

/** Why the request breaks its operation's schema, or null when it keeps to it. */
export function requestViolation(op: Operation, r: RequestParts): string | null {
  for (const p of op.params) {
    const source = p.in === "path" ? r.path : p.in === "query" ? r.query : r.headers;
    const raw = source[p.in === "header" ? p.name.toLowerCase() : p.name];
    if (raw === undefined) {
      if (p.required) return `${p.in}.${p.name} is required`;
      continue;
    }
    const check = validates(p.schema, typedParam(p.schema, raw));
    if (!check.valid) return `${p.in}.${p.name}: ${check.error}`;
  }
  const declared = new Set(op.params.filter((p) => p.in === "query").map((p) => p.name));
  for (const name of Object.keys(r.query)) if (!declared.has(name)) return `query.${name} is not a parameter of this operation`;
  if (!op.body) return null;
  if (r.body === undefined) return op.body.required ? "the body is required" : null;
  const type = (r.contentType ?? "").split(";")[0].trim().toLowerCase();
  const schema = op.body.content[type];
  if (!schema) return `content type "${type}" is not one of ${Object.keys(op.body.content).join(", ")}`;
  if (r.body === MALFORMED) return "the body is not well-formed";
  const check = validates(schema, r.body);
  return check.valid ? null : `body: ${check.error}`;
}

/** Why the response breaks the operation's documented responses, or null when it keeps to them. */
export async function responseViolation(op: Operation, res: Response): Promise<string | null> {
  const documented = op.responses[String(res.status)] ?? op.responses.default;
  if (!documented) return `status ${res.status} is not documented (documented: ${Object.keys(op.responses).join(", ")})`;
  const type = (res.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  // Bytes first: images and NDJSON are not text to the runtime, and only JSON is parsed below.
  const text = new TextDecoder().decode(await res.arrayBuffer());
  const types = Object.keys(documented.content);
  if (!types.length) return text.length ? `status ${res.status} is documented without a body, but one came (${type})` : null;
  if (!types.includes(type)) return `content type "${type}" for ${res.status} is not documented (documented: ${types.join(", ")})`;
  if (res.status >= 400 && type !== "application/problem+json") return `error ${res.status} is not problem+json`;
  if (!type.endsWith("json") || type.includes("ndjson")) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `${res.status} body is not JSON: ${text.slice(0, 80)}`;
  }
  const check = validates(documented.content[type], value);
  if (!check.valid) return `${res.status} body does not match its schema: ${check.error}`;
  if (res.status >= 400 && (value as { status?: unknown }).status !== res.status) return `problem status ${(value as { status?: unknown }).status} is not the HTTP status ${res.status}`;
  return null;
}
