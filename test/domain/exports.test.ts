import { describe, expect, it } from "vitest";
import { captionFromInline, toInline, type GroundedCaption } from "../../worker/domain/grounded-caption.ts";
import {
  ExportError,
  checkFinalImage,
  toNdjson,
  toPancap,
  toRefer,
  toRegions,
  toT2i,
  type FinalImage,
  type FinalSegment,
} from "../../worker/domain/exports.ts";
import { LLAVA_PROMPT, fromLlava, llavaText, toLlava } from "../../worker/domain/export-llava.ts";
import { fromGcg, gcgPhraseKeys, toGcg, type GcgInput } from "../../worker/domain/export-gcg.ts";
import { decodeRle, encodeRleForAll, rleArea, type CocoRle } from "../../worker/domain/rle.ts";
import { decodePanoptic } from "../../worker/imaging/panoptic.ts";
import { sample, sampleMissingReason } from "../support/sample.ts";

/** What Python would say: `text[start:end]` (code point slices). */
const py = (text: string, start: number, end: number) => Array.from(text).slice(start, end).join("");

// A 4×6 panoptic map: every segment of the fixtures has some pixels.
const W = 6;
const H = 4;
// prettier-ignore
const IDS = Uint32Array.from([
  1, 1, 2, 2, 3, 3,
  1, 4, 4, 5, 5, 3,
  6, 6, 7, 7, 8, 8,
  9, 9, 9, 0, 8, 8,
]);
const MAP = { width: W, height: H, ids: IDS };
const CATEGORY: Record<number, [string, number, boolean]> = {
  1: ["sky-other-merged", 187, false],
  2: ["tree-merged", 184, false],
  3: ["dog", 18, true],
  4: ["cat", 17, true],
  5: ["cat", 17, true],
  6: ["person", 1, true],
  7: ["dog", 18, true],
  8: ["dog", 18, true],
  9: ["grass-merged", 193, false],
};

function segmentsOf(): FinalSegment[] {
  return Object.entries(CATEGORY).map(([key, [category, category_id, isthing]]) => {
    const id = Number(key);
    let area = 0;
    let x0 = W;
    let y0 = H;
    let x1 = -1;
    let y1 = -1;
    IDS.forEach((v, i) => {
      if (v !== id) return;
      area++;
      const x = i % W;
      const y = Math.floor(i / W);
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    });
    return { id, category_id, category, isthing, area, bbox: [x0, y0, x1 - x0 + 1, y1 - y0 + 1], iscrowd: false };
  });
}

function finalImage(markup: string, extra: Partial<FinalImage> = {}): FinalImage {
  return {
    image: { id: "img_01", file_name: "000000000001.jpg", width: W, height: H, external_id: "1" },
    caption: captionFromInline(markup),
    caption_version: 3,
    segments: segmentsOf(),
    regions: [
      { segment_id: 3, text: "a brown dog 🐕", draft_text: "a dog", source: "consolidated" },
      { segment_id: 1, text: "blue sky", draft_text: "sky", source: "adjudicated" },
      { segment_id: 4, text: null, draft_text: "a cat", source: "consolidated" },
      { segment_id: 5, text: "  ", draft_text: null, source: "consolidated" },
    ],
    ...extra,
  };
}

const RLES = encodeRleForAll(MAP, Object.keys(CATEGORY).map(Number));

/** Through JSON and back, as a consumer of the NDJSON line would read it. */
const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value));

function exportErrorOf(f: () => unknown): ExportError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ExportError);
    return e as ExportError;
  }
  throw new Error("expected an ExportError");
}

const EMOJI = "🐕 a <3:dog 🐕> and <4,5:two 🐈 cats> on <9:grass>, 🐈‍⬛ <7:🐕>!🐈";
const REPEATED = "<3:dog> chases <7:dog>; <8:dog> naps near <6:dog (2)> and <1:sky>, <2:dog>.";

