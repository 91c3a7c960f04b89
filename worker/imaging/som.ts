/**
 * Set-of-marks (SoM) rendering: every segment of a panoptic map gets a translucent colour fill, an
 * optional 1-px contour, and its mark number in white on a dark box at its mark point, the way the
 * SoM paper's visualizer draws them, so that a VLM can refer to regions by number.
 *
 * Pure and deterministic: no randomness, no clock, fixed palette and font, integer geometry and a
 * fixed search order, so the same inputs give the same bytes in workerd and in Node. Whenever the
 * bytes could change for the same inputs, bump SOM_RENDER_VERSION (it is part of the render cache
 * key).
 *
 * What is drawn, in order:
 * 1. Fill. A pixel of a listed segment becomes `Math.round(v·(1−α) + c·α)` per channel, with `v`
 *    the image value, `c` the segment's colour (markColour(number), palette.ts) and α = fillAlpha.
 *    Pixels of id 0 (unlabeled) or of ids not listed in `segments` keep the image value.
 * 2. Contour (option). A pixel of a listed segment whose 4-neighbour has another id, or lies
 *    outside the image, is set to the segment's colour, opaque.
 * 3. Labels, in mark-number order (1 = largest segment first, so small segments' labels come last
 *    and stay on top): white digits (5×7 font, font.ts) on a near-black box, scaled with the image
 *    (labelScale). The box is centred on the mark point when it fits inside the image and stays
 *    clear of earlier boxes (LABEL_CLEARANCE px apart); otherwise candidate centres are tried in
 *    increasing distance from the mark point (ties: row, then column; 1-px steps within 64 px,
 *    then steps of 2, 4, 8… px out to the segment's bounding box), and the first whose box lies
 *    inside the image, clears every earlier box and whose centre pixel belongs to the segment wins
 *    ("nudged"). When none does, the placement is "overlapping", a fallback that keeps the label
 *    by its segment: first the nearest box inside the image that clears the earlier boxes and
 *    covers the mark point (for slivers along the image edge, narrower than half a label, and
 *    segments smaller than a label among others), then the nearest centre on the segment whose
 *    box lies inside the image (over an earlier label), last the mark point clamped into the image.
 *    On the COCO sample 3 of 50 marks fall back, all to the first kind.
 *
 * Coordinates in `marks` are those of the SoM panel; in a side-by-side render that panel starts at
 * `offsetX` (original on the left, a SIDE_BY_SIDE_GAP-px white gap, then the SoM).
 *
 * Input alpha is ignored (the image is treated as opaque); the output is opaque RGBA.
 */
import { drawLabel, labelSize } from "./font.ts";
import { markColour } from "./palette.ts";
import type { PanopticMap } from "./panoptic.ts";
import { encodePngRgb } from "./encode.ts";
import { encodeJpeg } from "./jpeg.ts";

/** Bump whenever output bytes change for the same inputs. */
export const SOM_RENDER_VERSION = 1;

export interface SomOptions {
  /** Opacity of the segment colour over the image, 0..1. */
  fillAlpha: number;
  contour: boolean;
  /** "som": the SoM image alone; "side-by-side": the original on the left, the SoM on the right. */
  layout: "som" | "side-by-side";
  format: "png" | "jpeg";
}

/** A segment as measured at ingestion (measureSegments / the segments table). */
export interface SomSegment {
  id: number;
  area: number;
  mark: { x: number; y: number };
}

export interface SomMark {
  /** 1..N, by area descending, ties by segment id ascending. */
  number: number;
  segmentId: number;
  /** Label box, in pixels of the SoM panel (add SomRender.offsetX for output coordinates). */
  box: { x: number; y: number; w: number; h: number };
  /** Centre pixel of the box: (box.x + ⌊w/2⌋, box.y + ⌊h/2⌋), SoM-panel coordinates. */
  center: { x: number; y: number };
  /**
   * "at-mark": centred on the mark point; "nudged": moved, centre still on the segment, clear of
   * earlier labels; "overlapping": a fallback where one rule had to give (see the module comment).
   */
  placement: "at-mark" | "nudged" | "overlapping";
}

export interface SomRender {
  /** Output size: the image's for "som"; 2·W + SIDE_BY_SIDE_GAP by H for "side-by-side". */
  width: number;
  height: number;
  /** Opaque RGBA, width·height·4 bytes. */
  rgba: Uint8Array;
  /** x of the SoM panel in the output: 0 for "som", W + SIDE_BY_SIDE_GAP for "side-by-side". */
  offsetX: number;
  /** In number order. */
  marks: SomMark[];
}

