/**
 * Caption metrics against pycocoevalcap itself.
 *
 * Reference values: pycocoevalcap, github.com/salaniz/pycocoevalcap at commit
 * ad63453cfab57a81a02b2949b17a91fab1c3df77 (2020-11-18), its bleu/, rouge/ and cider/ scorers run
 * under Python 3.11.7 + NumPy 2.4.6, without the PTB tokenizer (the captions are already tokenized,
 * lower-cased and space-joined). To rerun:
 *
 *   mkdir -p /tmp/pkg/pycocoevalcap && git -C <clone> archive ad63453 bleu rouge cider | tar -x -C /tmp/pkg/pycocoevalcap
 *   PYTHONPATH=/tmp/pkg python3 ref.py
 *
 * with ref.py:
 *
 *   import json
 *   from pycocoevalcap.bleu.bleu import Bleu
 *   from pycocoevalcap.rouge.rouge import Rouge
 *   from pycocoevalcap.cider.cider import Cider
 *
 *   gts = {
 *       "identical": ["a man riding a horse on a beach", "a person rides a brown horse along the shore", "man on horseback near the ocean"],
 *       "no_overlap": ["a red double decker bus on a city street", "a bus parked next to a tall building"],
 *       "shorter": ["a plate of food with broccoli and rice on a wooden table", "a white plate topped with rice meat and broccoli", "dinner of chicken rice and broccoli on a plate"],
 *       "longer": ["a dog catching a frisbee", "dog jumping for a frisbee in a park"],
 *       "closest_tie": ["a cat sitting on a couch", "a grey cat is lying on the sofa", "a cat curled up asleep on a soft brown couch"],
 *       "repeated": ["a giraffe standing next to a tree", "two giraffes eating leaves from a tree", "a tall giraffe near a tree in a zoo", "giraffe and tree"],
 *       "rouge_split": ["woman umbrella", "a woman holding a large black umbrella while walking in the rain outside", "people walking on a street"],
 *       "one_word": ["a kitchen with a stove and a refrigerator", "a small kitchen with white cabinets"],
 *       "empty": ["a vase of flowers on a table", "flowers in a glass vase", "a bouquet of red roses", "roses in a vase by the window", "a table with a vase of roses"],
 *   }
 *   res = {
 *       "identical": ["a man riding a horse on a beach"],
 *       "no_overlap": ["two kittens sleep quietly"],
 *       "shorter": ["a plate of rice"],
 *       "longer": ["a brown dog is jumping high in the air to catch a red frisbee in a grassy park"],
 *       "closest_tie": ["a cat is sitting on the couch"],
 *       "repeated": ["a a a giraffe giraffe tree tree tree"],
 *       "rouge_split": ["a woman holding an umbrella in the rain"],
 *       "one_word": ["kitchen"],
 *       "empty": [""],
 *   }
 *   bleu, bleu_per = Bleu(4).compute_score(gts, res, verbose=0)
 *   rouge, rouge_per = Rouge().compute_score(gts, res)
 *   cider, cider_per = Cider().compute_score(gts, res)
 *   ids = list(gts.keys())
 *   print(json.dumps({
 *       "bleu": [float(x) for x in bleu],
 *       "bleuPerImage": {i: [float(bleu_per[k][j]) for k in range(4)] for j, i in enumerate(ids)},
 *       "rougeL": float(rouge),
 *       "rougeLPerImage": {i: float(rouge_per[j]) for j, i in enumerate(ids)},
 *       "ciderD": float(cider),
 *       "ciderDPerImage": {i: float(cider_per[j]) for j, i in enumerate(ids)},
 *   }, indent=2))
 *
 * The numbers below are its output, copied as printed (shortest round-trip repr).
 */
import { describe, expect, it } from "vitest";
import {
  bleu,
  ciderD,
  lcsLength,
  numpyMean,
  rougeL,
  rougeLCorpus,
  tokenize,
  type Tokens,
} from "../../worker/domain/caption-metrics.ts";

