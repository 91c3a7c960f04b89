import { describe, expect, it } from "vitest";
import { MAX_REGION_TEXT, parseMergeAnswer, parseRegionsAnswer, stripFence } from "../../worker/vlm/parse.ts";

const marks = [1, 2, 5];

describe("parseRegionsAnswer", () => {
  it("ready: every mark once, texts trimmed and NFC", () => {
    const r = parseRegionsAnswer('{"1": "  A pale blue sky. ", "2": "A dog.", "5": "Cafe\u0301 sign."}', marks);
    expect(r).toEqual({ status: "ready", regions: { 1: "A pale blue sky.", 2: "A dog.", 5: "Café sign." }, missing: [], unknown: [], invalid: [] });
  });

  it("accepts whitespace and one code fence around the JSON", () => {
    const body = '{"1": "a", "2": "b", "5": "c"}';
    for (const wrapped of [`\n  ${body}\n`, "```json\n" + body + "\n```", "  ```\n" + body + "\n```  \n", "```JSON\r\n" + body + "\r\n```"]) {
      expect(parseRegionsAnswer(wrapped, marks).status).toBe("ready");
    }
  });

  it('accepts the {"regions": {...}} wrapper', () => {
    const r = parseRegionsAnswer('{"regions": {"1": "a", "2": "b", "5": "c"}}', marks);
    expect(r.status).toBe("ready");
    expect(r.regions).toEqual({ 1: "a", 2: "b", 5: "c" });
  });

  it("partial: missing marks are listed", () => {
    const r = parseRegionsAnswer('{"5": "c", "1": "a"}', marks);
    expect(r).toEqual({ status: "partial", regions: { 1: "a", 5: "c" }, missing: [2], unknown: [], invalid: [] });
  });

  it("partial: unknown marks and non-numeric keys are listed and their text dropped", () => {
    const r = parseRegionsAnswer('{"1": "a", "2": "b", "5": "c", "7": "extra", "mark 3": "x", "01": "y", "-1": "z", "2.0": "w"}', marks);
    expect(r.status).toBe("partial");
    expect(r.regions).toEqual({ 1: "a", 2: "b", 5: "c" });
    expect(r.unknown).toEqual(["7", "mark 3", "01", "-1", "2.0"]);
    expect(r.missing).toEqual([]);
  });

  it("partial: empty, non-string and oversize texts are invalid and their marks missing", () => {
    const long = "x".repeat(MAX_REGION_TEXT + 1);
    const r = parseRegionsAnswer(JSON.stringify({ 1: "   ", 2: 42, 5: long }).replace("}", ', "9": "ok"}'), [1, 2, 5, 9]);
    expect(r.status).toBe("partial");
    expect(r.regions).toEqual({ 9: "ok" });
    expect(r.missing).toEqual([1, 2, 5]);
    expect(r.invalid).toEqual([
      { mark: 1, problem: "empty description" },
      { mark: 2, problem: "not a string" },
      { mark: 5, problem: `description longer than ${MAX_REGION_TEXT} characters` },
    ]);
    // exactly at the cap is fine, counted in code points (an emoji is one)
    expect(parseRegionsAnswer(JSON.stringify({ 1: "😀".repeat(MAX_REGION_TEXT) }), [1]).status).toBe("ready");
  });

  it("failed: prose around the JSON, not JSON, not an object, nothing usable", () => {
    const prose = parseRegionsAnswer('Sure! Here are the descriptions: {"1": "a"}', marks);
    expect(prose.status).toBe("failed");
    expect(prose.reason).toMatch(/^answer is not a JSON object: /);
    expect(prose.missing).toEqual(marks);
    expect(prose.regions).toEqual({});

    expect(parseRegionsAnswer('["a", "b"]', marks)).toMatchObject({ status: "failed", reason: "answer is not a JSON object: it is an array" });
    expect(parseRegionsAnswer('"text"', marks)).toMatchObject({ status: "failed", reason: "answer is not a JSON object: it is a string" });
    expect(parseRegionsAnswer("null", marks)).toMatchObject({ status: "failed", reason: "answer is not a JSON object: it is null" });
    expect(parseRegionsAnswer("  ", marks)).toMatchObject({ status: "failed", reason: "the answer is empty" });
    expect(parseRegionsAnswer('{"regions": [1]}', marks)).toMatchObject({ status: "failed", reason: expect.stringContaining('"regions" is not a JSON object') });

    const none = parseRegionsAnswer('{"8": "a", "1": ""}', marks);
    expect(none.status).toBe("failed");
    expect(none.unknown).toEqual(["8"]);
    expect(none.missing).toEqual(marks);
    expect(none.reason).toContain("no usable description for any of the 3 marks");
    expect(none.reason).toContain('unknown keys: "8"');
    expect(none.reason).toContain("1 (empty description)");

    // a fence with text after it is not "just a fence"
    expect(parseRegionsAnswer('```json\n{"1": "a"}\n```\nHope this helps!', [1]).status).toBe("failed");
  });
});