export interface SomInput {
  image: { width: number; height: number; rgba: Uint8Array };
  panoptic: PanopticMap;
  segments: SomSegment[];
  options: SomOptions;
}

/** White columns between the two panels of a side-by-side render. */
export const SIDE_BY_SIDE_GAP = 8;

export const LABEL_TEXT: readonly [number, number, number] = [255, 255, 255];
export const LABEL_BOX: readonly [number, number, number] = [16, 16, 16];
const GAP_COLOUR = 255;
/** Minimum clear pixels between two label boxes. */
export const LABEL_CLEARANCE = 1;

/** Mark numbers: 1..N by area descending, ties by segment id ascending. */
export function numberMarks(segments: SomSegment[]): { number: number; segmentId: number }[] {
  return [...segments]
    .sort((a, b) => b.area - a.area || a.id - b.id)
    .map((s, i) => ({ number: i + 1, segmentId: s.id }));
}

/**
 * Integer scale of the 5×7 label font: about 1/30 of the shorter side per glyph height, so labels
 * keep the same share of the image at any resolution (2 for COCO's 640×427 and 640×360).
 */
export function labelScale(width: number, height: number): number {
  return Math.min(8, Math.max(1, Math.round(Math.min(width, height) / 220)));
}

export function renderSetOfMarks(input: SomInput): SomRender {
  const { image, panoptic, segments, options } = input;
  const { width: w, height: h } = image;
  checkInput(input);

  const numbering = numberMarks(segments);
  const n = numbering.length;
  const slotOf = new Map<number, number>(); // segment id → number − 1
  numbering.forEach((m, k) => slotOf.set(m.segmentId, k));
  const byId = new Map(segments.map((s) => [s.id, s]));

  // Per segment: fill lookup tables (one 256-entry table per channel) and colour.
  const alpha = options.fillAlpha;
  const lut = new Uint8Array(n * 768);
  const colours = new Uint8Array(n * 3);
  for (let k = 0; k < n; k++) {
    const c = markColour(k + 1);
    for (let ch = 0; ch < 3; ch++) {
      colours[k * 3 + ch] = c[ch];
      const base = k * 768 + ch * 256;
      for (let v = 0; v < 256; v++) lut[base + v] = Math.round(v * (1 - alpha) + c[ch] * alpha);
    }
  }

  const sideBySide = options.layout === "side-by-side";
  const offsetX = sideBySide ? w + SIDE_BY_SIDE_GAP : 0;
  const outW = sideBySide ? 2 * w + SIDE_BY_SIDE_GAP : w;
  const out = new Uint8Array(outW * h * 4);
  const src = image.rgba;
  const ids = panoptic.ids;

  // Bounding boxes of the listed segments (bounds of the label search).
  const minX = new Int32Array(n).fill(w);
  const minY = new Int32Array(n).fill(h);
  const maxX = new Int32Array(n).fill(-1);
  const maxY = new Int32Array(n).fill(-1);

  const contour = options.contour;
  const lastRow = h - 1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    if (sideBySide) {
      for (let x = 0, s = row * 4, l = y * outW * 4; x < w; x++, s += 4, l += 4) {
        out[l] = src[s];
        out[l + 1] = src[s + 1];
        out[l + 2] = src[s + 2];
        out[l + 3] = 255;
      }
      out.fill(GAP_COLOUR, (y * outW + w) * 4, (y * outW + w + SIDE_BY_SIDE_GAP) * 4);
    }
    // Runs of one id along the row: one lookup per run, and a pixel has a left or right neighbour
    // of another id (or the image edge) exactly when it ends its run.
    let a = 0;
    while (a < w) {
      const id = ids[row + a];
      let b = a;
      while (b + 1 < w && ids[row + b + 1] === id) b++;
      const k = id === 0 ? -1 : (slotOf.get(id) ?? -1);
      let s = (row + a) * 4;
      let o = (y * outW + offsetX + a) * 4;
      if (k < 0) {
        for (let x = a; x <= b; x++, s += 4, o += 4) {
          out[o] = src[s];
          out[o + 1] = src[s + 1];
          out[o + 2] = src[s + 2];
          out[o + 3] = 255;
        }
        a = b + 1;
        continue;
      }
      if (a < minX[k]) minX[k] = a;
      if (b > maxX[k]) maxX[k] = b;
      if (y < minY[k]) minY[k] = y;
      maxY[k] = y;
      const t = k * 768;
      const cr = colours[k * 3];
      const cg = colours[k * 3 + 1];
      const cb = colours[k * 3 + 2];
      for (let x = a, i = row + a; x <= b; x++, i++, s += 4, o += 4) {
        if (contour && (x === a || x === b || y === 0 || y === lastRow || ids[i - w] !== id || ids[i + w] !== id)) {
          out[o] = cr;
          out[o + 1] = cg;
          out[o + 2] = cb;
        } else {
          out[o] = lut[t + src[s]];
          out[o + 1] = lut[t + 256 + src[s + 1]];
          out[o + 2] = lut[t + 512 + src[s + 2]];
        }
        out[o + 3] = 255;
      }
      a = b + 1;
    }
  }

  const scale = labelScale(w, h);
  const placed: SomMark["box"][] = [];
  const marks: SomMark[] = [];
  for (let k = 0; k < n; k++) {
    const { number, segmentId } = numbering[k];
    const text = String(number);
    const size = labelSize(text, scale);
    const seg = byId.get(segmentId)!;
    const bbox = maxX[k] < 0 ? null : { x0: minX[k], y0: minY[k], x1: maxX[k], y1: maxY[k] };
    const spot = placeLabel(panoptic, segmentId, seg.mark, bbox, size, placed);
    placed.push(spot.box);
    marks.push({ number, segmentId, ...spot });
    drawLabel(out, outW, offsetX, spot.box.x, spot.box.y, text, scale, LABEL_TEXT, LABEL_BOX);
  }
  return { width: outW, height: h, rgba: out, offsetX, marks };
}

