import { describe, expect, it } from "vitest";
import { consolidateImage, consolidateRegion, type RegionCandidate } from "../../worker/domain/consolidate.ts";
import { tokenF1 } from "../../worker/domain/text-similarity.ts";

/** All orderings of a small list, to show the result does not depend on input order. */
function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}

describe("tokenF1", () => {
  it("is 1 for identical bags regardless of case, punctuation and spacing", () => {
    expect(tokenF1("A dog.", "a dog")).toBe(1);
    expect(tokenF1("Dog", "dog")).toBe(1);
    expect(tokenF1("  (a)  DOG!! ", "a, dog")).toBe(1);
    expect(tokenF1("dog a", "a dog")).toBe(1); // a bag: order does not matter
  });

  it("matches hand-computed multiset values", () => {
    // a: the×2 cat sat on mat (6); b: the cat on a mat (5); overlap the(1) cat on mat = 4 → 2·4/11
    expect(tokenF1("The cat sat on the mat.", "the cat on a mat")).toBeCloseTo(8 / 11, 15);
    // overlap min(3,1) = 1 → P = 1/3, R = 1 → F1 = 2·(1/3)/(4/3) = 1/2
    expect(tokenF1("dog dog dog", "dog")).toBe(0.5);
    // precision 2/2, recall 2/4 → 2/3
    expect(tokenF1("red car", "a red car parked")).toBeCloseTo(2 / 3, 15);
    expect(tokenF1("a red car", "two blue trucks")).toBe(0);
  });

  it("is symmetric", () => {
    expect(tokenF1("the cat on a mat", "The cat sat on the mat.")).toBe(tokenF1("The cat sat on the mat.", "the cat on a mat"));
  });

  it("handles empty texts: both empty → 1, one empty → 0", () => {
    expect(tokenF1("", "")).toBe(1);
    expect(tokenF1("  ", "\n")).toBe(1);
    expect(tokenF1("... —", "!")).toBe(1); // punctuation only: no tokens
    expect(tokenF1("", "dog")).toBe(0);
    expect(tokenF1("dog", "— ,")).toBe(0);
  });

  it("keeps inner punctuation inside a token", () => {
    expect(tokenF1("dog's bowl", "dogs bowl")).toBe(0.5);
    expect(tokenF1("a well-known place", "a well known place")).toBeCloseTo(2 * 2 / 7, 15);
  });

  it("normalises Unicode: NFC, emoji as tokens", () => {
    expect(tokenF1("Caf\u00e9 au lait", "CAFE\u0301 AU LAIT")).toBe(1);
    // [🐶, on, a, sofa] vs [a, 🐶, on, the, sofa]: overlap 4 → 8/9
    expect(tokenF1("🐶 on a sofa", "a 🐶 on the sofa!")).toBeCloseTo(8 / 9, 15);
    expect(tokenF1("👍🏽", "👍🏿")).toBe(0);
  });
});

describe("consolidateRegion", () => {
  it("takes a single text as it is, with agreement 1", () => {
    expect(consolidateRegion([{ submissionId: "s1", text: " A dog. " }])).toEqual({
      chosen: "s1",
      text: " A dog. ",
      meanSimilarity: 1,
      agreement: 1,
    });
  });

  it("with three annotators of whom two agree, picks one of the agreeing two (the more central)", () => {
    const texts: RegionCandidate[] = [
      { submissionId: "s3", text: "a brown dog sleeping on a red sofa" },
      { submissionId: "s1", text: "a brown dog asleep on a red couch" },
      { submissionId: "s2", text: "a cat sleeping near a window" },
    ];
    // F1(s3,s1) = 12/16 = 3/4; F1(s3,s2) = 6/14 = 3/7 (a, a, sleeping); F1(s1,s2) = 4/14 = 2/7 (a, a)
    // mean: s3 = (3/4 + 3/7)/2 = 33/56, s1 = (3/4 + 2/7)/2 = 29/56, s2 = (3/7 + 2/7)/2 = 20/56
    const first = consolidateRegion(texts);
    for (const order of permutations(texts)) {
      const r = consolidateRegion(order);
      expect(r).toEqual(first); // bit-for-bit, scores included
      expect(r.chosen).toBe("s3");
      expect(r.text).toBe("a brown dog sleeping on a red sofa");
      expect(r.meanSimilarity).toBeCloseTo(33 / 56, 12);
      expect(r.agreement).toBeCloseTo((3 / 4 + 3 / 7 + 2 / 7) / 3, 12);
    }
  });

  it("picks from the agreeing pair even when the outlier has the lowest id", () => {
    const r = consolidateRegion([
      { submissionId: "a", text: "two planes in a sky" },
      { submissionId: "b", text: "A red car parked on the street." },
      { submissionId: "c", text: "a red car parked on a street" },
    ]);
    expect(["b", "c"]).toContain(r.chosen);
    // F1(b,c) = 12/14; the outlier shares one "a" with each → F1 2/12 both: b and c tie → lowest id
    expect(r.chosen).toBe("b");
  });

  it("breaks ties by the lowest submissionId in code-unit order, whatever the input order", () => {
    const two = [
      { submissionId: "sub_b", text: "a red car" },
      { submissionId: "sub_a", text: "a blue truck" },
    ];
    for (const order of permutations(two)) {
      const r = consolidateRegion(order);
      expect(r.chosen).toBe("sub_a");
      expect(r.text).toBe("a blue truck");
      expect(r.meanSimilarity).toBeCloseTo(1 / 3, 15);
      expect(r.agreement).toBeCloseTo(1 / 3, 15);
    }
    // Code units, not numbers or locale: "sub_10" < "sub_9" and "Z" < "a".
    expect(consolidateRegion([{ submissionId: "sub_9", text: "x" }, { submissionId: "sub_10", text: "y" }]).chosen).toBe("sub_10");
    expect(consolidateRegion([{ submissionId: "a", text: "x" }, { submissionId: "Z", text: "y" }]).chosen).toBe("Z");
  });

  it("treats texts that differ only in case, punctuation or NFC as agreeing fully", () => {
    const r = consolidateRegion([
      { submissionId: "b", text: "Un caf\u00e9 noir." },
      { submissionId: "a", text: "un CAFE\u0301 noir" },
      { submissionId: "c", text: "un café noir 🐶" },
    ]);
    // F1(a,b) = 1; F1(a,c) = F1(b,c) = 6/7 → a and b tie at (1 + 6/7)/2, a is lower
    expect(r.chosen).toBe("a");
    expect(r.text).toBe("un CAFE\u0301 noir"); // returned as written, not normalised
    expect(r.meanSimilarity).toBeCloseTo(13 / 14, 12);
    expect(r.agreement).toBeCloseTo((1 + 12 / 7) / 3, 12);
  });

  it("refuses an empty list and repeated submission ids", () => {
    expect(() => consolidateRegion([])).toThrow(RangeError);
    expect(() =>
      consolidateRegion([
        { submissionId: "s1", text: "a" },
        { submissionId: "s1", text: "b" },
      ]),
    ).toThrow(RangeError);
  });
});

