import { describe, expect, it } from "vitest";
import { MAX_IMPORTED_CAPTION, parseCaptionLine } from "../../worker/domain/caption-lines.ts";

describe("a caption-set line", () => {
  it("names its image by id or by external id (an integer external id is read as its digits)", () => {
    expect(parseCaptionLine('{"image_id": "img_01jd5v6w7x8y9z0a1b2c3d4e5f", "text": " Two cats. "}', 1)).toEqual({
      line: 1,
      imageId: "img_01jd5v6w7x8y9z0a1b2c3d4e5f",
      externalId: null,
      text: "Two cats.",
    });
    expect(parseCaptionLine('{"external_id": 39769, "text": "Two cats."}', 2)).toMatchObject({ externalId: "39769", imageId: null });
  });

  it("is skipped when blank", () => {
    expect(parseCaptionLine("   \r", 3)).toBeNull();
  });

  it("says what is wrong, at which line and field", () => {
    const cases: [string, string, RegExp][] = [
      ["{oops", "line 4", /JSON/],
      ["[1, 2]", "line 4", /object/],
      ['{"text": "x"}', "line 4", /exactly one/],
      ['{"image_id": "img_01jd5v6w7x8y9z0a1b2c3d4e5f", "external_id": "1", "text": "x"}', "line 4", /exactly one/],
      ['{"image_id": "../etc", "text": "x"}', "line 4.image_id", /not an image id/],
      ['{"external_id": "", "text": "x"}', "line 4.external_id", /1–200/],
      ['{"external_id": "1", "text": 5}', "line 4.text", /string/],
      ['{"external_id": "1", "text": "   "}', "line 4.text", /empty/],
      ['{"external_id": "1", "text": "x", "source": "gpt4v"}', "line 4.source", /unknown field/],
      [JSON.stringify({ external_id: "1", text: "x".repeat(MAX_IMPORTED_CAPTION + 1) }), "line 4.text", /longer than/],
    ];
    for (const [raw, path, message] of cases) {
      const e = parseCaptionLine(raw, 4) as { path: string; message: string };
      expect(e.path, raw.slice(0, 40)).toBe(path);
      expect(e.message, raw.slice(0, 40)).toMatch(message);
    }
  });

  it("counts the length in characters, not UTF-16 units, after NFC", () => {
    const emoji = "😀".repeat(MAX_IMPORTED_CAPTION);
    expect(parseCaptionLine(JSON.stringify({ external_id: "1", text: emoji }), 5)).toMatchObject({ text: emoji });
    expect(parseCaptionLine(JSON.stringify({ external_id: "1", text: "e\u0301" }), 6)).toMatchObject({ text: "é" });
  });
});