function checkInput({ image, panoptic, segments, options }: SomInput): void {
  const { width: w, height: h } = image;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) throw new RangeError(`image size ${w}×${h} is not a positive integer size`);
  if (image.rgba.length !== w * h * 4) throw new RangeError(`image has ${image.rgba.length} bytes, expected ${w}×${h}×4`);
  if (panoptic.width !== w || panoptic.height !== h) {
    throw new RangeError(`panoptic map is ${panoptic.width}×${panoptic.height} but the image is ${w}×${h}`);
  }
  if (panoptic.ids.length !== w * h) throw new RangeError(`ids has ${panoptic.ids.length} entries, expected ${w}×${h}`);
  if (!(options.fillAlpha >= 0 && options.fillAlpha <= 1)) throw new RangeError(`fillAlpha must be within 0..1, got ${options.fillAlpha}`);
  const seen = new Set<number>();
  for (const s of segments) {
    if (!Number.isInteger(s.id) || s.id < 1) throw new RangeError(`segment id ${s.id} is not a positive integer (0 is unlabeled)`);
    if (seen.has(s.id)) throw new RangeError(`segment ${s.id} is listed twice`);
    seen.add(s.id);
    if (!Number.isInteger(s.mark.x) || !Number.isInteger(s.mark.y)) throw new RangeError(`segment ${s.id} has a non-integer mark point`);
  }
}

// ---- label placement --------------------------------------------------------------------------

/** Radius of the fine (1-px step) candidate table; beyond it the table is reused at steps 2, 4, 8… */
const SEARCH_RADIUS = 64;
let offsetTable: Int16Array | null = null;

/**
 * (dx, dy) pairs within SEARCH_RADIUS, sorted by distance, then dy, then dx. Built once per
 * isolate (≈13k pairs); a pure function of the constant, so sharing it changes no output.
 */
function offsets(): Int16Array {
  if (offsetTable) return offsetTable;
  const r = SEARCH_RADIUS;
  const list: [number, number, number][] = [];
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++) {
      const d2 = dx * dx + dy * dy;
      if (d2 <= r * r) list.push([d2, dy, dx]);
    }
  }
  list.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const table = new Int16Array(list.length * 2);
  list.forEach(([, dy, dx], i) => {
    table[i * 2] = dx;
    table[i * 2 + 1] = dy;
  });
  offsetTable = table;
  return table;
}

type Box = SomMark["box"];

