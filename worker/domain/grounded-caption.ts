/**
 * The grounded caption: a detailed caption whose phrases point at segments of its image.
 *
 * Canonical record: `{ text, spans: [{ start, end, segment_ids }] }`. `text` is NFC-normalised;
 * `start`/`end` are HALF-OPEN offsets in Unicode CODE POINTS of `text` (what Python's `len` and
 * slicing count, so the exports read the same in Python). JS strings index UTF-16 code units, where
 * an emoji or any other non-BMP character takes two, so never slice `text` with span offsets
 * directly: use `sliceCodePoints` or the offset converters below.
 *
 * Inline markup, what front ends and the merge prompt use instead:
 *
 *     A <3:man in a red jacket> walks <5,6:two dogs> on <1:the beach>.
 *
 * A tag is `<` ids `:` phrase `>`: ids are non-negative integers separated by commas (spaces
 * around them are tolerated), the phrase is everything up to the closing `>` (it may contain `:`).
 * Bare numbers are SEGMENT IDS (the panoptic ids, as in `spans[].segment_ids`). Numbers written
 * `#N` are MARK NUMBERS, the labels drawn on the set-of-marks image (`<#1,#4:two dogs>`); they are
 * resolved to segment ids through a mark → segment map the caller passes in, and one tag uses one
 * kind only, so that no number can be read both ways.
 * Tags do not nest. Escapes, valid inside and outside tags: `\<` is a literal `<`, `\>` a literal
 * `>`, `\\` a literal `\`; a backslash before any other character is itself literal (so `C:\x`
 * needs no escaping). An unescaped `>` outside a tag is an error, so that a stray bracket is
 * caught rather than silently kept. `toInline` escapes every `<`, `>` and `\` of the text.
 *
 * Parsing normalises: the phrase's own leading/trailing whitespace is kept in the text but left
 * outside the span, ids are sorted and de-duplicated, and each piece of text is NFC-normalised.
 *
 * Pure: no I/O, runs anywhere.
 */

export interface GroundedSpan {
  /** Code point offset of the first character of the phrase. */
  start: number;
  /** Code point offset just past the phrase (half-open). */
  end: number;
  /** Segment ids this phrase refers to: non-empty, ascending, unique. */
  segment_ids: number[];
}

export interface GroundedCaption {
  text: string;
  spans: GroundedSpan[];
}

/** What `parseInline` returns: spans carry the ids as written in the tags (sorted, unique). */
export interface InlineSpan {
  start: number;
  end: number;
  /** The numbers in the tag: segment ids, or mark numbers when `marks` is present. */
  ids: number[];
  /** Present when the tag wrote mark numbers (`#N`); `at` is where its id list starts in the markup. */
  marks?: { at: number };
}

export interface InlineParse {
  text: string;
  spans: InlineSpan[];
}

/** A malformed inline markup. `position` is a code point index into the markup as given. */
export class CaptionError extends Error {
  readonly position: number;
  readonly problem: string;

  constructor(position: number, problem: string) {
    super(`${problem} (at code point ${position})`);
    this.name = "CaptionError";
    this.position = position;
    this.problem = problem;
  }
}

/** Mark numbers (`#N`) that are not on the image; `marks` lists every one, ascending. */
export class UnknownMarkError extends CaptionError {
  readonly marks: number[];

  constructor(position: number, marks: number[], known: readonly number[]) {
    const list = marks.map((m) => `#${m}`).join(", ");
    super(position, `${marks.length === 1 ? `mark ${list} is` : `marks ${list} are`} not on this image (${describeMarks(known)})`);
    this.name = "UnknownMarkError";
    this.marks = marks;
  }
}

function describeMarks(known: readonly number[]): string {
  const sorted = [...known].sort((a, b) => a - b);
  if (sorted.length === 0) return "it has no marks";
  if (sorted.every((m, i) => m === i + 1)) return sorted.length === 1 ? "its only mark is #1" : `its marks are #1 to #${sorted.length}`;
  return `its marks are ${sorted.map((m) => `#${m}`).join(", ")}`;
}

