import { describe, expect, it } from "vitest";
import {
  MAX_EDIT_WORDS,
  checkAction,
  regionEffort,
  submissionEffort,
  suggestAction,
  wordEditDistance,
  wordSequenceDistance,
} from "../../worker/domain/edit-effort.ts";
import { sameText, words, writtenWords } from "../../worker/domain/words.ts";

/** Textbook full-matrix Levenshtein, to cross-check the trimmed, one-row version. */
function naiveDistance(a: string[], b: string[]): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push(Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/** Deterministic PRNG (mulberry32) so the random cross-check is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("words / writtenWords", () => {
  it("keeps words as written for edit distance: case and punctuation stay", () => {
    expect(writtenWords("  A Dog's, (big) bowl — 3.5 kg!  ")).toEqual(["A", "Dog's,", "(big)", "bowl", "—", "3.5", "kg!"]);
  });

  it("lower-cases, strips edge punctuation and drops punctuation-only tokens for comparison", () => {
    expect(words("  A Dog's, (big) bowl — 3.5 kg!  ")).toEqual(["a", "dog's", "big", "bowl", "3.5", "kg"]);
    expect(words("... — !?")).toEqual([]);
    expect(words("well-known «quoted» ¿qué?")).toEqual(["well-known", "quoted", "qué"]);
  });

  it("splits on Unicode whitespace (NBSP, ideographic space, NEL, line breaks) but not on zero-width space", () => {
    expect(writtenWords("a\u00a0dog\u3000cat\u0085x\r\ny\u2028z")).toEqual(["a", "dog", "cat", "x", "y", "z"]);
    expect(writtenWords("a\u200bdog")).toEqual(["a\u200bdog"]);
    expect(writtenWords("")).toEqual([]);
    expect(writtenWords(" \t\n ")).toEqual([]);
  });

  it("NFC-normalises, so combining sequences equal their precomposed form", () => {
    expect(writtenWords("cafe\u0301")).toEqual(["caf\u00e9"]);
    expect(words("CAFE\u0301")).toEqual(["caf\u00e9"]);
  });

  it("keeps emoji (symbols, not punctuation) as words, ZWJ sequences whole", () => {
    expect(words("🐶 and 👨‍👩‍👧, 👍🏽!")).toEqual(["🐶", "and", "👨‍👩‍👧", "👍🏽"]);
  });

  it("sameText ignores surrounding and repeated whitespace and NFC differences, nothing else", () => {
    expect(sameText("  a  dog\n", "a dog")).toBe(true);
    expect(sameText("cafe\u0301", "caf\u00e9")).toBe(true);
    expect(sameText("a dog", "a Dog")).toBe(false);
    expect(sameText("a dog", "a dog.")).toBe(false);
  });
});

describe("wordEditDistance", () => {
  it("handles empty texts", () => {
    expect(wordEditDistance("", "")).toBe(0);
    expect(wordEditDistance("", "a b c")).toBe(3);
    expect(wordEditDistance("a b c", "")).toBe(3);
    expect(wordEditDistance("   ", "\n")).toBe(0);
  });

  it("counts one insertion, deletion or substitution as 1", () => {
    expect(wordEditDistance("a dog", "a brown dog")).toBe(1);
    expect(wordEditDistance("a brown dog", "a dog")).toBe(1);
    expect(wordEditDistance("a dog", "a cat")).toBe(1);
    expect(wordEditDistance("dog", "a dog")).toBe(1);
    expect(wordEditDistance("a dog", "a dog sleeps")).toBe(1);
  });

  it("kitten → sitting, word for letter, is 3", () => {
    // k i t t e n → s i t t i n g: substitute k→s, e→i, insert g.
    const kitten = "cat is on on the mat"; // k=cat i=is t=on e=the n=mat
    const sitting = "dog is on on is mat now"; // s=dog g=now
    expect(wordEditDistance(kitten, sitting)).toBe(3);
    expect(wordEditDistance(sitting, kitten)).toBe(3);
  });

  it("Saturday → Sunday, word for letter, is 3", () => {
    const saturday = "sun a tall umbrella red dog a yard"; // S a t u r d a y
    const sunday = "sun umbrella near dog a yard"; // S u n d a y
    expect(wordEditDistance(saturday, sunday)).toBe(3);
  });

  it("costs a swap of two words 2 (no transpositions)", () => {
    expect(wordEditDistance("red car", "car red")).toBe(2);
  });

  it("is case-sensitive and punctuation-sensitive, whitespace-insensitive", () => {
    expect(wordEditDistance("a dog", "a Dog")).toBe(1);
    expect(wordEditDistance("a dog", "a dog.")).toBe(1);
    expect(wordEditDistance("  a\t dog\n", "a dog")).toBe(0);
  });

  it("treats canonically equivalent Unicode as equal and emoji as words", () => {
    expect(wordEditDistance("un cafe\u0301 noir", "un caf\u00e9 noir")).toBe(0);
    expect(wordEditDistance("a 🐶 on a sofa", "a 🐱 on a sofa")).toBe(1);
    expect(wordEditDistance("👍🏽", "👍🏿")).toBe(1);
  });

  it("agrees with the full-matrix algorithm on random word sequences", () => {
    const next = rng(42);
    const vocab = ["a", "dog", "cat", "red"];
    const seq = () => Array.from({ length: Math.floor(next() * 13) }, () => vocab[Math.floor(next() * vocab.length)]);
    for (let k = 0; k < 500; k++) {
      const a = seq();
      const b = seq();
      const expected = naiveDistance(a, b);
      expect(wordSequenceDistance(a, b)).toBe(expected);
      expect(wordSequenceDistance(b, a)).toBe(expected);
      expect(wordEditDistance(a.join(" "), b.join("  "))).toBe(expected);
    }
  });

  it(`works up to ${MAX_EDIT_WORDS} words per text and refuses more`, () => {
    const a = Array.from({ length: MAX_EDIT_WORDS }, (_, i) => `a${i}`);
    const b = Array.from({ length: MAX_EDIT_WORDS }, (_, i) => `b${i}`);
    expect(wordSequenceDistance(a, b)).toBe(MAX_EDIT_WORDS);
    expect(wordEditDistance(a.join(" "), a.join(" "))).toBe(0);
    expect(() => wordSequenceDistance([...a, "x"], b)).toThrow(RangeError);
    expect(() => wordEditDistance("x", [...b, "y"].join(" "))).toThrow(RangeError);
  });
});

describe("regionEffort", () => {
  it("counts edits against the draft's words", () => {
    // small→large, sits→lies, the→green
    expect(regionEffort("a small brown dog sits on the grass", "a large brown dog lies on green grass")).toEqual({
      distance: 3,
      draftWords: 8,
      editRate: 3 / 8,
      unchanged: false,
    });
  });

  it("divides by at least 1 when the draft is empty", () => {
    expect(regionEffort("", "a dog")).toEqual({ distance: 2, draftWords: 0, editRate: 2, unchanged: false });
    expect(regionEffort("", "")).toEqual({ distance: 0, draftWords: 0, editRate: 0, unchanged: true });
  });

  it("can exceed an edit rate of 1 when words are added", () => {
    expect(regionEffort("sky", "a clear blue sky at noon").editRate).toBe(5);
  });

  it("calls a whitespace- or NFC-only difference unchanged", () => {
    expect(regionEffort("A dog.", "  A   dog. ")).toEqual({ distance: 0, draftWords: 2, editRate: 0, unchanged: true });
    expect(regionEffort("cafe\u0301", "caf\u00e9").unchanged).toBe(true);
    expect(regionEffort("a dog", "a Dog").unchanged).toBe(false);
  });
});

describe("submissionEffort", () => {
  it("adds up distances and draft words over non-skipped regions", () => {
    const effort = submissionEffort([
      { action: "accepted", draft: "a dog on grass", final: "a dog on grass" }, // 0 of 4
      { action: "edited", draft: "a red car parked", final: "a blue car parked" }, // 1 of 4
      { action: "rewritten", draft: "sky", final: "a clear blue sky at noon" }, // 5 of 1
      { action: "skipped", draft: "a tree on the left", final: null }, // not counted
    ]);
    expect(effort).toEqual({
      regions: 4,
      accepted: 1,
      edited: 1,
      rewritten: 1,
      skipped: 1,
      acceptedShare: 1 / 3,
      totalDistance: 6,
      totalDraftWords: 9,
      editRate: 6 / 9,
      changedShare: 2 / 3,
    });
  });

  it("reads unchanged from the texts, not from the declared action", () => {
    const effort = submissionEffort([
      { action: "edited", draft: "a dog", final: " a dog " },
      { action: "accepted", draft: "a dog", final: "a cat" },
    ]);
    expect(effort.accepted).toBe(1);
    expect(effort.edited).toBe(1);
    expect(effort.acceptedShare).toBe(0.5);
    expect(effort.changedShare).toBe(0.5);
    expect(effort.totalDistance).toBe(1);
  });

  it("counts a non-skipped region with no final as all draft words deleted", () => {
    const effort = submissionEffort([{ action: "edited", draft: "a red car", final: null }]);
    expect(effort.totalDistance).toBe(3);
    expect(effort.editRate).toBe(1);
  });

  it("gives zero shares and rate when every region was skipped or there are none", () => {
    const allSkipped = submissionEffort([
      { action: "skipped", draft: "a dog", final: null },
      { action: "skipped", draft: "a cat", final: "" },
    ]);
    expect(allSkipped).toEqual({
      regions: 2,
      accepted: 0,
      edited: 0,
      rewritten: 0,
      skipped: 2,
      acceptedShare: 0,
      totalDistance: 0,
      totalDraftWords: 0,
      editRate: 0,
      changedShare: 0,
    });
    expect(submissionEffort([]).regions).toBe(0);
    expect(submissionEffort([]).editRate).toBe(0);
  });
});

describe("checkAction", () => {
  it("accepts consistent declarations", () => {
    expect(checkAction("accepted", "a dog", "a dog")).toBeNull();
    expect(checkAction("accepted", "a dog", "  a  dog\n")).toBeNull();
    expect(checkAction("edited", "a dog", "a brown dog")).toBeNull();
    expect(checkAction("rewritten", "a dog", "two cats on a mat")).toBeNull();
    expect(checkAction("skipped", "a dog", null)).toBeNull();
    expect(checkAction("skipped", "a dog", "  ")).toBeNull();
  });

  it("does not enforce the edited/rewritten boundary", () => {
    expect(checkAction("rewritten", "a dog", "a Dog")).toBeNull();
    expect(checkAction("edited", "a dog", "two cats on a mat")).toBeNull();
  });

  it("reports declarations that contradict the texts", () => {
    expect(checkAction("accepted", "a dog", "a Dog")).toMatch(/accepted, but the final text differs/);
    expect(checkAction("accepted", "a dog", null)).toMatch(/accepted, but no final text/);
    expect(checkAction("edited", "a dog", "a dog ")).toMatch(/edited, but the final text is the draft/);
    expect(checkAction("rewritten", "a dog", "a dog")).toMatch(/rewritten, but the final text is the draft/);
    expect(checkAction("edited", "a dog", "")).toMatch(/edited, but the final text is empty/);
    expect(checkAction("rewritten", "a dog", null)).toMatch(/rewritten, but the final text is empty/);
    expect(checkAction("skipped", "a dog", "a dog")).toMatch(/skipped, but a final text was given/);
  });
});

describe("suggestAction", () => {
  it("suggests accepted for the draft itself", () => {
    expect(suggestAction("a dog", " a dog")).toBe("accepted");
  });

  it("calls an edit rate above 0.5 a rewrite, 0.5 or less an edit", () => {
    expect(suggestAction("a b c d", "a x c d")).toBe("edited"); // 1/4
    expect(suggestAction("a b c d", "a x y d")).toBe("edited"); // 2/4 = 0.5
    expect(suggestAction("a b c d", "a x y z")).toBe("rewritten"); // 3/4
    expect(suggestAction("", "a dog")).toBe("rewritten"); // 2/max(1,0)
    expect(suggestAction("a dog", "")).toBe("rewritten"); // 2/2
  });
});
