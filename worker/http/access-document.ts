import { ACCESS, accessRuleOf } from "../auth/access-matrix.ts";

type Operation = { description?: string; [k: string]: unknown };

/**
 * Prints the access matrix into the OpenAPI document: each operation's rule as the last line of
 * its description, and its whole row (who is allowed, and what each denial answers) as `x-access`,
 * so the document and the table that the access test checks cannot say different things.
 */
export function withAccessRules<T extends { paths?: object }>(doc: T): T {
  for (const [path, ops] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, Operation>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const key = `${method.toUpperCase()} ${path}`;
      const rule = accessRuleOf(key);
      if (!rule) continue;
      op.description = `${op.description ? `${op.description}\n\n` : ""}**Who may call:** ${rule}`;
      op["x-access"] = ACCESS[key];
    }
  }
  return doc;
}