describe("round trips canonical ↔ inline ↔ gcg", () => {
  const cases: [string, string][] = [
    ["non-BMP characters before, inside and after spans", EMOJI],
    ["repeated phrases grounded to different segments", REPEATED],
    ["multi-segment spans and an escaped markup", "A \\<b\\> <4,5:pair of cats> next to <6,7,8:a man and two dogs> \\\\ end"],
    ["a caption without groundings", "Nothing grounded here 🐕."],
    ["spans at both ends", "<1:sky> over <9:grass>"],
  ];
  for (const [name, markup] of cases) {
    it(name, () => {
      const fi = finalImage(markup);
      const caption = fi.caption;
      expect(toInline(caption)).toBe(markup);
      expect(captionFromInline(toPancap(fi).inline)).toEqual(caption);

      const gcg = viaJson(toGcg(fi, RLES));
      expect(gcg.caption).toBe(caption.text);
      const positions = Object.values(gcg.groundings).map((g) => g.token_positives);
      expect(positions.sort((a, b) => a[0] - b[0])).toEqual(caption.spans.map((s) => [s.start, s.end]));
      // Through the masks, through segment_ids, then back to the inline markup: nothing lost.
      expect(fromGcg(gcg, RLES)).toEqual(caption);
      const withoutMasks = viaJson(gcg) as GcgInput;
      for (const g of Object.values(withoutMasks.groundings)) delete g.rle_masks;
      expect(fromGcg(withoutMasks)).toEqual(caption);
      const withoutIds = viaJson(gcg) as GcgInput;
      for (const g of Object.values(withoutIds.groundings)) delete g.segment_ids;
      expect(fromGcg(withoutIds, RLES)).toEqual(caption);
      expect(toInline(fromGcg(gcg, RLES))).toBe(markup);

      const llava = viaJson(toLlava(fi));
      expect(fromLlava(llava)).toEqual(caption);
      expect(llavaText(llava.conversations[1].value)).toBe(caption.text);
    });
  }

  it("token_positives are code point offsets (Python str indices), not UTF-16", () => {
    const fi = finalImage(EMOJI);
    const gcg = toGcg(fi, RLES);
    expect(gcg.caption).toBe("🐕 a dog 🐕 and two 🐈 cats on grass, 🐈‍⬛ 🐕!🐈");
    expect(Object.keys(gcg.groundings)).toEqual(["dog 🐕", "two 🐈 cats", "grass", "🐕"]);
    expect(gcg.groundings["dog 🐕"].token_positives).toEqual([4, 9]);
    expect(gcg.groundings["two 🐈 cats"].token_positives).toEqual([14, 24]);
    expect(gcg.groundings["🐕"].token_positives).toEqual([39, 40]);
    for (const [key, g] of Object.entries(gcg.groundings)) expect(py(gcg.caption, ...g.token_positives)).toBe(key);
    // In UTF-16 the first phrase would start at 5: the offsets are not JS string indices.
    expect(gcg.caption.indexOf("dog")).toBe(5);
  });

  it("names repeated phrases phrase, phrase (2), phrase (3)… in caption order, skipping taken keys", () => {
    expect(gcgPhraseKeys(["dog", "dog", "cat", "dog", "dog (2)", "dog (2)"])).toEqual(["dog", "dog (2)", "cat", "dog (3)", "dog (2) (2)", "dog (2) (3)"]);
    const gcg = toGcg(finalImage(REPEATED), RLES);
    expect(Object.entries(gcg.groundings).map(([k, g]) => [k, g.segment_ids, py(gcg.caption, ...g.token_positives)])).toEqual([
      ["dog", [3], "dog"],
      ["dog (2)", [7], "dog"],
      ["dog (3)", [8], "dog"],
      ["dog (2) (2)", [6], "dog (2)"],
      ["sky", [1], "sky"],
      ["dog (4)", [2], "dog"],
    ]);
  });

  it("writes one mask per segment of a span, each exactly that segment's pixels", () => {
    const gcg = toGcg(finalImage(EMOJI), RLES);
    const cats = gcg.groundings["two 🐈 cats"];
    expect(cats.segment_ids).toEqual([4, 5]);
    expect(cats.rle_masks).toHaveLength(2);
    cats.rle_masks.forEach((rle, k) => {
      expect(rle.size).toEqual([H, W]);
      expect(Array.from(decodeRle(rle))).toEqual(Array.from(IDS, (v) => (v === cats.segment_ids[k] ? 1 : 0)));
    });
    expect(rleArea(cats.rle_masks[0])).toBe(2);
  });

  it("is not fooled by a phrase key such as __proto__", () => {
    const fi = finalImage("<3:__proto__> and <4:constructor>");
    const gcg = viaJson(toGcg(fi, RLES));
    expect(Object.keys(gcg.groundings)).toEqual(["__proto__", "constructor"]);
    expect(fromGcg(gcg, RLES)).toEqual(fi.caption);
  });
});

