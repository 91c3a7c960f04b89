/**
 * The offline "provider": drafts built from what the annotation already says (category, size,
 * position), so the whole pipeline runs with no model at all, and so that a VLM outage leaves
 * tasks workable (DESIGN: "with the template draft, flagged"). Deterministic and pure.
 */
import { codePointLength } from "../domain/grounded-caption.ts";

export interface TemplateMark {
  number: number;
  category: string;
  isthing: boolean;
  /** Pixels of the segment. */
  area: number;
  /** COCO bbox [x, y, width, height] in pixels. */
  bbox: [number, number, number, number];
  imageWidth: number;
  imageHeight: number;
}

export interface TemplateMergeRegion {
  number: number;
  category: string;
  isthing: boolean;
  area: number;
  /** The region's final text (may be empty: the category then stands in). */
  text: string;
}

export interface TemplateCaption {
  text: string;
  /** Half-open code point offsets into `text`; `marks` are mark numbers. */
  spans: { start: number; end: number; marks: number[] }[];
}

/** Compound COCO-panoptic names that read better reordered. */
const RENAMED: Record<string, string> = {
  playingfield: "playing field",
  "wall-brick": "brick wall",
  "wall-stone": "stone wall",
  "wall-tile": "tiled wall",
  "wall-wood": "wooden wall",
  "floor-wood": "wooden floor",
  "window-blind": "window blind",
  skis: "pair of skis",
  scissors: "pair of scissors",
};

/** A readable noun for a category name: "sky-other-merged" → "sky", "dining table" stays. */
export function categoryNoun(category: string): string {
  const raw = category.trim().toLowerCase();
  if (RENAMED[raw]) return RENAMED[raw];
  const words = raw
    .split(/[-_\s]+/)
    .filter((w) => w !== "" && w !== "other" && w !== "merged" && w !== "stuff");
  return words.length > 0 ? words.join(" ") : raw || "region";
}

function sizeWord(share: number): string {
  if (share >= 0.25) return "large";
  if (share >= 0.04) return "medium-sized";
  if (share >= 0.005) return "small";
  return "tiny";
}

function where(mark: TemplateMark, share: number): string {
  const W = mark.imageWidth;
  const H = mark.imageHeight;
  const [x, y, w, h] = mark.bbox;
  const cx = (x + w / 2) / W;
  const cy = (y + h / 2) / H;
  const vert = cy < 1 / 3 ? "top" : cy > 2 / 3 ? "bottom" : null;
  const horiz = cx < 1 / 3 ? "left" : cx > 2 / 3 ? "right" : null;
  const wide = w / W >= 0.6;
  const tall = h / H >= 0.6;

  if (wide && tall) return share >= 0.5 ? "covering most of the image" : "spread across the image";
  if (wide) return vert ? `across the ${vert} of the image` : "across the middle of the image";
  if (tall) return horiz ? `along the ${horiz} side of the image` : "down the middle of the image";
  if (vert && horiz) return `in the ${vert === "top" ? "upper" : "lower"} ${horiz} of the image`;
  if (vert) return `at the ${vert} of the image`;
  if (horiz) return `on the ${horiz} of the image`;
  return "in the centre of the image";
}

const capitalize = (s: string) => (s === "" ? s : s[0].toUpperCase() + s.slice(1));

/** One plain description per mark, e.g. "A small dog in the lower left of the image." */
export function templateRegions(marks: readonly TemplateMark[]): Record<number, string> {
  const out: Record<number, string> = {};
  for (const mark of marks) {
    const pixels = mark.imageWidth * mark.imageHeight;
    if (!(pixels > 0)) throw new Error(`mark ${mark.number}: image size ${mark.imageWidth}×${mark.imageHeight} is not positive`);
    const share = Math.max(0, mark.area) / pixels;
    const noun = categoryNoun(mark.category);
    const phrase = mark.isthing ? `a ${sizeWord(share)} ${noun} ${where(mark, share)}` : `a ${sizeWord(share)} region of ${noun} ${where(mark, share)}`;
    out[mark.number] = `${capitalize(phrase)}.`;
  }
  return out;
}

/**
 * The deterministic merge: background (stuff) first, then things, each group by area descending
 * (ties by mark number). Each region contributes one sentence, its text (whitespace collapsed,
 * final punctuation replaced by a period), grounded as a whole to its mark.
 */
export function templateMerge(regions: readonly TemplateMergeRegion[]): TemplateCaption {
  const ordered = [...regions].sort((a, b) => Number(a.isthing) - Number(b.isthing) || b.area - a.area || a.number - b.number);
  let text = "";
  let offset = 0;
  const spans: TemplateCaption["spans"] = [];
  for (const region of ordered) {
    let core = region.text.normalize("NFC").replace(/\s+/g, " ").trim().replace(/[\s.!?;:,…]+$/u, "");
    if (core === "") core = region.isthing ? `a ${categoryNoun(region.category)}` : `a region of ${categoryNoun(region.category)}`;
    core = capitalize(core);
    if (text !== "") {
      text += " ";
      offset += 1;
    }
    const length = codePointLength(core);
    spans.push({ start: offset, end: offset + length, marks: [region.number] });
    text += `${core}.`;
    offset += length + 1;
  }
  return { text, spans };
}
