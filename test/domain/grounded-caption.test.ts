import { describe, expect, it } from "vitest";
import {
  CaptionError,
  captionFromInline,
  codePointLength,
  codePointOffsets,
  codePointToUtf16,
  parseInline,
  sliceCodePoints,
  spansFromUtf16,
  spansToUtf16,
  toInline,
  UnknownMarkError,
  utf16ToCodePoint,
  validateCaption,
  type GroundedCaption,
} from "../../worker/domain/grounded-caption.ts";

/** What Python would say: `[text[s:e] for s, e in spans]` (code point slices). */
const phrases = (c: { text: string; spans: { start: number; end: number }[] }) => c.spans.map((s) => Array.from(c.text).slice(s.start, s.end).join(""));

function errorOf(markup: string): { position: number; problem: string } {
  try {
    parseInline(markup);
  } catch (e) {
    expect(e).toBeInstanceOf(CaptionError);
    const ce = e as CaptionError;
    return { position: ce.position, problem: ce.problem };
  }
  throw new Error(`expected ${JSON.stringify(markup)} to be rejected`);
}

describe("code points and UTF-16", () => {
  const s = "a😀b👩‍👩‍👧c𝔘"; // emoji, a ZWJ sequence (5 code points), a mathematical letter

  it("counts non-BMP characters as one code point, like Python", () => {
    expect(codePointLength("")).toBe(0);
    expect(codePointLength("abc")).toBe(3);
    expect(codePointLength("😀")).toBe(1);
    expect("😀".length).toBe(2);
    expect(codePointLength(s)).toBe(Array.from(s).length);
    expect(codePointLength(s)).toBe(10);
    expect(codePointLength("\ud800x")).toBe(2); // a lone surrogate is one code point
  });

  it("converts offsets both ways and refuses an offset inside a surrogate pair", () => {
    const offsets = codePointOffsets(s);
    expect(offsets.length).toBe(codePointLength(s) + 1);
    for (let cp = 0; cp <= codePointLength(s); cp++) {
      const u = codePointToUtf16(s, cp);
      expect(u).toBe(offsets[cp]);
      expect(utf16ToCodePoint(s, u)).toBe(cp);
    }
    expect(codePointToUtf16(s, 2)).toBe(3); // after "a😀"
    expect(() => utf16ToCodePoint(s, 2)).toThrow(/surrogate/);
    expect(() => codePointToUtf16(s, 11)).toThrow(RangeError);
    expect(() => utf16ToCodePoint(s, s.length + 1)).toThrow(RangeError);
    expect(sliceCodePoints(s, 1, 3)).toBe("😀b");
  });

  it("converts spans for a browser and back", () => {
    const spans = [{ start: 1, end: 2, tag: "x" }, { start: 9, end: 10, tag: "y" }];
    const u16 = spansToUtf16(s, spans);
    expect(u16).toEqual([{ start: 1, end: 3, tag: "x" }, { start: 13, end: 15, tag: "y" }]);
    expect(s.slice(u16[1].start, u16[1].end)).toBe("𝔘");
    expect(spansFromUtf16(s, u16)).toEqual(spans);
  });
});

