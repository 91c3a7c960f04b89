import { z } from "@hono/zod-openapi";

/**
 * The schema of a JSON merge patch (RFC 7396) over values of `schema`, derived from it so the two
 * cannot drift: every member optional, `null` to remove one (it falls back to its default),
 * objects patched member by member (a record's entries replaced whole), unknown members refused.
 * No defaults apply, so a parsed patch holds only what it changes; rules across members (refinements) are checked on the merged
 * result, which the caller validates whole.
 */
export function mergePatchSchemaOf(schema: z.ZodType): z.ZodType {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    const shape: Record<string, z.ZodType> = {};
    for (const [key, member] of Object.entries(inner.shape as Record<string, z.ZodType>)) shape[key] = mergePatchSchemaOf(member).nullable().optional();
    return z.strictObject(shape);
  }
  // A record's entry is given whole: a new key has nothing to patch, so a partial entry could only be refused once merged.
  if (inner instanceof z.ZodRecord) return z.record(inner.keyType as z.ZodString, (inner.valueType as z.ZodType).nullable());
  return inner;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
    else return s;
  }
}
