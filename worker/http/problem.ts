/**
 * RFC 9457 problem details: the one shape every error of the API takes. Routes throw a Problem;
 * the app's single error handler turns it (or anything unexpected) into the response.
 */
export interface InvalidParam {
  /** JSON-pointer-like path of the offending input, e.g. "body.config.redundancy.round1". */
  path: string;
  message: string;
}

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

export const problems = {
  validation: (errors: InvalidParam[], detail?: string) =>
    new Problem(
      400,
      "validation",
      "Invalid request",
      detail ?? errors.map((e) => `${e.path}: ${e.message}`).join("; "),
      { errors },
    ),
  unauthorized: (detail: string) =>
    new Problem(401, "unauthorized", "Unauthorized", detail, {}, { "WWW-Authenticate": 'Bearer realm="groundwork"' }),
  forbidden: (detail: string) => new Problem(403, "forbidden", "Forbidden", detail),
  notFound: (what: string) => new Problem(404, "not-found", "Not found", `${what} does not exist or is not visible to you`),
  conflict: (detail: string, extensions: Record<string, unknown> = {}) =>
    new Problem(409, "conflict", "Conflict", detail, extensions),
  tooLarge: (limit: number) =>
    new Problem(413, "payload-too-large", "Payload too large", `the request body exceeds the limit of ${limit} bytes`, {
      limit,
    }),
  unsupportedMediaType: (detail: string) => new Problem(415, "unsupported-media-type", "Unsupported media type", detail),
  unavailable: (detail: string, retryAfterSeconds: number) =>
    new Problem(503, "unavailable", "Service unavailable", detail, {}, { "Retry-After": String(retryAfterSeconds) }),
  unprocessable: (slug: string, title: string, detail: string, extensions: Record<string, unknown> = {}) =>
    new Problem(422, slug, title, detail, extensions),
};

export function problemResponse(p: Problem, instance?: string): Response {
  return new Response(JSON.stringify(p.body(instance)), {
    status: p.status,
    headers: { "content-type": "application/problem+json", ...p.headers },
  });
}