describe("parseInline", () => {
  it("parses tags into text and code point spans", () => {
    const r = parseInline("A <3:man in a red jacket> walks <6,5:two dogs>.");
    expect(r.text).toBe("A man in a red jacket walks two dogs.");
    expect(r.spans).toEqual([
      { start: 2, end: 21, ids: [3] },
      { start: 28, end: 36, ids: [5, 6] },
    ]);
    expect(phrases(r)).toEqual(["man in a red jacket", "two dogs"]);
  });

  it("counts offsets in code points after emoji and other non-BMP characters", () => {
    const r = parseInline("😀😀 <1:🐕 dog> and <2:𝔘𝔫𝔦> <3:x>");
    expect(r.text).toBe("😀😀 🐕 dog and 𝔘𝔫𝔦 x");
    expect(r.spans).toEqual([
      { start: 3, end: 8, ids: [1] },
      { start: 13, end: 16, ids: [2] },
      { start: 17, end: 18, ids: [3] },
    ]);
    expect(phrases(r)).toEqual(["🐕 dog", "𝔘𝔫𝔦", "x"]);
  });

  it("keeps repeated phrases apart by position", () => {
    const r = parseInline("<1:a dog> chases <2:a dog> past <1,2:a dog>");
    expect(r.text).toBe("a dog chases a dog past a dog");
    expect(r.spans.map((s) => [s.start, s.end])).toEqual([[0, 5], [13, 18], [24, 29]]);
    expect(phrases(r)).toEqual(["a dog", "a dog", "a dog"]);
  });

  it("allows ':' in a phrase, spaces around ids, adjacent tags, and id 0; sorts and de-duplicates ids", () => {
    const r = parseInline("<7 , 2,2:ratio 3:2><0:x>");
    expect(r.text).toBe("ratio 3:2x");
    expect(r.spans).toEqual([
      { start: 0, end: 9, ids: [2, 7] },
      { start: 9, end: 10, ids: [0] },
    ]);
  });

  it("keeps a phrase's outer whitespace in the text but out of the span", () => {
    const r = parseInline("a<1:  big dog >b");
    expect(r.text).toBe("a  big dog b");
    expect(r.spans).toEqual([{ start: 3, end: 10, ids: [1] }]);
  });

  it("reads \\< \\> \\\\ as literals (inside and outside tags); other backslashes stay", () => {
    const r = parseInline("1 \\< 2 \\> 0, <4:a \\<b\\> sign> C:\\x \\\\");
    expect(r.text).toBe("1 < 2 > 0, a <b> sign C:\\x \\");
    expect(phrases(r)).toEqual(["a <b> sign"]);
  });

  it("NFC-normalises the text and counts offsets on the normalised form", () => {
    const decomposed = "Cafe\u0301 <1:cre\u0300me>";
    const r = parseInline(decomposed);
    expect(r.text).toBe("Café crème");
    expect(r.text).toBe(r.text.normalize("NFC"));
    expect(r.spans).toEqual([{ start: 5, end: 10, ids: [1] }]);
  });

  it("accepts text with no tags, and the empty string", () => {
    expect(parseInline("just words")).toEqual({ text: "just words", spans: [] });
    expect(parseInline("")).toEqual({ text: "", spans: [] });
  });

  it("reports every malformed case with its code point position in the markup", () => {
    // unclosed '<' → where the tag opens
    expect(errorOf("a <3:dog")).toMatchObject({ position: 2, problem: expect.stringContaining("never closed") });
    expect(errorOf("😀 <3")).toMatchObject({ position: 2, problem: expect.stringContaining("never closed") });
    // missing ':' → the '>' that ends the tag too early
    expect(errorOf("a <3 dog> b")).toMatchObject({ position: 8, problem: expect.stringContaining("no ':'") });
    expect(errorOf("a <3> b")).toMatchObject({ position: 4, problem: expect.stringContaining("no ':'") });
    // empty / non-numeric ids
    expect(errorOf("<:dog>")).toMatchObject({ position: 1, problem: expect.stringContaining("empty id list") });
    expect(errorOf("< :dog>")).toMatchObject({ position: 1, problem: expect.stringContaining("empty id list") });
    expect(errorOf("x <3,:dog>")).toMatchObject({ position: 5, problem: expect.stringContaining("empty id") });
    expect(errorOf("x <3,,4:dog>")).toMatchObject({ position: 5, problem: expect.stringContaining("empty id") });
    expect(errorOf("😀<a:dog>")).toMatchObject({ position: 2, problem: 'id "a" is not a non-negative integer' });
    expect(errorOf("<1, -2:dog>")).toMatchObject({ position: 4, problem: 'id "-2" is not a non-negative integer' });
    expect(errorOf("<1.5:dog>")).toMatchObject({ position: 1, problem: expect.stringContaining("1.5") });
    expect(errorOf("<99999999999999999999:dog>")).toMatchObject({ position: 1, problem: expect.stringContaining("too large") });
    // empty phrase → where the phrase should start
    expect(errorOf("a <3:> b")).toMatchObject({ position: 5, problem: expect.stringContaining("empty phrase") });
    expect(errorOf("a <3:   > b")).toMatchObject({ position: 5, problem: expect.stringContaining("empty phrase") });
    // nested '<' → the inner '<'
    expect(errorOf("<1:a <2:b> c>")).toMatchObject({ position: 5, problem: expect.stringContaining("inside a tag") });
    expect(errorOf("<1<2:b>")).toMatchObject({ position: 2, problem: expect.stringContaining("inside a tag") });
    // stray '>' outside a tag
    expect(errorOf("😀😀 a > b")).toMatchObject({ position: 5, problem: expect.stringContaining("outside a tag") });
    // a tag boundary between a character and its combining mark
    expect(errorOf("e<1:\u0301x>")).toMatchObject({ position: 4, problem: expect.stringContaining("combining") });
  });

  it("CaptionError carries position and problem in its message", () => {
    const e = new CaptionError(7, "something");
    expect(e.message).toBe("something (at code point 7)");
    expect(e).toBeInstanceOf(Error);
  });
});