/**
 * One thing wrong with a caption. `path` is relative to the caption ("text", "spans.2.end",
 * "spans.0.segment_ids"), ready to be prefixed into a problem+json `errors[].path`.
 */
export interface CaptionProblem {
  path: string;
  /** Index of the span concerned, or null for the text / the caption as a whole. */
  span: number | null;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Code points and UTF-16

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Number of code points (a lone surrogate counts as one, as in Python). */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i++;
    n++;
  }
  return n;
}

/**
 * UTF-16 offset of every code point boundary: `offsets[k]` is where code point `k` starts, and
 * `offsets[length]` is `s.length`. Use it to convert many offsets of one string at once.
 */
export function codePointOffsets(s: string): Uint32Array {
  const offsets = new Uint32Array(codePointLength(s) + 1);
  let k = 0;
  for (let i = 0; i < s.length; i++) {
    offsets[k++] = i;
    if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i++;
  }
  offsets[k] = s.length;
  return offsets;
}

/** UTF-16 offset of code point offset `cp` (0 ≤ cp ≤ codePointLength(s)); RangeError otherwise. */
export function codePointToUtf16(s: string, cp: number): number {
  if (!Number.isInteger(cp) || cp < 0) throw new RangeError(`code point offset ${cp} is not a non-negative integer`);
  let k = 0;
  let i = 0;
  while (k < cp) {
    if (i >= s.length) throw new RangeError(`code point offset ${cp} is past the end (length ${k})`);
    if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i += 2;
    else i++;
    k++;
  }
  return i;
}

/**
 * Code point offset of UTF-16 offset `u16` (0 ≤ u16 ≤ s.length). A UTF-16 offset between the two
 * halves of a surrogate pair is not a character boundary: RangeError.
 */
export function utf16ToCodePoint(s: string, u16: number): number {
  if (!Number.isInteger(u16) || u16 < 0 || u16 > s.length) throw new RangeError(`UTF-16 offset ${u16} is outside 0..${s.length}`);
  let k = 0;
  let i = 0;
  while (i < u16) {
    if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
      if (i + 1 === u16) throw new RangeError(`UTF-16 offset ${u16} splits a surrogate pair`);
      i += 2;
    } else i++;
    k++;
  }
  return k;
}

/** `s` sliced by half-open code point offsets. */
export function sliceCodePoints(s: string, start: number, end: number): string {
  const offsets = codePointOffsets(s);
  const n = offsets.length - 1;
  const a = Math.max(0, Math.min(n, start));
  const b = Math.max(a, Math.min(n, end));
  return s.slice(offsets[a], offsets[b]);
}

// ---------------------------------------------------------------------------------------------
// Inline markup

const WS = /^\s$/u;

interface Piece {
  /** Raw (unescaped, not yet normalised) text of the piece. */
  raw: string;
  /** Code point index in the markup where the piece starts (for errors). */
  at: number;
  ids: number[] | null;
  marks?: { at: number };
}

/**
 * Parses the ids between `<` and `:`; `from` is the code point index of the first id character.
 * `marks` says whether they were written as mark numbers (`#N`).
 */