describe("toLlava", () => {
  it("marks each phrase <p> phrase </p> [SEG] and keeps the rest verbatim", () => {
    const llava = toLlava(finalImage(EMOJI));
    expect(llava).toEqual({
      id: "img_01",
      image: "000000000001.jpg",
      conversations: [
        { from: "human", value: LLAVA_PROMPT },
        { from: "gpt", value: "🐕 a <p> dog 🐕 </p> [SEG] and <p> two 🐈 cats </p> [SEG] on <p> grass </p> [SEG], 🐈‍⬛ <p> 🐕 </p> [SEG]!🐈" },
      ],
      seg_group_ids: [[3], [4, 5], [9], [7]],
    });
    expect(LLAVA_PROMPT).toBe("<image>\nPlease describe the image in detail, grounding each object you mention.");
    // Stripping the markers gives the caption text back.
    const value = llava.conversations[1].value;
    expect(value.replaceAll("<p> ", "").replaceAll(" </p> [SEG]", "")).toBe(finalImage(EMOJI).caption.text);
    expect(value.split("[SEG]").length - 1).toBe(llava.seg_group_ids.length);
  });

  it("refuses an answer whose [SEG] count disagrees with seg_group_ids", () => {
    const llava = toLlava(finalImage(EMOJI));
    const e = exportErrorOf(() => fromLlava({ ...llava, seg_group_ids: llava.seg_group_ids.slice(1) }));
    expect(e.problems).toEqual([{ path: "seg_group_ids", message: "the answer has 4 grounded phrases but seg_group_ids has 3 groups" }]);
  });
});

describe("toPancap, toT2i, toRefer, toRegions", () => {
  it("toPancap keeps the whole record", () => {
    const fi = finalImage(EMOJI, { split: "val" });
    const rec = viaJson(toPancap(fi));
    expect(rec).toMatchObject({
      image_id: "img_01",
      file_name: "000000000001.jpg",
      width: W,
      height: H,
      external_id: "1",
      split: "val",
      caption: fi.caption,
      caption_version: 3,
      inline: EMOJI,
      regions: fi.regions,
    });
    expect(rec.segments_info).toHaveLength(9);
    expect(rec.segments_info[2]).toEqual({ id: 3, category_id: 18, category: "dog", isthing: 1, iscrowd: 0, area: 3, bbox: [4, 0, 2, 2] });
    expect(rec.segments_info[0]).toMatchObject({ id: 1, isthing: 0 });
    expect(toPancap(finalImage(EMOJI)).split).toBeNull();
    // The record is a copy: editing it does not touch the input.
    const out = toPancap(fi);
    out.caption.spans[0].segment_ids.push(99);
    expect(fi.caption.spans[0].segment_ids).toEqual([3]);
  });

  it("toT2i pairs the file with the plain text", () => {
    expect(toT2i(finalImage(EMOJI))).toEqual({ image: "000000000001.jpg", caption: "🐕 a dog 🐕 and two 🐈 cats on grass, 🐈‍⬛ 🐕!🐈" });
  });

  it("toRefer gives one expression per span, with every segment's category", () => {
    const refer = toRefer(finalImage("<4,5:two 🐈 cats> and <6,7:a man with his dog> near <3:dog>"));
    expect(refer).toEqual([
      { image_id: "img_01", file_name: "000000000001.jpg", sentence: "two 🐈 cats", segment_ids: [4, 5], category: "cat", categories: ["cat", "cat"], start: 0, end: 10 },
      { image_id: "img_01", file_name: "000000000001.jpg", sentence: "a man with his dog", segment_ids: [6, 7], category: "person", categories: ["person", "dog"], start: 15, end: 33 },
      { image_id: "img_01", file_name: "000000000001.jpg", sentence: "dog", segment_ids: [3], category: "dog", categories: ["dog"], start: 39, end: 42 },
    ]);
    const lines = toNdjson(refer).split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe("");
    expect(JSON.parse(lines[1])).toEqual(refer[1]);
    expect(toRefer(finalImage("no groundings"))).toEqual([]);
    expect(toNdjson([])).toBe("");
  });

  it("toRegions lists described segments in segment order and skips empty texts", () => {
    expect(toRegions(finalImage("x"))).toEqual({
      image: "000000000001.jpg",
      width: W,
      height: H,
      regions: [
        { segment_id: 1, category: "sky-other-merged", bbox: [0, 0, 2, 2], description: "blue sky" },
        { segment_id: 3, category: "dog", bbox: [4, 0, 2, 2], description: "a brown dog 🐕" },
      ],
    });
  });

  it("toNdjson writes one line per record, non-BMP characters as they are", () => {
    const line = toNdjson(toT2i(finalImage(EMOJI)));
    expect(line.endsWith("}\n")).toBe(true);
    expect(line.split("\n")).toHaveLength(2);
    expect(line).toContain("🐈‍⬛");
  });
});

