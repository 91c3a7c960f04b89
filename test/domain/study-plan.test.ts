import { describe, expect, it } from "vitest";
import { isRepeatChosen, planStudy, sourcePairs, type PlanInput } from "../../worker/domain/study-plan.ts";

const SOURCES = ["final", "vlm:qwen", "import:gpt4v"];
const images = (n: number) => Array.from({ length: n }, (_, i) => `img_${String(i).padStart(3, "0")}`);

function input(over: Partial<PlanInput> = {}): PlanInput {
  return { seed: 42, sources: SOURCES, candidates: images(10), sample: null, goldMarked: [], goldPlanted: [], ...over };
}

describe("sourcePairs", () => {
  it("lists every unordered pair once, earlier source first", () => {
    expect(sourcePairs(["x", "y", "z", "w"])).toEqual([
      ["x", "y"],
      ["x", "z"],
      ["x", "w"],
      ["y", "z"],
      ["y", "w"],
      ["z", "w"],
    ]);
  });
});

describe("planStudy", () => {
  it("is the same plan from the same input and seed, and a different order from another seed", () => {
    const one = planStudy(input());
    expect(planStudy(input())).toEqual(one);
    const other = planStudy(input({ seed: 43 }));
    const order = (p: typeof one) => p.pairs.map((x) => `${x.imageId}/${x.a}/${x.b}`);
    expect(new Set(order(other))).toEqual(new Set(order(one)));
    expect(order(other)).not.toEqual(order(one));
  });

  it("does not depend on the order candidates arrive in", () => {
    const shuffled = [...images(10)].reverse();
    expect(planStudy(input({ candidates: shuffled, sample: 4 }))).toEqual(planStudy(input({ sample: 4 })));
  });

  it("gives every chosen image every source pair exactly once, so every pair type occurs equally often", () => {
    const plan = planStudy(input());
    expect(plan.images).toEqual(images(10));
    expect(plan.pairs).toHaveLength(10 * 3);
    expect(plan.pairs.map((p) => p.position)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    const keys = plan.pairs.map((p) => `${p.imageId}|${p.a}|${p.b}`);
    expect(new Set(keys).size).toBe(30);
    const perKind = new Map<string, number>();
    for (const p of plan.pairs) perKind.set(`${p.a}|${p.b}`, (perKind.get(`${p.a}|${p.b}`) ?? 0) + 1);
    expect(Object.fromEntries(perKind)).toEqual({ "final|vlm:qwen": 10, "final|import:gpt4v": 10, "vlm:qwen|import:gpt4v": 10 });
    expect(plan.pairs.every((p) => p.kind === "pair" && p.goldAnswer === null)).toBe(true);
    // Shuffled: the queue is not the image-by-image order it was built in.
    const built = images(10).flatMap((img) => sourcePairs(SOURCES).map(([a, b]) => `${img}|${a}|${b}`));
    expect(keys).not.toEqual(built);
    expect([...keys].sort()).toEqual([...built].sort());
  });

  it("samples min(sample, candidates) distinct candidates", () => {
    const plan = planStudy(input({ candidates: images(50), sample: 7 }));
    expect(plan.images).toHaveLength(7);
    expect(new Set(plan.images).size).toBe(7);
    expect(plan.images.every((i) => images(50).includes(i))).toBe(true);
    expect(plan.images).toEqual([...plan.images].sort());
    expect(plan.pairs).toHaveLength(7 * 3);
    expect(new Set(plan.pairs.map((p) => p.imageId))).toEqual(new Set(plan.images));
    expect(planStudy(input({ candidates: images(5), sample: 9 })).images).toEqual(images(5));
    expect(planStudy(input({ sample: 0 })).pairs).toEqual([]);
  });

  it("samples each candidate about equally often over seeds (2 of 5: 40 % each)", () => {
    const chosen = new Map<string, number>();
    const seeds = 4000;
    for (let seed = 0; seed < seeds; seed++) for (const img of planStudy(input({ seed, candidates: images(5), sample: 2 })).images) chosen.set(img, (chosen.get(img) ?? 0) + 1);
    // Binomial(4000, 0.4) has sd ≈ 31: allow five of them.
    for (const img of images(5)) expect(Math.abs(chosen.get(img)! - 1600)).toBeLessThan(155);
  });

  it("adds gold pairs after the regular ones: marked with the better side as answer, planted against a corrupted copy", () => {
    const plan = planStudy(
      input({
        candidates: images(2),
        goldMarked: [{ imageId: "g1", better: "vlm:qwen", worse: "final" }],
        goldPlanted: [{ imageId: "g2", from: "import:gpt4v" }],
      }),
    );
    expect(plan.pairs).toHaveLength(6);
    expect(plan.gold).toEqual([
      { position: 6, imageId: "g1", a: "vlm:qwen", b: "final", kind: "gold", goldAnswer: "vlm:qwen" },
      { position: 7, imageId: "g2", a: "import:gpt4v", b: "planted:import:gpt4v", kind: "gold", goldAnswer: "import:gpt4v" },
    ]);
  });

  it.each([
    ["fewer than 2 sources", { sources: ["final"] }, /at least 2 sources/],
    ["duplicate sources", { sources: ["final", "vlm:qwen", "final"] }, /duplicate source: final/],
    ["a marked gold source not in the study", { goldMarked: [{ imageId: "g", better: "final", worse: "vlm:other" }] }, /vlm:other is not a source/],
    ["better === worse", { goldMarked: [{ imageId: "g", better: "final", worse: "final" }] }, /both final/],
    ["a planted gold source not in the study", { goldPlanted: [{ imageId: "g", from: "nope" }] }, /nope is not a source/],
    ["a negative sample", { sample: -1 }, /non-negative integer/],
  ])("refuses %s with a RangeError", (_, over, message) => {
    expect(() => planStudy(input(over as Partial<PlanInput>))).toThrow(RangeError);
    expect(() => planStudy(input(over as Partial<PlanInput>))).toThrow(message);
  });
});

describe("isRepeatChosen", () => {
  it("never at share 0, always at share 1, and stable", () => {
    for (let p = 0; p < 500; p++) {
      expect(isRepeatChosen(7, "voter-a", p, 0)).toBe(false);
      expect(isRepeatChosen(7, "voter-a", p, 1)).toBe(true);
      expect(isRepeatChosen(7, "voter-a", p, 0.5)).toBe(isRepeatChosen(7, "voter-a", p, 0.5));
    }
  });

  it.each([0.05, 0.1, 0.3, 0.75])("chooses about share %s of 10,000 (voter, pair) draws", (share) => {
    let chosen = 0;
    for (let v = 0; v < 100; v++) for (let p = 0; p < 100; p++) if (isRepeatChosen(12345, `user_${v}`, p, share)) chosen++;
    expect(Math.abs(chosen / 10_000 - share)).toBeLessThan(0.02);
  });

  it("is monotone in share (a larger share keeps every repeat a smaller one chose)", () => {
    for (let p = 0; p < 300; p++) if (isRepeatChosen(1, "v", p, 0.2)) expect(isRepeatChosen(1, "v", p, 0.4)).toBe(true);
  });

  it("depends on the seed and the voter", () => {
    const pattern = (seed: number, voter: string) => Array.from({ length: 200 }, (_, p) => isRepeatChosen(seed, voter, p, 0.5));
    expect(pattern(1, "v")).not.toEqual(pattern(2, "v"));
    expect(pattern(1, "v")).not.toEqual(pattern(1, "w"));
  });
});
