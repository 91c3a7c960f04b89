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
    503: "Temporarily unable to answer; retry after Retry-After seconds.",
  };
  return Object.fromEntries(statuses.map((s) => [s, { description: text[s] ?? "Error", content: problemContent }]));
}

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ description: "Page size (1–200)." }),
  cursor: z.string().max(200).optional().openapi({ description: "Opaque cursor from the previous page's `next_cursor`." }),
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