function parseIds(chars: string[], from: number, to: number): { ids: number[]; marks: boolean } {
  const ids: number[] = [];
  if (chars.slice(from, to).join("").trim() === "") throw new CaptionError(from, "empty id list: a tag needs at least one segment id or mark number before ':'");
  let marks: boolean | null = null;
  let partStart = from;
  for (let p = from; p <= to; p++) {
    if (p < to && chars[p] !== ",") continue;
    const part = chars.slice(partStart, p).join("");
    const lead = part.length - part.trimStart().length;
    const at = partStart + Array.from(part.slice(0, lead)).length;
    const id = part.trim();
    if (id === "") throw new CaptionError(partStart, "empty id in the id list");
    const isMark = id.startsWith("#");
    const digits = isMark ? id.slice(1) : id;
    if (!/^[0-9]+$/.test(digits)) {
      throw new CaptionError(at, isMark ? `"${id}" is not a mark number (write #N, e.g. #3)` : `id "${id}" is not a non-negative integer`);
    }
    if (marks !== null && marks !== isMark) {
      throw new CaptionError(at, "a tag mixes mark numbers (#N) and segment ids: write all of its references one way");
    }
    marks = isMark;
    const value = Number(digits);
    if (!Number.isSafeInteger(value)) throw new CaptionError(at, `id ${id} is too large`);
    ids.push(value);
    partStart = p + 1;
  }
  return { ids: [...new Set(ids)].sort((a, b) => a - b), marks: marks === true };
}

/**
 * Parses inline markup into text and spans (code point offsets of the NFC text). Throws
 * `CaptionError` with the code point position in `markup` for: an unclosed `<`, a tag with no
 * `:`, an empty or non-numeric id list, an empty phrase, a `<` inside a tag, a `>` outside one.
 */
export function parseInline(markup: string): InlineParse {
  const chars = Array.from(markup);
  const pieces: Piece[] = [];
  let plain = "";
  let plainAt = 0;

  const flushPlain = (next: number) => {
    if (plain !== "") pieces.push({ raw: plain, at: plainAt, ids: null });
    plain = "";
    plainAt = next;
  };

  let p = 0;
  while (p < chars.length) {
    const ch = chars[p];
    if (ch === "\\") {
      const next = chars[p + 1];
      if (next === "<" || next === ">" || next === "\\") {
        plain += next;
        p += 2;
      } else {
        plain += ch;
        p++;
      }
      continue;
    }
    if (ch === ">") throw new CaptionError(p, "'>' outside a tag (write \\> for a literal '>')");
    if (ch !== "<") {
      plain += ch;
      p++;
      continue;
    }

    // A tag: `<` ids `:` phrase `>`.
    const open = p;
    let colon = -1;
    for (let q = open + 1; q < chars.length; q++) {
      const c = chars[q];
      if (c === ":") {
        colon = q;
        break;
      }
      if (c === "<") throw new CaptionError(q, "'<' inside a tag (tags do not nest; write \\< for a literal '<')");
      if (c === ">") throw new CaptionError(q, "tag has no ':' between its ids and its phrase");
    }
    if (colon < 0) throw new CaptionError(open, "'<' opens a tag that is never closed (write \\< for a literal '<')");
    const { ids, marks } = parseIds(chars, open + 1, colon);

    let phrase = "";
    let close = -1;
    for (let q = colon + 1; q < chars.length; q++) {
      const c = chars[q];
      if (c === "\\") {
        const next = chars[q + 1];
        if (next === "<" || next === ">" || next === "\\") {
          phrase += next;
          q++;
        } else phrase += c;
        continue;
      }
      if (c === "<") throw new CaptionError(q, "'<' inside a tag (tags do not nest; write \\< for a literal '<')");
      if (c === ">") {
        close = q;
        break;
      }
      phrase += c;
    }
    if (close < 0) throw new CaptionError(open, "'<' opens a tag that is never closed (write \\< for a literal '<')");

    const m = /^(\s*)([\s\S]*?)(\s*)$/u.exec(phrase)!;
    const [, lead, core, trail] = m;
    if (core === "") throw new CaptionError(colon + 1, "empty phrase: a tag must ground some text");
    flushPlain(colon + 1);
    plain = lead;
    flushPlain(colon + 1 + Array.from(lead).length);
    pieces.push({ raw: core, at: colon + 1 + Array.from(lead).length, ids, ...(marks ? { marks: { at: open + 1 } } : {}) });
    plainAt = close - Array.from(trail).length;
    plain = trail;
    flushPlain(close + 1);
    p = close + 1;
  }
  flushPlain(chars.length);

  // Normalise piece by piece so that offsets stay exact, then make sure the whole is NFC too
  // (it is not when a tag boundary separates a character from a combining mark it composes with).
  const normalised = pieces.map((piece) => piece.raw.normalize("NFC"));
  const text = normalised.join("");
  if (text.normalize("NFC") !== text) {
    let prefix = "";
    for (let k = 0; k < normalised.length; k++) {
      const next = prefix + normalised[k];
      if (k > 0 && next.normalize("NFC") !== next) {
        throw new CaptionError(pieces[k].at, "a tag boundary separates a character from the combining mark(s) that follow it");
      }
      prefix = next;
    }
  }

  const spans: InlineSpan[] = [];
  let offset = 0;
  for (let k = 0; k < pieces.length; k++) {
    const len = codePointLength(normalised[k]);
    const { ids, marks } = pieces[k];
    if (ids !== null) spans.push({ start: offset, end: offset + len, ids, ...(marks ? { marks } : {}) });
    offset += len;
  }
  return { text, spans };
}

