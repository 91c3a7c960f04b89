import fc from "fast-check";

/**
 * Values drawn from the OpenAPI document's JSON Schemas (2020-12, as @hono/zod-openapi writes
 * them), with every $ref resolved: valid ones from the schema, and hostile ones (wrong types,
 * missing and extra fields, numbers past their bounds, oversize strings, Unicode edge cases, NUL
 * bytes). Whether a drawn value is valid is decided by the schema validator, not assumed here.
 */
export type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  items?: Schema;
  prefixItems?: Schema[];
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  default?: unknown;
  [k: string]: unknown;
};

/** Inlines every `#/components/...` reference (the API's schemas are not recursive). */
export function deref(doc: { components?: Record<string, Record<string, unknown>> }, node: unknown, depth = 0): any {
  if (depth > 40) throw new Error("schema nesting too deep (a recursive $ref?)");
  if (Array.isArray(node)) return node.map((n) => deref(doc, n, depth + 1));
  if (!node || typeof node !== "object") return node;
  const ref = (node as Schema).$ref;
  if (typeof ref === "string") {
    const [, section, name] = /^#\/components\/(\w+)\/(.+)$/.exec(ref) ?? [];
    const target = doc.components?.[section]?.[name];
    if (!target) throw new Error(`unresolved $ref ${ref}`);
    return deref(doc, target, depth + 1);
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(doc, v, depth + 1)]));
}

const typesOf = (s: Schema): string[] => (s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type]);

/** Strings a careless or hostile client sends: control characters, lone surrogates, bidi marks, traversal. */
export const NASTY_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff\ud800",
  "\u202e\u0645\u0631\u062d\u0628\u0627",
  "\ufeff",
  "😀".repeat(50),
  "e\u0301".repeat(20),
  "../../../../etc/passwd",
  "..%2F..%2F",
  "%00",
  "%",
  "\\",
  "'; DROP TABLE images; --",
  "<script>alert(1)</script>",
  "${jndi:ldap://x}",
  "\r\nSet-Cookie: x=1",
  "null",
  "true",
  "-0",
  "1e309",
  "NaN",
  "0x10",
  "ß",
  "İ",
  "\u2028\u2029",
];

const nasty = fc.constantFrom(...NASTY_STRINGS);

function stringArb(s: Schema): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 40, Math.max(min, 40));
  if (s.enum) return fc.constantFrom(...(s.enum as string[]));
  if (s.pattern) {
    let base: fc.Arbitrary<string>;
    try {
      base = fc.stringMatching(new RegExp(s.pattern));
    } catch {
      base = fc.string({ minLength: min, maxLength: max });
    }
    return base.filter((v) => v.length >= min && v.length <= (s.maxLength ?? Infinity));
  }
  switch (s.format) {
    case "date-time":
      return fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2099-12-31T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString());
    case "uri":
    case "url":
      return fc.webUrl();
    case "email":
      return fc.emailAddress();
    case "uuid":
      return fc.uuid();
  }
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ minLength: min, maxLength: max }) },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme", minLength: min, maxLength: max }) },
    { weight: 1, arbitrary: nasty.filter((v) => v.length >= min && v.length <= (s.maxLength ?? Infinity)) },
  );
}

function numberArb(s: Schema, integer: boolean): fc.Arbitrary<number> {
  const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + (integer ? 1 : 1e-9) : integer ? -1_000_000 : -1e6);
  const hi = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - (integer ? 1 : 1e-9) : integer ? 1_000_000 : 1e6);
  const edges = [lo, hi].filter((v) => Number.isFinite(v));
  const core = integer ? fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) }) : fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true });
  return fc.oneof({ weight: 5, arbitrary: core }, { weight: 1, arbitrary: fc.constantFrom(...(edges.length ? edges : [0])) });
}