/** pycocoevalcap's output for the corpus below (see the header). */
const PY = {
  bleu: [0.6276033742569307, 0.4840575059278964, 0.37050269625084176, 0.2849525643242678],
  bleuPerImage: {
    identical: [0.9999999997500004, 0.9999999997410718, 0.9999999997301591, 0.9999999997163694],
    no_overlap: [9.196986024687569e-17, 1.0619764713730698e-16, 1.2753667899107654e-16, 1.6620829993657386e-16],
    shorter: [0.28650479671693785, 0.23393018692902587, 0.19865133093715326, 3.87125325572038e-05],
    longer: [0.388888888867284, 0.21389631596101674, 0.1419369740087647, 2.0895311115411017e-05],
    closest_tie: [0.9999999998571429, 0.8164965808013636, 5.1087295484226855e-06, 1.3512001545504674e-08],
    repeated: [0.6249999999218752, 0.2988071522935798, 2.4596703666592337e-06, 7.386099954758944e-09],
    rouge_split: [0.8749999998906252, 0.7071067810918459, 0.5503212080693954, 7.598356855310593e-05],
    one_word: [0.0067379469856096216, 6.737946988978591e-06, 6.737946990101585e-07, 2.1307259243972606e-07],
    empty: [0.0, 0.0, 0.0, 0.0],
  },
  rougeL: 0.5022906348782836,
  rougeLPerImage: {
    identical: 1.0,
    no_overlap: 0.0,
    shorter: 0.45864661654135336,
    longer: 0.5785907859078591,
    closest_tie: 0.7800511508951408,
    repeated: 0.505524861878453,
    rouge_split: 0.9446902654867256,
    one_word: 0.25311203319502074,
    empty: 0.0,
  },
  ciderD: 1.0921689827771202,
  ciderDPerImage: {
    identical: 3.7189256446355583,
    no_overlap: 0.0,
    shorter: 1.2338617704419885,
    longer: 0.28277289566954167,
    closest_tie: 2.0660110098163553,
    repeated: 0.6584723611734458,
    rouge_split: 1.0731054472186952,
    one_word: 0.7963717160384973,
    empty: 0.0,
  },
} as const;

/** Python's `str.split()`: whitespace-separated, no empty tokens. */
const toks = (s: string): string[] => s.split(/\s+/u).filter((t) => t !== "");

// The same corpus as ref.py, key order included (a Map keeps it).
const GTS: Record<string, string[]> = {
  identical: ["a man riding a horse on a beach", "a person rides a brown horse along the shore", "man on horseback near the ocean"],
  no_overlap: ["a red double decker bus on a city street", "a bus parked next to a tall building"],
  shorter: ["a plate of food with broccoli and rice on a wooden table", "a white plate topped with rice meat and broccoli", "dinner of chicken rice and broccoli on a plate"],
  longer: ["a dog catching a frisbee", "dog jumping for a frisbee in a park"],
  closest_tie: ["a cat sitting on a couch", "a grey cat is lying on the sofa", "a cat curled up asleep on a soft brown couch"],
  repeated: ["a giraffe standing next to a tree", "two giraffes eating leaves from a tree", "a tall giraffe near a tree in a zoo", "giraffe and tree"],
  rouge_split: ["woman umbrella", "a woman holding a large black umbrella while walking in the rain outside", "people walking on a street"],
  one_word: ["a kitchen with a stove and a refrigerator", "a small kitchen with white cabinets"],
  empty: ["a vase of flowers on a table", "flowers in a glass vase", "a bouquet of red roses", "roses in a vase by the window", "a table with a vase of roses"],
};
const RES: Record<string, string> = {
  identical: "a man riding a horse on a beach",
  no_overlap: "two kittens sleep quietly",
  shorter: "a plate of rice",
  longer: "a brown dog is jumping high in the air to catch a red frisbee in a grassy park",
  closest_tie: "a cat is sitting on the couch",
  repeated: "a a a giraffe giraffe tree tree tree",
  rouge_split: "a woman holding an umbrella in the rain",
  one_word: "kitchen",
  empty: "",
};
const IDS = Object.keys(GTS);
const gts = new Map<string, Tokens[]>(IDS.map((id) => [id, GTS[id].map(toks)]));
const res = new Map<string, Tokens>(IDS.map((id) => [id, toks(RES[id])]));

/** Both the brief's toBeCloseTo(x, 9) and a relative error of at most 1e-12 (so tiny values count too). */
function expectMatch(actual: number, expected: number): void {
  expect(actual).toBeCloseTo(expected, 9);
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12 * Math.abs(expected));
}

