/**
 * Strict parsing of VLM answers. Nothing is silently dropped: every mark that is missing, every
 * key that is not one of the listed marks and every unusable text is reported, and the status
 * says whether the draft is whole ("ready"), usable with gaps ("partial") or unusable ("failed").
 *
 * Tolerated around an answer, because VLMs (and chat templates) add them even when told not to:
 * whitespace, and ONE Markdown code fence (```json … ``` or ``` … ```) around the whole answer.
 * Anything else around the JSON ("Sure! Here it is: {…}") fails: guessing where the JSON starts
 * would hide a model that does not follow the prompt.
 *
 * Also tolerated for round 1: the object wrapped as `{"regions": {…}}` (the only key), which
 * instruction-tuned models produce when asked for "an object of regions". A mark numbered like a
 * word is impossible (keys must be positive integers), so the wrapper cannot be confused with a
 * region.
 */
import { z } from "zod";
import { CaptionError, codePointLength, parseInline } from "../domain/grounded-caption.ts";

/** Longest region text kept, in code points; a longer one is reported in `invalid`. */
export const MAX_REGION_TEXT = 2000;

export type AnswerStatus = "ready" | "partial" | "failed";

export interface RegionsAnswer {
  status: AnswerStatus;
  /** Mark number → its description (trimmed, NFC). */
  regions: Record<number, string>;
  /** Listed marks with no usable description (absent, or listed in `invalid`), ascending. */
  missing: number[];
  /** Keys of the answer that are not listed marks (text dropped), in answer order. */
  unknown: string[];
  /** Listed marks whose value was unusable: not a string, empty, or over MAX_REGION_TEXT. */
  invalid: { mark: number; problem: string }[];
  /** Why the answer failed (status "failed" only). */
  reason?: string;
}

export interface MergeAnswer {
  status: AnswerStatus;
  /** Spans in code points of `text`; `marks` are MARK NUMBERS (map them to segment ids). */
  caption: { text: string; spans: { start: number; end: number; marks: number[] }[] } | null;
  /** Mark numbers used in tags but not listed, ascending; filtered out of their tags. */
  unknownMarks: number[];
  /** Listed marks no tag refers to, ascending (informational: does not change the status). */
  unreferencedMarks: number[];
  /** Everything reported, in reading order. */
  errors: string[];
  reason?: string;
}

const FENCE = /^```[A-Za-z0-9_-]*[ \t]*\r?\n([\s\S]*?)\r?\n?```$/;

/** The answer without surrounding whitespace and without one enclosing code fence. */
export function stripFence(answer: string): { body: string; offset: number } {
  const trimmed = answer.trim();
  const lead = answer.length - answer.trimStart().length;
  const m = FENCE.exec(trimmed);
  if (!m) return { body: trimmed, offset: lead };
  const inner = m[1];
  const innerStart = lead + trimmed.indexOf("\n") + 1;
  const body = inner.trim();
  return { body, offset: innerStart + (inner.length - inner.trimStart().length) };
}

const PlainObject = z.record(z.string(), z.unknown());
const RegionText = z
  .string({ error: "not a string" })
  .transform((s) => s.trim().normalize("NFC"))
  .refine((s) => s !== "", { error: "empty description" })
  .refine((s) => codePointLength(s) <= MAX_REGION_TEXT, { error: `description longer than ${MAX_REGION_TEXT} characters` });

const POSITIVE_INT = /^[1-9][0-9]*$/;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? "a string" : `a ${typeof value}`;
}