/** Values valid for `s` (as far as a generator can tell: the validator has the last word). */
export function valid(s: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.anyOf || s.oneOf) return fc.oneof(...(s.anyOf ?? s.oneOf)!.map((x) => valid(x, depth + 1)));
  if (s.allOf) return valid(Object.assign({}, ...s.allOf), depth + 1);
  const types = typesOf(s);
  if (types.length > 1) return fc.oneof(...types.map((t) => valid({ ...s, type: t }, depth + 1)));
  switch (types[0]) {
    case "string":
      return stringArb(s);
    case "integer":
      return numberArb(s, true);
    case "number":
      return numberArb(s, false);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      if (s.prefixItems) return fc.tuple(...s.prefixItems.map((x) => valid(x, depth + 1)));
      const min = s.minItems ?? 0;
      return fc.array(s.items ? valid(s.items, depth + 1) : fc.jsonValue(), { minLength: min, maxLength: Math.min(s.maxItems ?? 4, Math.max(min, depth > 3 ? min : 4)) });
    }
    case "object":
    case undefined: {
      if (!s.properties && types[0] === undefined) return fc.jsonValue({ maxDepth: 2 });
      const props = s.properties ?? {};
      const required = new Set(s.required ?? []);
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) shape[k] = valid(v, depth + 1);
      const known = fc.record(shape, { requiredKeys: [...required].filter((k) => k in shape) });
      if (s.additionalProperties && typeof s.additionalProperties === "object" && !s.properties) {
        const values = valid(s.additionalProperties, depth + 1);
        const keys = s.propertyNames ? (valid(s.propertyNames, depth + 1) as fc.Arbitrary<string>) : fc.string({ minLength: 1, maxLength: 12 });
        return fc.dictionary(keys, values, { maxKeys: 3 });
      }
      return known;
    }
  }
  return fc.jsonValue({ maxDepth: 2 });
}

/** A value of any JSON type, most often another than `s` allows (the validator tells which). */
export function wrongType(_s: Schema): fc.Arbitrary<unknown> {
  return fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}), fc.constant([1, "x"]));
}

/** A hostile variant of a valid value: one change somewhere inside it. */
export function mutate(s: Schema, value: unknown): fc.Arbitrary<unknown> {
  const changes: fc.Arbitrary<unknown>[] = [wrongType(s)];
  const types = typesOf(s);
  if (types.includes("string")) {
    changes.push(fc.constant("x".repeat((s.maxLength ?? 200) + 1)), fc.constant("y".repeat(100_000)), nasty, fc.constant(`${String(value)}\u0000`));
    if ((s.minLength ?? 0) > 0) changes.push(fc.constant(""));
  }
  if (types.includes("integer") || types.includes("number")) {
    changes.push(fc.constantFrom(-1, 0, 2 ** 53, -(2 ** 53), 1.5, 1e308, -1e308));
    if (s.minimum !== undefined) changes.push(fc.constant(s.minimum - 1));
    if (s.maximum !== undefined) changes.push(fc.constant(s.maximum + 1));
  }
  if (types.includes("array") && Array.isArray(value)) {
    changes.push(fc.constant([...value, ...value, ...value]), fc.constant([]));
    if (s.items && value.length) changes.push(fc.nat(value.length - 1).chain((i) => mutate(s.items!, value[i]).map((v) => value.map((x, j) => (j === i ? v : x)))));
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    changes.push(fc.constant({ ...obj, "x-unexpected": 1 }));
    const required = (s.required ?? []).filter((k) => k in obj);
    if (required.length) changes.push(fc.constantFrom(...required).map((k) => Object.fromEntries(Object.entries(obj).filter(([key]) => key !== k))));
    const mutable = keys.filter((k) => s.properties?.[k]);
    if (mutable.length) changes.push(fc.constantFrom(...mutable).chain((k) => mutate(s.properties![k], obj[k]).map((v) => ({ ...obj, [k]: v }))));
  }
  return fc.oneof(...changes);
}