function placeLabel(
  map: PanopticMap,
  segmentId: number,
  mark: { x: number; y: number },
  bbox: { x0: number; y0: number; x1: number; y1: number } | null,
  size: { w: number; h: number },
  placed: Box[],
): Pick<SomMark, "box" | "center" | "placement"> {
  const { width: w, height: h, ids } = map;
  const hw = size.w >> 1;
  const hh = size.h >> 1;
  const spot = (cx: number, cy: number, placement: SomMark["placement"]) => ({
    box: { x: cx - hw, y: cy - hh, w: size.w, h: size.h },
    center: { x: cx, y: cy },
    placement,
  });
  const clear = (bx: number, by: number) => {
    for (const p of placed) {
      if (
        bx < p.x + p.w + LABEL_CLEARANCE &&
        p.x < bx + size.w + LABEL_CLEARANCE &&
        by < p.y + p.h + LABEL_CLEARANCE &&
        p.y < by + size.h + LABEL_CLEARANCE
      ) {
        return false;
      }
    }
    return true;
  };

  // Centres whose box lies inside the image; the segment's bbox bounds where its pixels can be.
  const cx0 = Math.max(hw, bbox ? bbox.x0 : w);
  const cx1 = Math.min(w - size.w + hw, bbox ? bbox.x1 : -1);
  const cy0 = Math.max(hh, bbox ? bbox.y0 : h);
  const cy1 = Math.min(h - size.h + hh, bbox ? bbox.y1 : -1);
  let fallback: { x: number; y: number } | null = null;
  if (cx0 <= cx1 && cy0 <= cy1) {
    // Farthest the search needs to reach: the bbox corner farthest from the mark point.
    const reach = Math.hypot(Math.max(mark.x - cx0, cx1 - mark.x), Math.max(mark.y - cy0, cy1 - mark.y));
    const table = offsets();
    const r2 = SEARCH_RADIUS * SEARCH_RADIUS;
    for (let step = 1; ; step *= 2) {
      // From step 2 on, skip offsets already covered (at a finer step) by the previous round.
      const skipBelow = step === 1 ? -1 : r2 / 4;
      for (let t = 0; t < table.length; t += 2) {
        const dx = table[t];
        const dy = table[t + 1];
        if (dx * dx + dy * dy <= skipBelow) continue;
        const cx = mark.x + dx * step;
        const cy = mark.y + dy * step;
        if (cx < cx0 || cx > cx1 || cy < cy0 || cy > cy1 || ids[cy * w + cx] !== segmentId) continue;
        if (clear(cx - hw, cy - hh)) return spot(cx, cy, dx === 0 && dy === 0 ? "at-mark" : "nudged");
        fallback ??= { x: cx, y: cy };
      }
      if (SEARCH_RADIUS * step >= reach) break;
    }
  }
  // Fallbacks. First a box that stays clear and covers the mark point though its centre is off the
  // segment (a sliver along the image edge is narrower than half a label); then the first centre on
  // the segment, over an earlier label; last the mark point clamped into the image.
  const table = offsets();
  for (let t = 0; t < table.length; t += 2) {
    const cx = mark.x + table[t];
    const cy = mark.y + table[t + 1];
    const bx = cx - hw;
    const by = cy - hh;
    if (bx < 0 || by < 0 || bx + size.w > w || by + size.h > h) continue;
    if (mark.x < bx || mark.x >= bx + size.w || mark.y < by || mark.y >= by + size.h) continue;
    if (clear(bx, by)) return spot(cx, cy, "overlapping");
  }
  if (fallback) return spot(fallback.x, fallback.y, "overlapping");
  const cx = Math.min(Math.max(mark.x, hw), Math.max(hw, w - size.w + hw));
  const cy = Math.min(Math.max(mark.y, hh), Math.max(hh, h - size.h + hh));
  return spot(cx, cy, "overlapping");
}

// ---- encoding ---------------------------------------------------------------------------------

export const SOM_JPEG_QUALITY = 90;

/**
 * The render as an RGB PNG (Paeth-filtered, run-length deflate: see encode.ts) or a JPEG at
 * SOM_JPEG_QUALITY.
 */
export async function encodeRender(render: SomRender, format: "png" | "jpeg"): Promise<Uint8Array> {
  if (format === "png") return encodePngRgb(render.rgba, render.width, render.height);
  if (format === "jpeg") return encodeJpeg(render.rgba, render.width, render.height, SOM_JPEG_QUALITY);
  throw new RangeError(`unsupported render format ${String(format)}`);
}
