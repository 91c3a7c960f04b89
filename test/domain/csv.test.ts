import { describe, expect, it } from "vitest";
import { parseCsv, toCsv } from "../../worker/domain/csv.ts";

describe("toCsv", () => {
  it("writes RFC 4180: CRLF after every record, quotes only where needed, quotes doubled", () => {
    const csv = toCsv(["a", "b", "c"], [
      ["plain", "with,comma", 'say "hi"'],
      ["line\nbreak", "cr\rhere", "crlf\r\nhere"],
    ]);
    expect(csv).toBe('a,b,c\r\nplain,"with,comma","say ""hi"""\r\n"line\nbreak","cr\rhere","crlf\r\nhere"\r\n');
  });

  it("writes null and undefined as empty, numbers as String(n), booleans as words", () => {
    expect(toCsv(["x"], [[null], [undefined], [0.1 + 0.2], [-0], [1e21], [true], [false]])).toBe("x\r\n\r\n\r\n0.30000000000000004\r\n0\r\n1e+21\r\ntrue\r\nfalse\r\n");
    expect(toCsv(["n", "m"], [[null, 3]])).toBe("n,m\r\n,3\r\n");
  });

  it("leaves spaces and unicode as they are", () => {
    expect(toCsv(["name"], [[" café ☕ 日本 "]])).toBe("name\r\n café ☕ 日本 \r\n");
  });
});

describe("parseCsv", () => {
  it("reads back what toCsv wrote: commas, quotes, line breaks, unicode, empty fields", () => {
    const header = ["source", "note", "count"];
    const rows = [
      ["final", 'a "quoted", comma', "3"],
      ["vlm:qwen", "two\r\nlines\nand a lone \r", ""],
      ["import:gpt4v", "naïve — 🐕 日本語", "0"],
      ["", "", ""],
      ['"', '""', ","],
    ];
    expect(parseCsv(toCsv(header, rows))).toEqual([header, ...rows]);
  });

  it("takes LF line ends and a missing final line break", () => {
    expect(parseCsv('a,b\n1,"x\ny"\n2,z')).toEqual([["a", "b"], ["1", "x\ny"], ["2", "z"]]);
    expect(parseCsv("")).toEqual([]);
  });

  it("refuses a quote left open", () => {
    expect(() => parseCsv('a,"b\r\n')).toThrow(RangeError);
  });
});
