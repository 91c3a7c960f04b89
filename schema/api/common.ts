import { z } from "@hono/zod-openapi";

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "https://groundwork.dev/problems/validation" }),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: "For validation problems: each offending input path and what is wrong with it." }),
  })
  .catchall(z.unknown())
  .openapi("Problem", { description: "RFC 9457 problem details." });

/**
 * The mark of a refinement across fields, which JSON Schema cannot state: its failure is a 422
 * ("inconsistent"), not a 400 (worker/http/errors.ts).
 */
export const INCONSISTENT = { inconsistent: true } as const;

/**
 * Text that must not be blank: refused when it has no visible character, stored trimmed. Said as a
 * pattern (not `.trim().min(1)`, whose minLength would let "   " through the document).
 */
export function nonBlank(max: number, message = "must not be blank") {
  return z.string().regex(/\S/, message).max(max).trim();
}

/** A fixed-length tuple: the generator writes prefixItems only, so its length is said here. */
export function fixed<T extends z.ZodTuple>(tuple: T, length: number): T {
  return tuple.openapi({ minItems: length, maxItems: length }) as T;
}

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

/** The error responses a route can give, for its OpenAPI entry. */
export function problemResponses(...statuses: number[]) {
  const text: Record<number, string> = {
    400: "Invalid input: the problem lists each offending path.",
    401: "Missing, malformed, expired or unverifiable bearer token.",
    403: "The token is valid but lacks the role or project.",
    404: "No such resource, or not visible to this principal.",
    409: "Conflicts with the current state.",
    412: "If-Match does not match the current version.",
    413: "Body larger than the limit.",
    415: "Wrong content type.",
    422: "Well-formed but inconsistent input (see the problem's details).",
    429: "Too many requests from this principal for the project's rate limit; retry after Retry-After seconds.",
    503: "Temporarily unable to answer; retry after Retry-After seconds.",
  };
  return Object.fromEntries(statuses.map((s) => [s, { description: text[s] ?? "Error", content: problemContent }]));
}

/** `If-Match` for a guarded change: the version ETag a read gave (`"3"` or `W/"3"`). */
export const IfMatchHeader = z.object({
  "if-match": z
    .string()
    .regex(/^(W\/)?"\d{1,15}"$/, 'If-Match must be a version ETag such as "3"')
    .optional()
    .openapi({ description: 'The `version` last read, as an ETag (`"3"`): the change is refused with 412 if it moved since.' }),
});

/** A page cursor: opaque base64url, any of which names a position (see worker/domain/ids.ts). */
export const Cursor = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,400}$/, "a cursor is base64url: 1–400 of A–Z, a–z, 0–9, - and _")
  .openapi({ description: "Opaque cursor from the previous page's `next_cursor`." });

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ description: "Page size (1–200)." }),
  cursor: Cursor.optional(),
});

export function pageOf<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({
      items: z.array(item),
      next_cursor: z.string().nullable().openapi({ description: "Pass as `cursor` for the next page; null on the last page." }),
    })
    .openapi(name);
}

export const ProjectIdParam = z.object({
  projectId: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "a project id is 1–64 lowercase letters, digits, - or _")
    .openapi({ param: { name: "projectId", in: "path" }, example: "demo" }),
});
