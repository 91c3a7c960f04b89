import { describe, expect, it } from "vitest";
import { plantError } from "../../worker/domain/planted-error.ts";

const SEEDS = Array.from({ length: 40 }, (_, i) => i * 7919 + 1);
const COLOURS = ["red", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray", "silver", "beige"];

describe("plantError", () => {
  it("swaps a colour for a different colour, whole word", () => {
    for (const seed of SEEDS) {
      const out = plantError("A red balloon floats", seed)!;
      expect(out.change.kind).toBe("colour");
      expect(out.change.from).toBe("red");
      expect(COLOURS).toContain(out.change.to);
      expect(out.change.to).not.toBe("red");
      expect(out.text).toBe(`A ${out.change.to} balloon floats`);
    }
  });

  it("uses more than one replacement colour across seeds", () => {
    expect(new Set(SEEDS.map((s) => plantError("a red balloon", s)!.change.to)).size).toBeGreaterThan(3);
  });

  it("does not swap grey for gray, which is the same colour", () => {
    for (const seed of SEEDS) expect(["grey", "gray"]).not.toContain(plantError("a grey wall", seed)!.change.to);
  });

  it("keeps capitalisation", () => {
    for (const seed of SEEDS.slice(0, 10)) {
      const capital = plantError("Red balloon", seed)!;
      expect(capital.text).toMatch(/^[A-Z][a-z]+ balloon$/);
      expect(capital.change.to[0]).toBe(capital.change.to[0].toUpperCase());
      expect(plantError("A RED BALLOON", seed)!.text).toMatch(/^A [A-Z]+ BALLOON$/);
    }
  });

  it("changes a number word, keeping plural counts plural", () => {
    for (const seed of SEEDS.slice(0, 10)) {
      const out = plantError("There are two balloons", seed)!;
      expect(out.change).toEqual({ kind: "number", from: "two", to: "five" });
      expect(out.text).toBe("There are five balloons");
      expect(plantError("One balloon", seed)!.text).toBe("Three balloon");
    }
  });

  it("adds two to a digit run, whole number only", () => {
    expect(plantError("a 12 storey tower", 1)).toEqual({ text: "a 14 storey tower", change: { kind: "number", from: "12", to: "14" } });
    expect(plantError("a 98 storey tower", 1)!.text).toBe("a 100 storey tower");
    expect(plantError("the 1920s style", 1)).toBeNull();
  });

  it("swaps a side, including 'in front of' ↔ 'behind'", () => {
    expect(plantError("the lamp on the left", 3)).toEqual({ text: "the lamp on the right", change: { kind: "side", from: "left", to: "right" } });
    expect(plantError("In front of the house", 3)).toEqual({ text: "Behind the house", change: { kind: "side", from: "In front of", to: "Behind" } });
    expect(plantError("a tree behind the house", 3)!.text).toBe("a tree in front of the house");
    expect(plantError("the shelf below the window", 3)!.text).toBe("the shelf above the window");
    expect(plantError("the bottom shelf", 3)!.text).toBe("the top shelf");
  });

  it("swaps a COCO object noun, singular for singular and plural for plural", () => {
    expect(plantError("a dog sleeps", 5)).toEqual({ text: "a cat sleeps", change: { kind: "object", from: "dog", to: "cat" } });
    expect(plantError("Dogs sleep", 5)!.text).toBe("Cats sleep");
    expect(plantError("a woman smiles", 5)!.text).toBe("a man smiles");
    expect(plantError("the dog's bowl", 5)!.text).toBe("the cat's bowl");
  });

  it("drops one sentence when nothing else applies and there are at least two", () => {
    const text = "A balloon floats. It is windy! Clouds drift.";
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const out = plantError(text, seed)!;
      expect(out.change.kind).toBe("drop-sentence");
      expect(out.change.to).toBe("");
      const expected = new Map([
        ["A balloon floats.", "It is windy! Clouds drift."],
        ["It is windy!", "A balloon floats. Clouds drift."],
        ["Clouds drift.", "A balloon floats. It is windy!"],
      ]);
      expect(expected.get(out.change.from)).toBe(out.text);
      seen.add(out.change.from);
    }
    expect(seen.size).toBe(3);
  });

  it("matches whole words only: 'reddish', 'bored', 'hotdog', 'laptop' are left alone", () => {
    for (const seed of SEEDS) {
      expect(plantError("a reddish glow over a bored crowd", seed)).toBeNull();
      expect(plantError("a hotdog next to a laptop", seed)).toBeNull();
      expect(plantError("A bored crowd. A reddish glow.", seed)!.change.kind).toBe("drop-sentence");
    }
  });

  it("is null when nothing applies", () => {
    for (const seed of SEEDS) {
      expect(plantError("", seed)).toBeNull();
      expect(plantError("   ", seed)).toBeNull();
      expect(plantError("A balloon floats over the sea.", seed)).toBeNull();
    }
  });

  it("is deterministic, tries the kinds in a seeded order, and always changes the text", () => {
    const text = "A red dog sits on the left. Two kites fly above.";
    const kinds = new Set<string>();
    for (const seed of SEEDS) {
      const out = plantError(text, seed)!;
      expect(plantError(text, seed)).toEqual(out);
      expect(out.text).not.toBe(text);
      kinds.add(out.change.kind);
    }
    expect(kinds).toEqual(new Set(["colour", "number", "side", "object"]));
  });
});
