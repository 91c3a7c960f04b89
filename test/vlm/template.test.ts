import { describe, expect, it } from "vitest";
import { validateCaption } from "../../worker/domain/grounded-caption.ts";
import { categoryNoun, templateMerge, templateRegions, type TemplateMark } from "../../worker/vlm/template.ts";

const W = 600;
const H = 400;
const mark = (number: number, category: string, isthing: boolean, bbox: [number, number, number, number], area?: number): TemplateMark => ({
  number,
  category,
  isthing,
  bbox,
  area: area ?? bbox[2] * bbox[3],
  imageWidth: W,
  imageHeight: H,
});

describe("categoryNoun", () => {
  it("reads COCO-panoptic names", () => {
    expect(categoryNoun("sky-other-merged")).toBe("sky");
    expect(categoryNoun("wall-other-merged")).toBe("wall");
    expect(categoryNoun("tree-merged")).toBe("tree");
    expect(categoryNoun("door-stuff")).toBe("door");
    expect(categoryNoun("wall-brick")).toBe("brick wall");
    expect(categoryNoun("playingfield")).toBe("playing field");
    expect(categoryNoun("dining table")).toBe("dining table");
    expect(categoryNoun("Person")).toBe("person");
  });
});

describe("templateRegions", () => {
  it("describes size and position, stuff as background regions", () => {
    const out = templateRegions([
      mark(1, "sky-other-merged", false, [0, 0, 600, 130], 70_000),
      mark(2, "dog", true, [20, 300, 60, 60], 2000),
      mark(3, "person", true, [250, 120, 100, 160], 12_000),
      mark(4, "grass-merged", false, [0, 0, 600, 400], 200_000),
      mark(5, "tree-merged", false, [500, 0, 100, 400], 30_000),
      mark(6, "car", true, [450, 10, 100, 60], 5000),
      mark(7, "bird", true, [290, 10, 10, 8], 60),
      mark(8, "road", false, [100, 150, 300, 300], 60_000),
    ]);
    expect(out).toEqual({
      1: "A large region of sky across the top of the image.",
      2: "A small dog in the lower left of the image.",
      3: "A medium-sized person in the centre of the image.",
      4: "A large region of grass covering most of the image.",
      5: "A medium-sized region of tree along the right side of the image.",
      6: "A small car in the upper right of the image.",
      7: "A tiny bird at the top of the image.",
      8: "A large region of road down the middle of the image.",
    });
  });

  it("is deterministic and refuses a zero-sized image", () => {
    const marks = [mark(2, "dog", true, [20, 300, 60, 60]), mark(1, "sky", false, [0, 0, 600, 100])];
    expect(templateRegions(marks)).toEqual(templateRegions([...marks].reverse()));
    expect(() => templateRegions([{ ...marks[0], imageWidth: 0 }])).toThrow(/not positive/);
  });
});

describe("templateMerge", () => {
  it("puts stuff first, then things by area, each text grounded to its mark", () => {
    const caption = templateMerge([
      { number: 3, category: "dog", isthing: true, area: 500, text: "A small 🐕 dog on the grass" },
      { number: 1, category: "sky-other-merged", isthing: false, area: 9000, text: "A pale blue sky." },
      { number: 4, category: "person", isthing: true, area: 2000, text: "  a man in a\n red jacket!! " },
      { number: 2, category: "grass-merged", isthing: false, area: 20_000, text: "Green grass." },
      { number: 5, category: "frisbee", isthing: true, area: 40, text: "" },
    ]);
    expect(caption.text).toBe("Green grass. A pale blue sky. A man in a red jacket. A small 🐕 dog on the grass. A frisbee.");
    expect(caption.spans.map((s) => s.marks[0])).toEqual([2, 1, 4, 3, 5]);
    const chars = Array.from(caption.text);
    expect(caption.spans.map((s) => chars.slice(s.start, s.end).join(""))).toEqual([
      "Green grass",
      "A pale blue sky",
      "A man in a red jacket",
      "A small 🐕 dog on the grass",
      "A frisbee",
    ]);
    // a valid canonical caption once marks are read as segment ids
    expect(validateCaption({ text: caption.text, spans: caption.spans.map((s) => ({ start: s.start, end: s.end, segment_ids: s.marks })) }, new Set([1, 2, 3, 4, 5]))).toEqual([]);
  });

  it("breaks area ties by mark number and handles no regions", () => {
    const c = templateMerge([
      { number: 9, category: "cup", isthing: true, area: 10, text: "A cup." },
      { number: 4, category: "bowl", isthing: true, area: 10, text: "A bowl." },
    ]);
    expect(c.text).toBe("A bowl. A cup.");
    expect(templateMerge([])).toEqual({ text: "", spans: [] });
  });
});