describe("records that cannot be exported", () => {
  it("names every problem of the record, with its path", () => {
    const fi = finalImage("<3:dog> and <42,4:cats>");
    fi.segments.push({ ...fi.segments[0] });
    fi.regions.push({ segment_id: 77, text: "?", draft_text: null, source: "consolidated" }, { segment_id: 3, text: "again", draft_text: null, source: "adjudicated" });
    expect(checkFinalImage(fi)).toEqual([
      { path: "segments.9.id", message: "segment 1 is listed twice" },
      { path: "caption.spans.1.segment_ids.1", message: "segment 42 is not a segment of this image" },
      { path: "regions.4.segment_id", message: "segment 77 is not a segment of this image" },
      { path: "regions.5.segment_id", message: "segment 3 has two region texts" },
    ]);
    for (const convert of [toPancap, toT2i, toRefer, toRegions, toLlava, (f: FinalImage) => toGcg(f, RLES)]) {
      const e = exportErrorOf(() => convert(fi));
      expect(e.message).toMatch(/^image img_01 cannot be exported: segments\.9\.id: segment 1 is listed twice; /);
      expect(e.problems).toHaveLength(4);
    }
  });

  it("an invalid caption is refused by every converter", () => {
    const fi = finalImage("a dog");
    fi.caption = { text: "a dog", spans: [{ start: 1, end: 5, segment_ids: [3] }] };
    expect(exportErrorOf(() => toT2i(fi)).problems).toEqual([{ path: "caption.spans.0.start", message: "span starts with whitespace (spans must be trimmed)" }]);
  });

  it("toGcg needs the mask of every grounded segment, at the image's size", () => {
    const fi = finalImage("<3:dog> and <4,5:cats>");
    const missing = new Map(RLES);
    missing.delete(5);
    expect(exportErrorOf(() => toGcg(fi, missing)).problems).toEqual([{ path: "caption.spans.1.segment_ids", message: "no mask given for segment 5" }]);
    const wrongSize = new Map(RLES);
    wrongSize.set(3, { size: [W, H], counts: RLES.get(3)!.counts });
    expect(exportErrorOf(() => toGcg(fi, wrongSize)).problems).toEqual([
      { path: "caption.spans.0.segment_ids", message: "the mask of segment 3 is 6×4 (rows×columns), the image 4×6" },
    ]);
  });
});

describe("fromGcg on lines that are not faithful", () => {
  const base = (): GcgInput => viaJson(toGcg(finalImage("<3:dog> and <4,5:two cats>"), RLES)) as GcgInput;

  it("reports malformed token_positives and a key that is not its phrase", () => {
    const gcg = base();
    gcg.groundings["dog"].token_positives = [0, "3"] as unknown as [number, number];
    gcg.groundings["two cats"].token_positives = [7, 15];
    const e = exportErrorOf(() => fromGcg(gcg, RLES));
    expect(e.problems).toEqual([
      { path: 'groundings["dog"].token_positives', message: "token_positives must be [start, end], two integers" },
      { path: 'groundings["two cats"].token_positives', message: 'caption[7:15] is " two cat", not the phrase of the key' },
      { path: 'groundings["two cats"].token_positives', message: "span starts with whitespace (spans must be trimmed)" },
    ]);
  });

  it("reports overlapping phrases and offsets past the text", () => {
    const gcg = base();
    gcg.groundings["dog"].token_positives = [0, 99];
    gcg.groundings["two cats"] = { ...gcg.groundings["two cats"], token_positives: [8, 16] };
    gcg.groundings["o c"] = { token_positives: [10, 13], segment_ids: [3], rle_masks: [RLES.get(3)!] };
    const e = exportErrorOf(() => fromGcg(gcg, RLES));
    expect(e.problems).toEqual([
      { path: 'groundings["dog"].token_positives', message: "end 99 is past the end of the text (16 code points)" },
      { path: 'groundings["o c"].token_positives', message: 'the phrase "o c" overlaps the phrase "two cats"' },
    ]);
  });

  it("reports masks of no segment, segment_ids that disagree with the masks, and lines with neither", () => {
    const gcg = base();
    gcg.groundings["dog"].rle_masks = [{ size: [H, W], counts: "0" } as CocoRle];
    gcg.groundings["two cats"].segment_ids = [4, 6];
    expect(exportErrorOf(() => fromGcg(gcg, RLES)).problems).toEqual([
      { path: 'groundings["dog"].rle_masks.0', message: "this mask is not the mask of any segment of the image" },
      { path: 'groundings["two cats"].segment_ids', message: "segment_ids [4, 6] are not the segments of rle_masks [4, 5]" },
    ]);
    const bare = base();
    delete bare.groundings["dog"].segment_ids;
    expect(exportErrorOf(() => fromGcg(bare)).problems).toEqual([
      { path: 'groundings["dog"].segment_ids', message: "no segment_ids, and no segment masks were given to match rle_masks against" },
    ]);
  });

  it("reports a caption that is not NFC and groundings that are not an object", () => {
    const gcg = base();
    gcg.caption = "dog and two cate\u0301";
    expect(exportErrorOf(() => fromGcg(gcg, RLES)).problems).toContainEqual({ path: "caption", message: "text is not NFC-normalised" });
    expect(exportErrorOf(() => fromGcg({ caption: "x", groundings: [] as unknown as GcgInput["groundings"] })).problems).toEqual([
      { path: "groundings", message: "groundings must be an object" },
    ]);
  });

  it("reads a GranD-f line whose keys carry no suffix", () => {
    const caption: GroundedCaption = fromGcg({ caption: "a dog and a cat", groundings: { cat: { token_positives: [12, 15], segment_ids: [5] }, dog: { token_positives: [2, 5], segment_ids: [3] } } });
    expect(toInline(caption)).toBe("a <3:dog> and a <5:cat>");
  });
});