describe("mark numbers in the inline form", () => {
  // An image whose marks (1 = largest segment) are not its segment ids: mark 1 is segment 30, …
  const segmentOfMark = new Map([
    [1, 30],
    [2, 10],
    [3, 20],
    [4, 7],
  ]);

  it("reads bare numbers as segment ids and #N as mark numbers, resolved through the image's marks", () => {
    const markup = "A <#4:man> walks <#3,#1:two dogs> past <5:a tree>.";
    const parsed = parseInline(markup);
    expect(parsed.spans).toEqual([
      { start: 2, end: 5, ids: [4], marks: { at: 3 } },
      { start: 12, end: 20, ids: [1, 3], marks: { at: 18 } },
      { start: 26, end: 32, ids: [5] },
    ]);
    const caption = captionFromInline(markup, segmentOfMark);
    expect(caption.text).toBe("A man walks two dogs past a tree.");
    expect(caption.spans.map((s) => s.segment_ids)).toEqual([[7], [20, 30], [5]]);
    expect(phrases(caption)).toEqual(["man", "two dogs", "a tree"]);
    // The same numbers without '#' are segment ids, whatever the marks say.
    expect(captionFromInline("<3,1:two dogs>", segmentOfMark).spans[0].segment_ids).toEqual([1, 3]);
    // Written back, a caption says segment ids: the #N form does not survive, its meaning does.
    expect(toInline(caption)).toBe("A <7:man> walks <20,30:two dogs> past <5:a tree>.");
    expect(captionFromInline(toInline(caption))).toEqual(caption);
  });

  it("tolerates spaces around marks and de-duplicates them", () => {
    expect(captionFromInline("< #2 , #2,#1 :x>", segmentOfMark).spans).toEqual([{ start: 0, end: 1, segment_ids: [10, 30] }]);
  });

  it("names every mark that is not on the image", () => {
    let error: unknown;
    try {
      captionFromInline("<#2:a> and <#9,#1:b> and <#12:c> and <#9:d>", segmentOfMark);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnknownMarkError);
    expect(error).toBeInstanceOf(CaptionError);
    const e = error as UnknownMarkError;
    expect(e.marks).toEqual([9, 12]);
    expect(e.position).toBe(12); // the id list of the first tag that names an unknown mark
    expect(e.problem).toBe("marks #9, #12 are not on this image (its marks are #1 to #4)");
    expect(() => captionFromInline("<#5:x>", segmentOfMark)).toThrow("mark #5 is not on this image (its marks are #1 to #4)");
    expect(() => captionFromInline("<#0:x>", new Map([[2, 1], [5, 3]]))).toThrow("its marks are #2, #5");
  });

  it("refuses a tag that mixes the two kinds, a malformed mark, and marks with no map to resolve them", () => {
    expect(errorOf("a <#3,5:dogs>")).toMatchObject({ position: 6, problem: expect.stringContaining("mixes mark numbers (#N) and segment ids") });
    expect(errorOf("a <3, #5:dogs>")).toMatchObject({ position: 6, problem: expect.stringContaining("mixes") });
    expect(errorOf("<#:dog>")).toMatchObject({ position: 1, problem: '"#" is not a mark number (write #N, e.g. #3)' });
    expect(errorOf("<# 3:dog>")).toMatchObject({ position: 1, problem: expect.stringContaining("not a mark number") });
    expect(errorOf("<##3:dog>")).toMatchObject({ position: 1, problem: expect.stringContaining("not a mark number") });
    expect(errorOf("<3#:dog>")).toMatchObject({ position: 1, problem: 'id "3#" is not a non-negative integer' });
    expect(errorOf("<#99999999999999999999:dog>")).toMatchObject({ position: 1, problem: expect.stringContaining("too large") });
    expect(() => captionFromInline("a <#1:dog>")).toThrow(CaptionError);
    expect(() => captionFromInline("a <#1:dog>")).toThrow(/cannot be resolved/);
    // A literal '#' in plain text or in a phrase is just text.
    expect(captionFromInline("#1 dog: <2:#1 in the race>").spans).toEqual([{ start: 8, end: 22, segment_ids: [2] }]);
  });
});