/** Parses a round-1 answer: one JSON object `{"<mark>": "<description>", …}`. */
export function parseRegionsAnswer(text: string, markNumbers: readonly number[]): RegionsAnswer {
  const listed = [...new Set(markNumbers)].sort((a, b) => a - b);
  const failed = (reason: string): RegionsAnswer => ({ status: "failed", regions: {}, missing: listed, unknown: [], invalid: [], reason });

  const { body } = stripFence(text);
  if (body === "") return failed("the answer is empty");
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    return failed(`answer is not a JSON object: ${(e as Error).message}`);
  }
  const top = PlainObject.safeParse(json);
  if (!top.success || Array.isArray(json)) return failed(`answer is not a JSON object: it is ${describe(json)}`);
  let object = top.data;
  const keys = Object.keys(object);
  if (keys.length === 1 && keys[0] === "regions") {
    const inner = PlainObject.safeParse(object.regions);
    if (!inner.success || Array.isArray(object.regions)) return failed(`"regions" is not a JSON object: it is ${describe(object.regions)}`);
    object = inner.data;
  }

  const want = new Set(listed);
  const regions: Record<number, string> = {};
  const unknown: string[] = [];
  const invalid: { mark: number; problem: string }[] = [];
  for (const [key, value] of Object.entries(object)) {
    const mark = POSITIVE_INT.test(key) ? Number(key) : NaN;
    if (!want.has(mark)) {
      unknown.push(key);
      continue;
    }
    const parsed = RegionText.safeParse(value);
    if (parsed.success) regions[mark] = parsed.data;
    else invalid.push({ mark, problem: parsed.error.issues[0]?.message ?? "invalid description" });
  }
  const missing = listed.filter((m) => regions[m] === undefined);
  const found = listed.length - missing.length;

  if (found === 0 && listed.length > 0) {
    const parts = [`no usable description for any of the ${listed.length} marks`];
    if (invalid.length > 0) parts.push(`invalid: ${invalid.map((i) => `${i.mark} (${i.problem})`).join(", ")}`);
    if (unknown.length > 0) parts.push(`unknown keys: ${unknown.map((k) => JSON.stringify(k)).join(", ")}`);
    return { status: "failed", regions: {}, missing, unknown, invalid, reason: parts.join("; ") };
  }
  const status: AnswerStatus = missing.length === 0 && unknown.length === 0 && invalid.length === 0 ? "ready" : "partial";
  return { status, regions, missing, unknown, invalid };
}

/**
 * Parses a merge answer: one caption with inline `<N:phrase>` / `<N,M:phrase>` tags (see
 * worker/domain/grounded-caption.ts for the markup and its escapes). Tags' unknown mark numbers
 * are filtered out and reported; a tag left with no mark loses its grounding (its phrase stays in
 * the text) and is reported; a caption that grounds nothing is reported. A malformed tag fails
 * the whole answer, with its position (code point index in the answer as received).
 */
export function parseMergeAnswer(text: string, markNumbers: readonly number[]): MergeAnswer {
  const listed = [...new Set(markNumbers)].sort((a, b) => a - b);
  const want = new Set(listed);
  const failed = (reason: string): MergeAnswer => ({ status: "failed", caption: null, unknownMarks: [], unreferencedMarks: listed, errors: [reason], reason });

  const { body, offset } = stripFence(text);
  if (body === "") return failed("the answer has no caption text");

  let parsed;
  try {
    parsed = parseInline(body);
  } catch (e) {
    if (e instanceof CaptionError) {
      const at = codePointLength(text.slice(0, offset)) + e.position;
      return failed(`malformed tag at character ${at} of the answer: ${e.problem}`);
    }
    throw e;
  }
  if (parsed.text.trim() === "") return failed("the answer has no caption text");

  const errors: string[] = [];
  const unknownMarks = new Set<number>();
  const referenced = new Set<number>();
  const spans: { start: number; end: number; marks: number[] }[] = [];
  const chars = Array.from(parsed.text);
  for (const span of parsed.spans) {
    const phrase = chars.slice(span.start, span.end).join("");
    const bad = span.ids.filter((id) => !want.has(id));
    const marks = span.ids.filter((id) => want.has(id));
    for (const id of bad) unknownMarks.add(id);
    if (bad.length > 0) {
      errors.push(
        marks.length > 0
          ? `tag "${phrase}" refers to unlisted mark(s) ${bad.join(", ")}: dropped from the tag`
          : `tag "${phrase}" refers only to unlisted mark(s) ${bad.join(", ")}: the phrase is kept ungrounded`,
      );
    }
    if (marks.length === 0) continue;
    for (const m of marks) referenced.add(m);
    spans.push({ start: span.start, end: span.end, marks });
  }
  if (spans.length === 0) errors.push("the caption grounds no region: it has no valid <N:phrase> tag");

  return {
    status: errors.length > 0 ? "partial" : "ready",
    caption: { text: parsed.text, spans },
    unknownMarks: [...unknownMarks].sort((a, b) => a - b),
    unreferencedMarks: listed.filter((m) => !referenced.has(m)),
    errors,
  };
}