describe("stripFence", () => {
  it("returns the inner text and its UTF-16 offset in the answer", () => {
    expect(stripFence("  hello ")).toEqual({ body: "hello", offset: 2 });
    const answer = "\n```text\n  cap <1:x>\n```\n";
    const { body, offset } = stripFence(answer);
    expect(body).toBe("cap <1:x>");
    expect(answer.slice(offset, offset + body.length)).toBe(body);
  });
});

describe("parseMergeAnswer", () => {
  it("ready: a caption with valid tags, marks sorted, offsets in code points", () => {
    const r = parseMergeAnswer("<1:The pale sky> over 😀 <5,2:two dogs> and <2:a dog>.", marks);
    expect(r).toEqual({
      status: "ready",
      caption: {
        text: "The pale sky over 😀 two dogs and a dog.",
        spans: [
          { start: 0, end: 12, marks: [1] },
          { start: 20, end: 28, marks: [2, 5] },
          { start: 33, end: 38, marks: [2] },
        ],
      },
      unknownMarks: [],
      unreferencedMarks: [],
      errors: [],
    });
  });

  it("strips a fence and reports unreferenced marks without changing the status", () => {
    const r = parseMergeAnswer("```\n<1:The sky>.\n```", marks);
    expect(r.status).toBe("ready");
    expect(r.caption?.text).toBe("The sky.");
    expect(r.unreferencedMarks).toEqual([2, 5]);
  });

  it("partial: unknown marks are filtered from tags; a tag left with none keeps its phrase ungrounded", () => {
    const r = parseMergeAnswer("<1,9:The sky> above <7:a cat> and <2:a dog>.", marks);
    expect(r.status).toBe("partial");
    expect(r.caption).toEqual({
      text: "The sky above a cat and a dog.",
      spans: [
        { start: 0, end: 7, marks: [1] },
        { start: 24, end: 29, marks: [2] },
      ],
    });
    expect(r.unknownMarks).toEqual([7, 9]);
    expect(r.errors).toEqual([
      'tag "The sky" refers to unlisted mark(s) 9: dropped from the tag',
      'tag "a cat" refers only to unlisted mark(s) 7: the phrase is kept ungrounded',
    ]);
  });

  it("partial: a caption that grounds nothing", () => {
    const r = parseMergeAnswer("A plain caption without tags.", marks);
    expect(r.status).toBe("partial");
    expect(r.caption).toEqual({ text: "A plain caption without tags.", spans: [] });
    expect(r.errors).toEqual([expect.stringContaining("grounds no region")]);
  });

  it("failed: empty, or a malformed tag (position counted in the answer as received)", () => {
    expect(parseMergeAnswer(" \n ", marks)).toMatchObject({ status: "failed", caption: null, reason: "the answer has no caption text" });
    const bad = parseMergeAnswer("😀 <1:sky and <2:dog>", marks);
    expect(bad.status).toBe("failed");
    expect(bad.caption).toBeNull();
    expect(bad.reason).toBe("malformed tag at character 13 of the answer: '<' inside a tag (tags do not nest; write \\< for a literal '<')");
    const fenced = parseMergeAnswer("```\nab <1:x\n```", marks);
    expect(fenced.reason).toMatch(/^malformed tag at character 7 of the answer: '<' opens a tag that is never closed/);
  });
});
