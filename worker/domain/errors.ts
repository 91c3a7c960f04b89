/**
 * The errors that domain/, store/, flows/ and auth/ raise: what went wrong, in the domain's terms,
 * with the offending input named. Only http/ turns them into responses (RFC 9457 problem+json),
 * choosing the status from the kind; nothing below http/ knows about HTTP.
 */
export type FailureKind =
  | "invalid"
  | "unauthorized"
  | "forbidden"
  | "not-found"
  | "conflict"
  | "too-large"
  | "unsupported-media-type"
  | "unprocessable"
  | "rate-limited"
  | "unavailable";

/** A field of the input that is wrong, and what is wrong with it ("body.regions[3].text"). */
export interface InvalidField {
  path: string;
  message: string;
}

export class DomainError extends Error {
  readonly kind: FailureKind;
  readonly slug: string;
  readonly title: string;
  readonly detail: string;
  readonly extensions: Record<string, unknown>;
  /** Unavailable or rate-limited: when to try again. */
  readonly retryAfterSeconds: number | null;

  constructor(kind: FailureKind, slug: string, title: string, detail: string, extensions: Record<string, unknown> = {}, retryAfterSeconds: number | null = null) {
    super(`${title}: ${detail}`);
    this.kind = kind;
    this.slug = slug;
    this.title = title;
    this.detail = detail;
    this.extensions = extensions;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export const fail = {
  validation: (errors: InvalidField[], detail?: string) =>
    new DomainError("invalid", "validation", "Invalid request", detail ?? errors.map((e) => `${e.path}: ${e.message}`).join("; "), { errors }),
  unauthorized: (detail: string) => new DomainError("unauthorized", "unauthorized", "Unauthorized", detail),
  forbidden: (detail: string) => new DomainError("forbidden", "forbidden", "Forbidden", detail),
  notFound: (what: string) => new DomainError("not-found", "not-found", "Not found", `${what} does not exist or is not visible to you`),
  conflict: (detail: string, extensions: Record<string, unknown> = {}) => new DomainError("conflict", "conflict", "Conflict", detail, extensions),
  tooLarge: (limit: number) => new DomainError("too-large", "payload-too-large", "Payload too large", `the request body exceeds the limit of ${limit} bytes`, { limit }),
  unsupportedMediaType: (detail: string) => new DomainError("unsupported-media-type", "unsupported-media-type", "Unsupported media type", detail),
  unavailable: (detail: string, retryAfterSeconds: number) => new DomainError("unavailable", "unavailable", "Service unavailable", detail, {}, retryAfterSeconds),
  /** Over an abuse limit: the window in which the caller's requests are counted. */
  rateLimited: (detail: string, retryAfterSeconds: number, extensions: Record<string, unknown> = {}) =>
    new DomainError("rate-limited", "rate-limited", "Too many requests", detail, extensions, retryAfterSeconds),
  /** Each field keeps to its schema, but they contradict one another (a rule JSON Schema cannot state). */
  inconsistent: (errors: InvalidField[]) =>
    new DomainError("unprocessable", "inconsistent", "Inconsistent request", errors.map((e) => `${e.path}: ${e.message}`).join("; "), { errors }),
  unprocessable: (slug: string, title: string, detail: string, extensions: Record<string, unknown> = {}) => new DomainError("unprocessable", slug, title, detail, extensions),
};