describe("exports of a COCO-panoptic sample image", () => {
  it("writes GCG masks that are exactly the segments' pixels, and reads them back", (ctx) => {
    if (!sample) return ctx.skip(sampleMissingReason ?? "sample absent");
    const examples = sample.json<{
      images: { id: number; file_name: string; width: number; height: number }[];
      annotations: { image_id: number; file_name: string; segments_info: { id: number; category_id: number; area: number; bbox: [number, number, number, number]; iscrowd: number }[] }[];
      categories: { id: number; name: string; isthing: number }[];
    }>("panoptic_examples.json");
    const annotation = examples.annotations.find((a) => a.file_name === "000000142238.png")!;
    const image = examples.images.find((i) => i.id === annotation.image_id)!;
    const category = new Map(examples.categories.map((c) => [c.id, c]));
    const map = decodePanoptic(sample.file("panoptic/000000142238.png"));
    const segments: FinalSegment[] = annotation.segments_info.map((s) => ({
      id: s.id,
      category_id: s.category_id,
      category: category.get(s.category_id)!.name,
      isthing: category.get(s.category_id)!.isthing === 1,
      area: s.area,
      bbox: s.bbox,
      iscrowd: s.iscrowd === 1,
    }));
    // Ground the people together, then every segment once more by its category name.
    const people = segments.filter((s) => s.category === "person").map((s) => s.id).sort((a, b) => a - b);
    expect(people.length).toBeGreaterThan(1);
    const markup = `<${people.join(",")}:The people> 📷: ` + segments.map((s) => `<${s.id}:${s.category}>`).join(", ") + ".";
    const fi: FinalImage = {
      image: { id: "img_142238", file_name: image.file_name, width: image.width, height: image.height, external_id: String(image.id) },
      caption: captionFromInline(markup),
      caption_version: 1,
      segments,
      regions: [],
    };
    const rles = encodeRleForAll(map, segments.map((s) => s.id));
    const gcg = viaJson(toGcg(fi, rles));
    const groundings = Object.values(gcg.groundings);
    expect(groundings).toHaveLength(segments.length + 1);
    for (const g of groundings) {
      expect(g.rle_masks).toHaveLength(g.segment_ids.length);
      g.rle_masks.forEach((rle, k) => {
        const id = g.segment_ids[k];
        expect(rleArea(rle)).toBe(segments.find((s) => s.id === id)!.area);
        const mask = decodeRle(rle);
        let wrong = 0;
        for (let i = 0; i < mask.length; i++) if (mask[i] !== (map.ids[i] === id ? 1 : 0)) wrong++;
        expect(wrong, `segment ${id}`).toBe(0);
      });
    }
    expect(Object.keys(gcg.groundings)).toContain("person (2)");
    expect(fromGcg(gcg, rles)).toEqual(fi.caption);
    expect(toInline(fromGcg(gcg, rles))).toBe(markup);
  });
});