/**
 * `parseInline` into the canonical record (`ids` → `segment_ids`). Mark numbers (`#N`) are
 * resolved through `segmentOfMark` (mark number → segment id of the image the caption describes);
 * marks not in it are an `UnknownMarkError` naming every one, and a markup with marks but no map
 * is a `CaptionError`.
 */
export function captionFromInline(markup: string, segmentOfMark?: ReadonlyMap<number, number>): GroundedCaption {
  const { text, spans } = parseInline(markup);
  const unknown = new Set<number>();
  let firstUnknownAt = -1;
  const resolved = spans.map((s) => {
    if (!s.marks) return { start: s.start, end: s.end, segment_ids: s.ids };
    if (!segmentOfMark) throw new CaptionError(s.marks.at, "mark numbers (#N) cannot be resolved here: use segment ids");
    const ids: number[] = [];
    for (const mark of s.ids) {
      const id = segmentOfMark.get(mark);
      if (id !== undefined) ids.push(id);
      else {
        if (unknown.size === 0) firstUnknownAt = s.marks.at;
        unknown.add(mark);
      }
    }
    return { start: s.start, end: s.end, segment_ids: [...new Set(ids)].sort((a, b) => a - b) };
  });
  if (unknown.size > 0) throw new UnknownMarkError(firstUnknownAt, [...unknown].sort((a, b) => a - b), [...segmentOfMark!.keys()]);
  return { text, spans: resolved };
}

function escapeInline(s: string): string {
  return s.replace(/[\\<>]/g, (c) => "\\" + c);
}

/**
 * The inline markup of a caption; `captionFromInline(toInline(c))` equals `c`. Throws an Error
 * listing the problems when the caption is not structurally valid (see `validateCaption`; ids
 * need not be known here), since such a caption has no faithful inline form.
 */