describe("consolidateImage", () => {
  it("consolidates region by region, with skips and majority skips", () => {
    const result = consolidateImage([
      { submissionId: "c", regions: { 1: "a blue truck", 2: "grass", 3: "sky", 4: null } },
      { submissionId: "a", regions: { 1: "a red car", 2: "green grass", 3: null, 4: null } },
      { submissionId: "b", regions: { 1: "A red car.", 2: null, 3: "  ", 4: null } },
    ]);
    expect(result.regions).toEqual({
      // F1(a,b) = 1, F1(a,c) = F1(b,c) = 1/3 → agreement 5/9; a and b tie → a
      1: { chosen: "a", text: "a red car", agreement: expect.closeTo(5 / 9, 12), skippedBy: 0 },
      // one of three skipped: consolidate the other two; F1 = 2/3, tie → a
      2: { chosen: "a", text: "green grass", agreement: expect.closeTo(2 / 3, 12), skippedBy: 1 },
      // two of three skipped (a blank text is a skip): majority → no text
      3: { chosen: null, text: null, agreement: null, skippedBy: 2 },
      4: { chosen: null, text: null, agreement: null, skippedBy: 3 },
    });
    expect(result.agreement).toBeCloseTo((5 / 9 + 2 / 3) / 2, 12);
    expect(result.comparedRegions).toBe(2);
  });

  it("keeps the text when exactly half skipped", () => {
    const result = consolidateImage([
      { submissionId: "a", regions: { 7: null } },
      { submissionId: "b", regions: { 7: "a tree" } },
    ]);
    expect(result.regions[7]).toEqual({ chosen: "b", text: "a tree", agreement: null, skippedBy: 1 });
    expect(result.agreement).toBe(1);
    expect(result.comparedRegions).toBe(0);
  });

  it("drops a region the majority skipped but still records the agreement of those who wrote", () => {
    const result = consolidateImage([
      { submissionId: "a", regions: { 5: "a lamp" } },
      { submissionId: "b", regions: { 5: "a lamp" } },
      { submissionId: "c", regions: { 5: null } },
      { submissionId: "d", regions: { 5: null } },
      { submissionId: "e", regions: { 5: null } },
    ]);
    expect(result.regions[5]).toEqual({ chosen: null, text: null, agreement: 1, skippedBy: 3 });
    expect(result.agreement).toBe(1);
    expect(result.comparedRegions).toBe(1);
  });

  it("counts a segment missing from a submission as skipped by it", () => {
    const result = consolidateImage([
      { submissionId: "a", regions: { 1: "a dog", 2: "a cat" } },
      { submissionId: "b", regions: { 1: "a dog" } },
      { submissionId: "c", regions: { 1: "a dog" } },
    ]);
    expect(result.regions[2]).toEqual({ chosen: null, text: null, agreement: null, skippedBy: 2 });
    expect(result.regions[1]).toEqual({ chosen: "a", text: "a dog", agreement: 1, skippedBy: 0 });
  });

  it("agreement is 1 with fewer than two submissions", () => {
    const one = consolidateImage([{ submissionId: "a", regions: { 1: "a dog", 2: null } }]);
    expect(one).toEqual({
      regions: {
        1: { chosen: "a", text: "a dog", agreement: null, skippedBy: 0 },
        2: { chosen: null, text: null, agreement: null, skippedBy: 1 },
      },
      agreement: 1,
      comparedRegions: 0,
    });
    expect(consolidateImage([])).toEqual({ regions: {}, agreement: 1, comparedRegions: 0 });
  });

  it("does not depend on the order of submissions", () => {
    const subs = [
      { submissionId: "s1", regions: { 10: "a brown dog asleep on a red couch", 20: "blue sky" } },
      { submissionId: "s2", regions: { 10: "a cat sleeping near a window", 20: null } },
      { submissionId: "s3", regions: { 10: "a brown dog sleeping on a red sofa", 20: "a clear blue sky" } },
    ];
    const first = consolidateImage(subs);
    expect(first.regions[10].chosen).toBe("s3");
    expect(first.regions[20].chosen).toBe("s1"); // tie of two → lowest id
    for (const order of permutations(subs)) expect(consolidateImage(order)).toEqual(first);
  });
});