describe("BLEU against pycocoevalcap", () => {
  const out = bleu(gts, res);

  it("corpus BLEU-1..4", () => {
    expect(out.corpus).toHaveLength(4);
    out.corpus.forEach((v, k) => expectMatch(v, PY.bleu[k]));
  });

  it.each(IDS)("per-image BLEU-1..4: %s", (id) => {
    const want = PY.bleuPerImage[id as keyof typeof PY.bleuPerImage];
    expect(out.perImage[id]).toHaveLength(4);
    out.perImage[id].forEach((v, k) => expectMatch(v, want[k]));
  });

  it("identical candidate: BLEU-1..4 are 1 up to the 1e-9 smoothing", () => {
    for (const v of out.perImage.identical) expect(v).toBeCloseTo(1, 9);
  });

  it("no overlap: BLEU is 0 up to the 1e-15 smoothing", () => {
    for (const v of out.perImage.no_overlap) expect(v).toBeCloseTo(0, 12);
  });

  it("closest reference length breaks ties toward the shorter reference (7 words vs refs of 6 and 8: no penalty)", () => {
    // Every candidate word is in some reference, so BLEU-1 is 7/7 without a brevity penalty; had the
    // 8-word reference been chosen it would be exp(1 − 8/7) ≈ 0.867.
    expect(out.perImage.closest_tie[0]).toBeCloseTo(1, 9);
  });

  it("clipping: 'a a a giraffe giraffe tree tree tree' gets 5 of 8 unigrams (a×2, giraffe×1, tree×2)", () => {
    // Candidate (8) is longer than the closest reference (7), so no brevity penalty.
    expect(out.perImage.repeated[0]).toBeCloseTo(5 / 8, 9);
  });

  it("a one-word candidate's BLEU-2 is √(p₁·1e-6)·BP, not 0", () => {
    const bp = Math.exp(1 - 6 / 1); // closest reference: 6 words
    expect(out.perImage.one_word[0]).toBeCloseTo(1 * bp, 9);
    expect(out.perImage.one_word[1] / (Math.sqrt(1e-15 / 1e-9) * bp)).toBeCloseTo(1, 6);
  });

  it("a plain object gives the same scores", () => {
    const obj = bleu(Object.fromEntries(gts), Object.fromEntries(res));
    expect(obj.corpus).toEqual(out.corpus);
    expect(obj.perImage).toEqual(out.perImage);
  });

  it("refuses mismatched ids and images without references", () => {
    expect(() => bleu({ a: [["x"]] }, { b: ["x"] })).toThrow(RangeError);
    expect(() => bleu({ a: [] }, { a: ["x"] })).toThrow(RangeError);
  });
});

describe("ROUGE-L against pycocoevalcap", () => {
  const out = rougeLCorpus(gts, res);

  it("corpus ROUGE-L (mean of per-image)", () => {
    expectMatch(out.corpus, PY.rougeL);
  });

  it.each(IDS)("per-image ROUGE-L: %s", (id) => {
    expectMatch(out.perImage[id], PY.rougeLPerImage[id as keyof typeof PY.rougeLPerImage]);
    expectMatch(rougeL(res.get(id) ?? [], gts.get(id) ?? []), PY.rougeLPerImage[id as keyof typeof PY.rougeLPerImage]);
  });

  it("identical → 1, no overlap → 0, empty candidate → 0", () => {
    expect(rougeL(toks("a dog on a couch"), [toks("a dog on a couch")])).toBe(1);
    expect(rougeL(toks("two cats"), [toks("a dog on a couch")])).toBe(0);
    expect(rougeL([], [toks("a dog on a couch")])).toBe(0);
    expect(rougeL(toks("a dog"), [[]])).toBe(0);
  });

  it("takes max precision and max recall from different references", () => {
    // P = 7/8 from the long reference, R = 2/2 from "woman umbrella"; F_1.2 = 2.44·P·R / (R + 1.44·P).
    const p = 7 / 8;
    const r = 1;
    expect(out.perImage.rouge_split).toBeCloseTo((2.44 * p * r) / (r + 1.44 * p), 12);
    // Larger than against either reference alone.
    const cand = res.get("rouge_split") ?? [];
    for (const ref of gts.get("rouge_split") ?? []) expect(rougeL(cand, [ref])).toBeLessThan(out.perImage.rouge_split);
  });

  it("LCS length", () => {
    expect(lcsLength(toks("a b c d e"), toks("a c e"))).toBe(3);
    expect(lcsLength(toks("a c e"), toks("a b c d e"))).toBe(3);
    expect(lcsLength([], toks("a"))).toBe(0);
    expect(lcsLength(toks("x y z"), toks("z y x"))).toBe(1);
  });
});

