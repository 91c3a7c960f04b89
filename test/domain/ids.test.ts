import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeCursor, decodePositionCursor, encodeCursor, ulid } from "../../worker/domain/ids.ts";

const CURSOR = /^[A-Za-z0-9_-]{1,400}$/;

describe("page cursors", () => {
  it("give back the key they were made from, any UTF-8 key included", () => {
    for (const key of ["img_01m8w1erg485cfw0dsm1mpq5hy", "prj_a", "voter:ß✓", "a/b+c", "x".repeat(250)]) {
      const cursor = encodeCursor(key);
      expect(cursor).toMatch(CURSOR);
      expect(decodeCursor(cursor)).toBe(key);
    }
    fc.assert(fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 100 }), (key) => decodeCursor(encodeCursor(key)) === key));
  });

  it("decode every string the documented pattern admits, so no schema-valid cursor is refused", () => {
    for (const cursor of ["0", "00000000000000000000000000000000000000000000000000000", "A", "-_", "zzzzz"]) {
      expect(typeof decodeCursor(cursor)).toBe("string");
    }
    fc.assert(fc.property(fc.stringMatching(CURSOR), (cursor) => typeof decodeCursor(cursor) === "string"));
  });

  it("keep the order of ulids, which pagination relies on", () => {
    const a = ulid(1_000);
    const b = ulid(2_000);
    expect(a < b).toBe(true);
    expect(decodeCursor(encodeCursor(a)) < decodeCursor(encodeCursor(b))).toBe(true);
  });

  it("over positions: an issued position comes back, anything else starts from the beginning", () => {
    expect(decodePositionCursor(encodeCursor("41"))).toBe(41);
    expect(decodePositionCursor(encodeCursor("forty"))).toBe(-1);
    expect(decodePositionCursor("0")).toBe(-1);
  });
});
