import { DomainError, fail, type FailureKind, type InvalidField } from "../domain/errors.ts";

/**
 * RFC 9457 problem details: the one shape every error of the API takes. Routes throw a Problem;
 * the app's single error handler turns it (or anything unexpected) into the response.
 */
/** JSON-pointer-like path of the offending input, e.g. "body.config.redundancy.round1". */
export type InvalidParam = InvalidField;

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: InvalidParam[];
  [extension: string]: unknown;
}

const TYPE_BASE = "https://groundwork.dev/problems/";

export class Problem extends Error {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly detail: string;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    slug: string,
    title: string,
    detail: string,
    extensions: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(`${status} ${title}: ${detail}`);
    this.status = status;
    this.slug = slug;
    this.title = title;
    this.detail = detail;
    this.extensions = extensions;
    this.headers = headers;
  }

  body(instance?: string): ProblemBody {
    return {
      type: TYPE_BASE + this.slug,
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }
}

/** Routes raise the same typed errors as the layers below; the one error path renders them. */
export const problems = fail;

const STATUS: Record<FailureKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  "not-found": 404,
  conflict: 409,
  "too-large": 413,
  "unsupported-media-type": 415,
  unprocessable: 422,
  "rate-limited": 429,
  unavailable: 503,
};

/** A domain error as the problem it is on the wire: status from its kind, and the headers that kind needs. */
export function problemOf(e: DomainError): Problem {
  const headers: Record<string, string> = {};
  if (e.kind === "unauthorized") headers["WWW-Authenticate"] = 'Bearer realm="groundwork"';
  if (e.retryAfterSeconds !== null) headers["Retry-After"] = String(e.retryAfterSeconds);
  return new Problem(STATUS[e.kind], e.slug, e.title, e.detail, e.extensions, headers);
}

export function problemResponse(p: Problem, instance?: string): Response {
  return new Response(JSON.stringify(p.body(instance)), {
    status: p.status,
    headers: { "content-type": "application/problem+json", ...p.headers },
  });
}