describe("CIDEr-D against pycocoevalcap", () => {
  const out = ciderD(gts, res);

  it("corpus CIDEr-D", () => {
    expectMatch(out.corpus, PY.ciderD);
  });

  it.each(IDS)("per-image CIDEr-D: %s", (id) => {
    expectMatch(out.perImage[id], PY.ciderDPerImage[id as keyof typeof PY.ciderDPerImage]);
  });

  it("no overlap → 0; a one-image corpus → 0 (idf = log 1 = 0)", () => {
    expect(out.perImage.no_overlap).toBe(0);
    expect(ciderD({ a: [toks("a dog")] }, { a: toks("a dog") }).corpus).toBe(0);
  });

  it("document frequencies are corpus-level: the same image scores differently in another corpus", () => {
    const alone = ciderD(
      new Map([
        ["identical", gts.get("identical") ?? []],
        ["longer", gts.get("longer") ?? []],
      ]),
      new Map([
        ["identical", res.get("identical") ?? []],
        ["longer", res.get("longer") ?? []],
      ]),
    );
    expect(alone.perImage.identical).not.toBeCloseTo(out.perImage.identical, 3);
  });
});

describe("bit-for-bit agreement", () => {
  // Every value above also equals pycocoevalcap's exactly (V8's Math.pow/exp/log are its own
  // fdlibm ports, so this is the same on every platform). Were a V8 update to move a value by an
  // ulp, this test alone would fail while the 1e-12 checks above still pass: that would be a libm
  // difference, not a metric bug.
  it("all 69 recorded values are reproduced exactly", () => {
    const b = bleu(gts, res);
    const r = rougeLCorpus(gts, res);
    const c = ciderD(gts, res);
    expect(b.corpus).toEqual(PY.bleu);
    expect(b.perImage).toEqual(PY.bleuPerImage);
    expect(r.corpus).toBe(PY.rougeL);
    expect(r.perImage).toEqual(PY.rougeLPerImage);
    expect(c.corpus).toBe(PY.ciderD);
    expect(c.perImage).toEqual(PY.ciderDPerImage);
  });
});

describe("numpyMean", () => {
  it("is NumPy's pairwise-summed mean, bit for bit", () => {
    // python3 -c "import numpy as np; print(repr(float(np.mean(np.array([1/(i+3) for i in range(N)])))))"
    // N = 20 → 0.10954066251086374 (a left-to-right sum gives …372); N = 300 → 0.01596432465904621 (…188).
    const xs = (n: number) => Array.from({ length: n }, (_, i) => 1 / (i + 3));
    expect(numpyMean(xs(20))).toBe(0.10954066251086374);
    expect(numpyMean(xs(300))).toBe(0.01596432465904621);
    expect(numpyMean([1, 2, 3])).toBe(2);
  });
});

describe("tokenize", () => {
  it("lower-cases and drops the punctuation pycocoevalcap drops", () => {
    expect(tokenize("A man, riding a horse... on the beach!")).toEqual(toks("a man riding a horse on the beach"));
    expect(tokenize('The "red" bus (parked); near: a tree?')).toEqual(toks("the red bus parked near a tree"));
    expect(tokenize("A dog -- or a wolf - runs.")).toEqual(toks("a dog or a wolf runs"));
  });

  it("splits clitics as PTB does and keeps word-internal punctuation", () => {
    expect(tokenize("The dog's ball isn't red.")).toEqual(toks("the dog 's ball is n't red"));
    expect(tokenize("I can't; we cannot.")).toEqual(toks("i ca n't we can not"));
    expect(tokenize("A man in a t-shirt at 3.5 o'clock")).toEqual(toks("a man in a t-shirt at 3.5 o'clock"));
    expect(tokenize("It costs $5, 50% off")).toEqual(toks("it costs $ 5 50 % off"));
  });

  it("normalizes curly quotes and whitespace", () => {
    expect(tokenize("  \u201cA\u201d  cat\u2019s\n toy ")).toEqual(toks("a cat 's toy"));
    expect(tokenize("")).toEqual([]);
    expect(tokenize(" ... ")).toEqual([]);
  });
});