export function toInline(caption: GroundedCaption): string {
  const problems = validateCaption(caption);
  if (problems.length > 0) {
    throw new Error(`caption cannot be written inline: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`);
  }
  const offsets = codePointOffsets(caption.text);
  let out = "";
  let at = 0;
  for (const span of caption.spans) {
    out += escapeInline(caption.text.slice(offsets[at], offsets[span.start]));
    out += `<${span.segment_ids.join(",")}:${escapeInline(caption.text.slice(offsets[span.start], offsets[span.end]))}>`;
    at = span.end;
  }
  out += escapeInline(caption.text.slice(offsets[at]));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validation

const COMBINING = /^\p{M}$/u;

/**
 * Every problem of a caption: text not NFC; spans unsorted, overlapping, empty, out of the text,
 * with whitespace at either end, or cutting a character from its combining marks; ids missing,
 * not non-negative integers, unsorted or repeated, or (when `knownIds` is given) not in it.
 */
export function validateCaption(caption: GroundedCaption, knownIds?: ReadonlySet<number>): CaptionProblem[] {
  const problems: CaptionProblem[] = [];
  const { text, spans } = caption;
  if (typeof text !== "string") return [{ path: "text", span: null, message: "text must be a string" }];
  if (text.normalize("NFC") !== text) problems.push({ path: "text", span: null, message: "text is not NFC-normalised" });
  if (!Array.isArray(spans)) return [...problems, { path: "spans", span: null, message: "spans must be an array" }];

  const chars = Array.from(text);
  const length = chars.length;
  let prev: { start: number; end: number; index: number } | null = null;

  spans.forEach((span, i) => {
    const at = (field: string, message: string) => problems.push({ path: `spans.${i}.${field}`, span: i, message });
    const { start, end } = span;
    let bounded = true;
    if (!Number.isInteger(start) || start < 0) {
      at("start", "start must be a non-negative integer");
      bounded = false;
    }
    if (!Number.isInteger(end) || end < 0) {
      at("end", "end must be a non-negative integer");
      bounded = false;
    }
    if (bounded) {
      if (end > length) {
        at("end", `end ${end} is past the end of the text (${length} code points)`);
        bounded = false;
      } else if (end < start) {
        at("end", `end ${end} is before start ${start}`);
        bounded = false;
      } else if (end === start) {
        at("end", "span is empty");
        bounded = false;
      }
    }
    if (bounded) {
      if (WS.test(chars[start])) at("start", "span starts with whitespace (spans must be trimmed)");
      if (WS.test(chars[end - 1])) at("end", "span ends with whitespace (spans must be trimmed)");
      if (COMBINING.test(chars[start])) at("start", "span starts inside a character (on a combining mark)");
      if (end < length && COMBINING.test(chars[end])) at("end", "span ends inside a character (before a combining mark)");
      if (prev !== null) {
        if (start < prev.start) at("start", `spans are not sorted: span ${i} starts before span ${prev.index}`);
        else if (start < prev.end) at("start", `span ${i} overlaps span ${prev.index}`);
      }
      prev = { start, end, index: i };
    }

    const ids = span.segment_ids;
    if (!Array.isArray(ids) || ids.length === 0) {
      at("segment_ids", "a span must refer to at least one segment");
      return;
    }
    ids.forEach((id, k) => {
      if (!Number.isSafeInteger(id) || id < 0) {
        problems.push({ path: `spans.${i}.segment_ids.${k}`, span: i, message: `${String(id)} is not a non-negative integer id` });
      } else if (knownIds !== undefined && !knownIds.has(id)) {
        problems.push({ path: `spans.${i}.segment_ids.${k}`, span: i, message: `segment ${id} is not a segment of this image` });
      }
      if (k > 0 && !(ids[k - 1] < id)) {
        problems.push({ path: `spans.${i}.segment_ids.${k}`, span: i, message: ids[k - 1] === id ? `segment ${id} is listed twice` : "segment ids must be in ascending order" });
      }
    });
  });
  return problems;
}

/** Code point offsets → UTF-16 offsets of every span (e.g. for highlighting in a browser). */
export function spansToUtf16<S extends { start: number; end: number }>(text: string, spans: readonly S[]): S[] {
  const offsets = codePointOffsets(text);
  const n = offsets.length - 1;
  return spans.map((s) => {
    if (s.start < 0 || s.end > n || s.start > s.end) throw new RangeError(`span [${s.start}, ${s.end}) is outside the text (${n} code points)`);
    return { ...s, start: offsets[s.start], end: offsets[s.end] };
  });
}

/** UTF-16 offsets → code point offsets of every span (e.g. from a browser's selection). */
export function spansFromUtf16<S extends { start: number; end: number }>(text: string, spans: readonly S[]): S[] {
  return spans.map((s) => ({ ...s, start: utf16ToCodePoint(text, s.start), end: utf16ToCodePoint(text, s.end) }));
}