describe("toInline", () => {
  const cases: GroundedCaption[] = [
    { text: "A man in a red jacket walks two dogs.", spans: [{ start: 2, end: 21, segment_ids: [3] }, { start: 28, end: 36, segment_ids: [5, 6] }] },
    { text: "😀😀 🐕 dog and 𝔘𝔫𝔦 x", spans: [{ start: 3, end: 8, segment_ids: [1] }, { start: 13, end: 16, segment_ids: [2] }, { start: 17, end: 18, segment_ids: [3] }] },
    { text: "a dog chases a dog past a dog", spans: [{ start: 0, end: 5, segment_ids: [1] }, { start: 13, end: 18, segment_ids: [2] }, { start: 24, end: 29, segment_ids: [1, 2] }] },
    { text: "1 < 2 > 0, a <b> sign C:\\x \\", spans: [{ start: 11, end: 21, segment_ids: [4] }] },
    { text: "ab", spans: [{ start: 0, end: 1, segment_ids: [0] }, { start: 1, end: 2, segment_ids: [1] }] },
    { text: "no groundings", spans: [] },
    { text: "", spans: [] },
    { text: "👩‍👩‍👧 family", spans: [{ start: 0, end: 5, segment_ids: [9, 12] }] },
  ];

  it("round-trips losslessly, emoji and non-BMP included", () => {
    for (const c of cases) {
      expect(validateCaption(c)).toEqual([]);
      const markup = toInline(c);
      expect(captionFromInline(markup)).toEqual(c);
      expect(toInline(captionFromInline(markup))).toBe(markup);
    }
    expect(toInline(cases[0])).toBe("A <3:man in a red jacket> walks <5,6:two dogs>.");
    expect(toInline(cases[3])).toBe("1 \\< 2 \\> 0, <4:a \\<b\\> sign> C:\\\\x \\\\");
  });

  it("refuses a caption that has no faithful inline form", () => {
    expect(() => toInline({ text: "abc", spans: [{ start: 0, end: 2, segment_ids: [1] }, { start: 1, end: 3, segment_ids: [2] }] })).toThrow(/overlaps/);
    expect(() => toInline({ text: "abc", spans: [{ start: 0, end: 2, segment_ids: [] }] })).toThrow(/at least one segment/);
    expect(() => toInline({ text: "a b", spans: [{ start: 0, end: 2, segment_ids: [1] }] })).toThrow(/whitespace/);
  });
});

describe("validateCaption", () => {
  const known = new Set([1, 2, 3, 10]);
  const text = "A 😀 dog and a cat."; // 18 code points

  it("accepts a valid caption", () => {
    expect(validateCaption({ text, spans: [{ start: 2, end: 7, segment_ids: [1] }, { start: 12, end: 17, segment_ids: [2, 3] }] }, known)).toEqual([]);
  });

  it("reports each kind of problem with a path", () => {
    const problems = validateCaption(
      {
        text,
        spans: [
          { start: 12, end: 17, segment_ids: [2] }, // 0
          { start: 2, end: 7, segment_ids: [1] }, // 1: before span 0
          { start: 5, end: 9, segment_ids: [10] }, // 2: overlaps span 1
          { start: 9, end: 9, segment_ids: [1] }, // 3: empty
          { start: 10, end: 99, segment_ids: [1] }, // 4: past the end
          { start: 7, end: 8, segment_ids: [1] }, // 5: whitespace at both ends (single space)
          { start: 14, end: 15, segment_ids: [] }, // 6: no ids
          { start: 15, end: 16, segment_ids: [3, 2, 2, 7, -1] }, // 7: unsorted, duplicate, unknown, negative
          { start: 4.5, end: 6, segment_ids: [1] }, // 8: not an integer
        ],
      },
      known,
    );
    const at = (path: string) => problems.filter((p) => p.path === path).map((p) => p.message);
    expect(at("spans.1.start")).toEqual([expect.stringContaining("not sorted")]);
    expect(at("spans.2.start")).toEqual([expect.stringContaining("overlaps span 1")]);
    expect(at("spans.3.end")).toEqual(["span is empty"]);
    expect(at("spans.4.end")).toEqual([expect.stringContaining("past the end of the text (18 code points)")]);
    expect(at("spans.5.start")).toEqual([expect.stringContaining("starts with whitespace"), expect.stringContaining("overlaps span 2")]);
    expect(at("spans.5.end")).toEqual([expect.stringContaining("ends with whitespace")]);
    expect(at("spans.6.segment_ids")).toEqual(["a span must refer to at least one segment"]);
    expect(at("spans.7.segment_ids.1")).toEqual(["segment ids must be in ascending order"]);
    expect(at("spans.7.segment_ids.2")).toEqual(["segment 2 is listed twice"]);
    expect(at("spans.7.segment_ids.3")).toEqual(["segment 7 is not a segment of this image"]);
    expect(at("spans.7.segment_ids.4")).toEqual(["-1 is not a non-negative integer id", "segment ids must be in ascending order"]);
    expect(at("spans.8.start")).toEqual(["start must be a non-negative integer"]);
    expect(problems.every((p) => p.span !== null)).toBe(true);
  });

  it("reports a text that is not NFC and spans that cut a combining sequence", () => {
    const problems = validateCaption({ text: "cafe\u0301 x", spans: [{ start: 0, end: 4, segment_ids: [1] }] }, known);
    expect(problems).toEqual([
      { path: "text", span: null, message: "text is not NFC-normalised" },
      { path: "spans.0.end", span: 0, message: expect.stringContaining("combining mark") },
    ]);
  });

  it("without knownIds it checks structure only", () => {
    expect(validateCaption({ text: "ab", spans: [{ start: 0, end: 2, segment_ids: [12345] }] })).toEqual([]);
  });
});
