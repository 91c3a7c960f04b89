import { decode as decodePng } from "fast-png";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeImage } from "../../worker/imaging/decode.ts";
import { encodePngRgb } from "../../worker/imaging/encode.ts";
import type { PngFilter } from "../../worker/imaging/encode.ts";
import { installBundledJpegCodec } from "../../worker/imaging/jpeg-wasm.worker.ts";
import { markColour, PALETTE_SIZE } from "../../worker/imaging/palette.ts";
import { decodePanoptic } from "../../worker/imaging/panoptic.ts";
import type { PanopticMap } from "../../worker/imaging/panoptic.ts";
import { measureSegments } from "../../worker/imaging/segments.ts";
import {
  encodeRender,
  LABEL_BOX,
  LABEL_CLEARANCE,
  LABEL_TEXT,
  labelScale,
  numberMarks,
  renderSetOfMarks,
  SIDE_BY_SIDE_GAP,
  SOM_RENDER_VERSION,
} from "../../worker/imaging/som.ts";
import type { SomInput, SomMark, SomOptions, SomRender, SomSegment } from "../../worker/imaging/som.ts";
import { sample, sampleMissingReason } from "../support/sample.ts";

const skipped = sampleMissingReason ? ` (skipped: ${sampleMissingReason})` : "";
const SAMPLE_IMAGES = ["000000142238", "000000439180"];
const BASE: SomOptions = { fillAlpha: 0.45, contour: true, layout: "som", format: "png" };

// decodeImage needs the JPEG codec: the same bundled mozjpeg modules the Worker uses.
beforeAll(() => installBundledJpegCodec());

type Image = SomInput["image"];

async function loadSample(name: string): Promise<{ image: Image; panoptic: PanopticMap; segments: SomSegment[] }> {
  const image = await decodeImage(sample!.file(`images/${name}.jpg`), "image");
  const panoptic = decodePanoptic(sample!.file(`panoptic/${name}.png`));
  return { image, panoptic, segments: measureSegments(panoptic) };
}

/** A map from rows of characters: "." is 0, other characters are base-36 ids; scaled by `s`. */
function fromRows(rows: string[], s = 1): PanopticMap {
  const height = rows.length * s;
  const width = rows[0].length * s;
  const ids = new Uint32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const ch = rows[Math.floor(y / s)][Math.floor(x / s)];
      ids[y * width + x] = ch === "." ? 0 : parseInt(ch, 36);
    }
  }
  return { width, height, ids };
}

/** A deterministic photo-like test image: gradients plus a little hashed noise. */
function gradientImage(width: number, height: number): Image {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const noise = (Math.imul(x * 73856093 + y * 19349663, 0x9e3779b1) >>> 28) & 15;
      rgba[o] = (x * 255) / Math.max(1, width - 1);
      rgba[o + 1] = (y * 255) / Math.max(1, height - 1);
      rgba[o + 2] = (128 + noise * 5) & 255;
      rgba[o + 3] = 255;
    }
  }
  return { width, height, rgba };
}

function boxesOverlap(a: SomMark["box"], b: SomMark["box"], gap = 0): boolean {
  return a.x < b.x + b.w + gap && b.x < a.x + a.w + gap && a.y < b.y + b.h + gap && b.y < a.y + a.h + gap;
}

/**
 * Checks every pixel of the SoM panel that lies outside the label boxes against the drawing rules:
 * unlisted / unlabeled pixels are the image, contour pixels the opaque segment colour, the rest the
 * blend Math.round(v·(1−α) + c·α). Returns counts per kind and the first mismatch.
 */
function checkPixels(input: SomInput, render: SomRender) {
  const { width: w, height: h, rgba: src } = input.image;
  const { ids } = input.panoptic;
  const alpha = input.options.fillAlpha;
  const numberOf = new Map(render.marks.map((m) => [m.segmentId, m.number]));
  const inLabel = new Uint8Array(w * h);
  for (const m of render.marks) {
    for (let y = m.box.y; y < m.box.y + m.box.h; y++) inLabel.fill(1, y * w + m.box.x, y * w + m.box.x + m.box.w);
  }
  const counts = { plain: 0, contour: 0, blend: 0, mismatches: 0 };
  let first: string | null = null;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (inLabel[i]) continue;
      const id = ids[i];
      const n = numberOf.get(id);
      const v = [src[i * 4], src[i * 4 + 1], src[i * 4 + 2]];
      let expected: number[];
      if (id === 0 || n === undefined) {
        expected = v;
        counts.plain++;
      } else {
        const c = markColour(n);
        const border = x === 0 || y === 0 || x === w - 1 || y === h - 1 || ids[i - 1] !== id || ids[i + 1] !== id || ids[i - w] !== id || ids[i + w] !== id;
        if (input.options.contour && border) {
          expected = [...c];
          counts.contour++;
        } else {
          expected = v.map((value, ch) => Math.round(value * (1 - alpha) + c[ch] * alpha));
          counts.blend++;
        }
      }
      const o = (y * render.width + render.offsetX + x) * 4;
      const actual = [render.rgba[o], render.rgba[o + 1], render.rgba[o + 2], render.rgba[o + 3]];
      if (actual[0] !== expected[0] || actual[1] !== expected[1] || actual[2] !== expected[2] || actual[3] !== 255) {
        counts.mismatches++;
        first ??= `(${x}, ${y}) id ${id}: got ${actual.join(",")}, expected ${expected.join(",")},255`;
      }
    }
  }
  return { ...counts, first };
}

/** Every pixel of every label box is box colour or text colour, with some text in each. */
function checkLabels(render: SomRender): string[] {
  const problems: string[] = [];
  for (const m of render.marks) {
    let text = 0;
    for (let y = m.box.y; y < m.box.y + m.box.h; y++) {
      for (let x = m.box.x; x < m.box.x + m.box.w; x++) {
        const o = (y * render.width + render.offsetX + x) * 4;
        const px = [render.rgba[o], render.rgba[o + 1], render.rgba[o + 2]];
        if (px.every((v, c) => v === LABEL_TEXT[c])) text++;
        else if (!px.every((v, c) => v === LABEL_BOX[c])) problems.push(`mark ${m.number}: pixel (${x}, ${y}) is ${px.join(",")}`);
      }
    }
    if (text === 0) problems.push(`mark ${m.number}: no digit pixels`);
  }
  return problems;
}

/** Index of the first differing byte, or -1 when equal (toEqual on megabyte arrays is slow). */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("numberMarks", () => {
  it("numbers 1..N by area descending, ties by segment id ascending", () => {
    const at = { x: 0, y: 0 };
    const segments = [
      { id: 7, area: 10, mark: at },
      { id: 3, area: 50, mark: at },
      { id: 9, area: 10, mark: at },
      { id: 2, area: 10, mark: at },
      { id: 5, area: 99, mark: at },
    ];
    expect(numberMarks(segments)).toEqual([
      { number: 1, segmentId: 5 },
      { number: 2, segmentId: 3 },
      { number: 3, segmentId: 2 },
      { number: 4, segmentId: 7 },
      { number: 5, segmentId: 9 },
    ]);
    expect(numberMarks([])).toEqual([]);
  });
});

describe("markColour", () => {
  it("gives distinct colours to the first PALETTE_SIZE marks, then repeats", () => {
    const seen = new Set<string>();
    for (let n = 1; n <= PALETTE_SIZE; n++) seen.add(markColour(n).join(","));
    expect(seen.size).toBe(PALETTE_SIZE);
    expect(markColour(PALETTE_SIZE + 1)).toEqual(markColour(1));
    expect(() => markColour(0)).toThrow(RangeError);
  });
});

describe("renderSetOfMarks on the sample", () => {
  for (const name of SAMPLE_IMAGES) {
    it.skipIf(!sample)(`${name}: numbers by area, places every label visibly and without overlap${skipped}`, async () => {
      const input = { ...(await loadSample(name)), options: BASE };
      const { panoptic } = input;
      const render = renderSetOfMarks(input);
      const { width: w, height: h, ids } = panoptic;

      // Numbered 1..N by area descending (areas as published in panoptic_examples.json).
      const examples = sample!.json<{ annotations: { file_name: string; segments_info: { id: number; area: number }[] }[] }>("panoptic_examples.json");
      const info = examples.annotations.find((a) => a.file_name === `${name}.png`)!.segments_info;
      const expected = [...info].sort((a, b) => b.area - a.area || a.id - b.id).map((s, i) => ({ number: i + 1, segmentId: s.id }));
      expect(render.marks.map((m) => ({ number: m.number, segmentId: m.segmentId }))).toEqual(expected);

      const byNumber = render.marks;
      for (const [k, m] of byNumber.entries()) {
        const seg = input.segments.find((s) => s.id === m.segmentId)!;
        // Centre is the box centre; the box lies inside the image.
        expect(m.center).toEqual({ x: m.box.x + (m.box.w >> 1), y: m.box.y + (m.box.h >> 1) });
        expect(m.box.x >= 0 && m.box.y >= 0 && m.box.x + m.box.w <= w && m.box.y + m.box.h <= h, `mark ${m.number} box ${JSON.stringify(m.box)}`).toBe(true);
        // No two boxes overlap (not even within the clearance).
        for (const earlier of byNumber.slice(0, k)) {
          expect(boxesOverlap(m.box, earlier.box, LABEL_CLEARANCE), `marks ${earlier.number} and ${m.number}`).toBe(false);
        }
        if (m.placement !== "overlapping") {
          expect(ids[m.center.y * w + m.center.x], `centre of mark ${m.number}`).toBe(m.segmentId);
          if (m.placement === "at-mark") expect(m.center).toEqual(seg.mark);
        } else {
          // Fallback: allowed only when no centre on the segment could hold a box inside the image
          // clear of the earlier boxes; the box must then still cover the mark point.
          expect(m.box.x <= seg.mark.x && seg.mark.x < m.box.x + m.box.w && m.box.y <= seg.mark.y && seg.mark.y < m.box.y + m.box.h).toBe(true);
          const earlier = byNumber.slice(0, k).map((e) => e.box);
          const hw = m.box.w >> 1;
          const hh = m.box.h >> 1;
          for (let i = 0; i < ids.length; i++) {
            if (ids[i] !== m.segmentId) continue;
            const box = { x: (i % w) - hw, y: Math.floor(i / w) - hh, w: m.box.w, h: m.box.h };
            const fits = box.x >= 0 && box.y >= 0 && box.x + box.w <= w && box.y + box.h <= h;
            const clear = earlier.every((e) => !boxesOverlap(box, e, LABEL_CLEARANCE));
            expect(fits && clear, `mark ${m.number} could have been centred at (${i % w}, ${Math.floor(i / w)})`).toBe(false);
          }
        }
      }
      // Fallbacks are rare: on the sample, only segments narrower than half a label along the edge
      // or smaller than a label among other labels.
      expect(render.marks.filter((m) => m.placement === "overlapping").length).toBeLessThanOrEqual(2);
      expect(checkLabels(render)).toEqual([]);
    });

    it.skipIf(!sample)(`${name}: fill, contour and untouched pixels follow the blend rule exactly${skipped}`, async () => {
      const loaded = await loadSample(name);
      for (const options of [BASE, { ...BASE, fillAlpha: 0.3, contour: false }, { ...BASE, fillAlpha: 1 }, { ...BASE, fillAlpha: 0 }]) {
        const input = { ...loaded, options };
        const result = checkPixels(input, renderSetOfMarks(input));
        expect(result.first, JSON.stringify(options)).toBeNull();
        expect(result.blend).toBeGreaterThan(100_000);
        if (options.contour) expect(result.contour).toBeGreaterThan(1000);
        else expect(result.contour).toBe(0);
      }
    });
  }

  it.skipIf(!sample)(`a pixel far from labels and contours has exactly the blended value${skipped}`, async () => {
    const input = { ...(await loadSample("000000142238")), options: { ...BASE, fillAlpha: 0.45 } };
    const render = renderSetOfMarks(input);
    // The largest segment (mark 1): take a pixel 5 px from any other id and from every label box.
    const m = render.marks[0];
    const { width: w, ids } = input.panoptic;
    let at = -1;
    for (let i = 0; i < ids.length && at < 0; i++) {
      const x = i % w;
      const y = Math.floor(i / w);
      if (x < 5 || y < 5 || x >= w - 5 || y >= input.panoptic.height - 5) continue;
      let interior = true;
      for (let dy = -5; dy <= 5 && interior; dy++) for (let dx = -5; dx <= 5 && interior; dx++) interior = ids[i + dy * w + dx] === m.segmentId;
      const nearLabel = render.marks.some((l) => boxesOverlap({ x: x - 5, y: y - 5, w: 11, h: 11 }, l.box));
      if (interior && !nearLabel) at = i;
    }
    expect(at).toBeGreaterThanOrEqual(0);
    const colour = markColour(1);
    for (let c = 0; c < 3; c++) {
      const v = input.image.rgba[at * 4 + c];
      expect(render.rgba[at * 4 + c]).toBe(Math.round(v * 0.55 + colour[c] * 0.45));
    }
    expect(render.rgba[at * 4 + 3]).toBe(255);
  });

  it.skipIf(!sample)(`draws contour pixels in the opaque segment colour, and blends them without contour${skipped}`, async () => {
    const loaded = await loadSample("000000439180");
    const on = renderSetOfMarks({ ...loaded, options: BASE });
    const off = renderSetOfMarks({ ...loaded, options: { ...BASE, contour: false } });
    const { width: w, height: h, ids } = loaded.panoptic;
    const numberOf = new Map(on.marks.map((m) => [m.segmentId, m.number]));
    const inLabel = (x: number, y: number) => on.marks.some((m) => x >= m.box.x && x < m.box.x + m.box.w && y >= m.box.y && y < m.box.y + m.box.h);
    let checked = 0;
    for (let y = 1; y < h - 1; y += 3) {
      for (let x = 1; x < w - 1; x++) {
        const i = y * w + x;
        const id = ids[i];
        if (id === 0 || ids[i + 1] === id || inLabel(x, y)) continue; // right neighbour differs: a border pixel
        const c = markColour(numberOf.get(id)!);
        expect([...on.rgba.subarray(i * 4, i * 4 + 4)]).toEqual([...c, 255]);
        const v = loaded.image.rgba.subarray(i * 4, i * 4 + 3);
        expect([...off.rgba.subarray(i * 4, i * 4 + 3)]).toEqual([...v].map((value, ch) => Math.round(value * 0.55 + c[ch] * 0.45)));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it.skipIf(!sample)(`side by side: the original on the left exactly, a white gap, the SoM panel on the right${skipped}`, async () => {
    for (const name of SAMPLE_IMAGES) {
      const loaded = await loadSample(name);
      const { width: w, height: h } = loaded.image;
      const som = renderSetOfMarks({ ...loaded, options: BASE });
      const sbs = renderSetOfMarks({ ...loaded, options: { ...BASE, layout: "side-by-side" } });
      expect([sbs.width, sbs.height, sbs.offsetX, som.offsetX]).toEqual([2 * w + SIDE_BY_SIDE_GAP, h, w + SIDE_BY_SIDE_GAP, 0]);
      expect(sbs.marks).toEqual(som.marks); // panel coordinates
      let left = 0;
      let gap = 0;
      let right = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const o = (y * sbs.width + x) * 4;
          const s = (y * w + x) * 4;
          const src = loaded.image.rgba;
          if (sbs.rgba[o] !== src[s] || sbs.rgba[o + 1] !== src[s + 1] || sbs.rgba[o + 2] !== src[s + 2] || sbs.rgba[o + 3] !== 255) left++;
          const p = o + sbs.offsetX * 4;
          if (sbs.rgba[p] !== som.rgba[s] || sbs.rgba[p + 1] !== som.rgba[s + 1] || sbs.rgba[p + 2] !== som.rgba[s + 2] || sbs.rgba[p + 3] !== som.rgba[s + 3]) right++;
        }
        for (let x = w; x < w + SIDE_BY_SIDE_GAP; x++) if (sbs.rgba.subarray((y * sbs.width + x) * 4, (y * sbs.width + x + 1) * 4).some((v) => v !== 255)) gap++;
      }
      expect({ name, left, gap, right }).toEqual({ name, left: 0, gap: 0, right: 0 });
    }
  });

  it.skipIf(!sample)(`is deterministic: two renders give identical PNG bytes, in both layouts${skipped}`, async () => {
    for (const name of SAMPLE_IMAGES) {
      for (const layout of ["som", "side-by-side"] as const) {
        const options = { ...BASE, layout };
        const a = await encodeRender(renderSetOfMarks({ ...(await loadSample(name)), options }), "png");
        const b = await encodeRender(renderSetOfMarks({ ...(await loadSample(name)), options }), "png");
        expect(b.length).toBe(a.length);
        expect(await sha256(b)).toBe(await sha256(a));
      }
    }
  });

  it.skipIf(!sample)(`changes its bytes when any option changes${skipped}`, async () => {
    const loaded = await loadSample("000000142238");
    const bytes = async (options: SomOptions) => sha256(await encodeRender(renderSetOfMarks({ ...loaded, options }), options.format));
    const base = await bytes(BASE);
    const variants: SomOptions[] = [
      { ...BASE, fillAlpha: 0.6 },
      { ...BASE, contour: false },
      { ...BASE, layout: "side-by-side" },
      { ...BASE, format: "jpeg" },
    ];
    const digests = [base];
    for (const v of variants) digests.push(await bytes(v));
    expect(new Set(digests).size).toBe(digests.length);
  });

  it.skipIf(!sample)(`encodes a lossless PNG and a decodable JPEG${skipped}`, async () => {
    const loaded = await loadSample("000000142238");
    const render = renderSetOfMarks({ ...loaded, options: { ...BASE, layout: "side-by-side" } });
    const png = await encodeRender(render, "png");
    const back = await decodeImage(png, "render");
    expect([back.format, back.width, back.height]).toEqual(["png", render.width, render.height]);
    expect(firstDifference(back.rgba, render.rgba)).toBe(-1);

    const jpeg = await encodeRender(render, "jpeg");
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    const decoded = await decodeImage(jpeg, "render");
    expect([decoded.format, decoded.width, decoded.height]).toEqual(["jpeg", render.width, render.height]);
    let err = 0;
    for (let i = 0; i < render.rgba.length; i++) err += Math.abs(decoded.rgba[i] - render.rgba[i]);
    expect(err / render.rgba.length).toBeLessThan(4); // quality 90: close to the render
    expect(jpeg.length).toBeLessThan(png.length);
  });
});

describe("renderSetOfMarks on hand-made maps", () => {

  it("scales labels with the image (2× for COCO sizes)", () => {
    expect([labelScale(640, 427), labelScale(640, 360), labelScale(100, 60), labelScale(1920, 1080), labelScale(20_000, 20_000)]).toEqual([2, 2, 1, 5, 8]);
  });

  /** Horizontal bands of the given ids and heights, `width` wide. */
  const bands = (width: number, spec: [id: number, height: number][]) => {
    const rows: string[] = [];
    for (const [id, height] of spec) for (let k = 0; k < height; k++) rows.push(id.toString(36).repeat(width));
    const panoptic = fromRows(rows);
    return { image: gradientImage(panoptic.width, panoptic.height), panoptic, segments: measureSegments(panoptic) };
  };

  it("nudges a label whose box would leave the image, keeping its centre on the segment", () => {
    // Band 2 is 6 px high along the top edge: its mark is 3 px from the edge, where a 9-px high box
    // (scale 1) would stick out; one row lower the box fits and the centre is still on the band.
    const input = { ...bands(60, [[2, 6], [1, 30]]), options: BASE };
    const seg = input.segments.find((s) => s.id === 2)!;
    expect(seg.mark.y).toBeLessThan(4);
    const m = renderSetOfMarks(input).marks.find((x) => x.segmentId === 2)!;
    expect(m.placement).toBe("nudged");
    expect([m.box.y, m.center.y]).toEqual([0, 4]);
    expect(input.panoptic.ids[m.center.y * 60 + m.center.x]).toBe(2);
    expect(Math.abs(m.center.x - seg.mark.x)).toBeLessThanOrEqual(1);
  });

  it("falls back to a box over the mark point when the segment cannot hold the box centre", () => {
    // A 3-px band along the top edge: no centre on it leaves a 9-px high box inside the image.
    const input = { ...bands(60, [[2, 3], [1, 30]]), options: BASE };
    const seg = input.segments.find((s) => s.id === 2)!;
    const m = renderSetOfMarks(input).marks.find((x) => x.segmentId === 2)!;
    expect(m.placement).toBe("overlapping");
    expect(m.box.y).toBe(0);
    expect(m.box.x <= seg.mark.x && seg.mark.x < m.box.x + m.box.w && seg.mark.y < m.box.y + m.box.h).toBe(true);
  });

  it("moves a later label off an earlier one, to a free spot on its own segment", () => {
    // Two 6-px wide columns by the left edge and a wide one: the narrow ones' marks are 6 px apart,
    // closer than a 7-px wide box plus clearance, so the later one must move along its column.
    const rows: string[] = [];
    for (let y = 0; y < 40; y++) rows.push("1".repeat(6) + "2".repeat(6) + "3".repeat(30));
    const panoptic = fromRows(rows);
    const segments = measureSegments(panoptic);
    const render = renderSetOfMarks({ image: gradientImage(panoptic.width, panoptic.height), panoptic, segments, options: BASE });
    expect(render.marks.map((m) => m.segmentId)).toEqual([3, 1, 2]);
    for (const [k, m] of render.marks.entries()) {
      expect(m.placement).not.toBe("overlapping");
      expect(panoptic.ids[m.center.y * panoptic.width + m.center.x]).toBe(m.segmentId);
      for (const e of render.marks.slice(0, k)) expect(boxesOverlap(m.box, e.box, LABEL_CLEARANCE)).toBe(false);
    }
    const last = render.marks[2];
    expect(last.placement).toBe("nudged");
    const mark = segments.find((s) => s.id === 2)!.mark;
    // The nearest free centre: straight up or down by one box height plus clearance, or less.
    expect(Math.hypot(last.center.x - mark.x, last.center.y - mark.y)).toBeLessThanOrEqual(last.box.h + LABEL_CLEARANCE + 1);
  });

  it("leaves unlabeled and unlisted pixels alone and draws the rest by the rules", () => {
    const panoptic = fromRows(["....11112222", "..3311112222", "..33....2222", "............"], 8);
    const image = gradientImage(panoptic.width, panoptic.height);
    const segments = measureSegments(panoptic).filter((s) => s.id !== 3); // 3 is in the map but not listed
    for (const options of [BASE, { ...BASE, contour: false, fillAlpha: 0.8 }]) {
      const input = { image, panoptic, segments, options };
      const render = renderSetOfMarks(input);
      expect(render.marks.map((m) => m.segmentId)).toEqual([2, 1]);
      const result = checkPixels(input, render);
      expect(result.first).toBeNull();
      expect(result.plain).toBeGreaterThan(0);
      expect(checkLabels(render)).toEqual([]);
    }
  });

  it("renders an image with no segments as the image itself", () => {
    const panoptic = fromRows(["...."], 10);
    const image = gradientImage(panoptic.width, panoptic.height);
    const render = renderSetOfMarks({ image, panoptic, segments: [], options: BASE });
    expect(render.marks).toEqual([]);
    expect(firstDifference(render.rgba, image.rgba)).toBe(-1);
  });

  it("treats input alpha as opaque", () => {
    const panoptic = fromRows(["11", "11"], 10);
    const image = gradientImage(20, 20);
    for (let i = 3; i < image.rgba.length; i += 4) image.rgba[i] = 7;
    const render = renderSetOfMarks({ image, panoptic, segments: measureSegments(panoptic), options: BASE });
    for (let i = 3; i < render.rgba.length; i += 4) expect(render.rgba[i]).toBe(255);
  });

  it("refuses inconsistent input", () => {
    const panoptic = fromRows(["11", "22"], 4);
    const image = gradientImage(8, 8);
    const segments = measureSegments(panoptic);
    expect(() => renderSetOfMarks({ image: gradientImage(8, 7), panoptic, segments, options: BASE })).toThrow(/panoptic map is 8×8 but the image is 8×7/);
    expect(() => renderSetOfMarks({ image, panoptic, segments: [...segments, segments[0]], options: BASE })).toThrow(/listed twice/);
    expect(() => renderSetOfMarks({ image, panoptic, segments: [{ id: 0, area: 1, mark: { x: 0, y: 0 } }], options: BASE })).toThrow(/0 is unlabeled/);
    expect(() => renderSetOfMarks({ image, panoptic, segments, options: { ...BASE, fillAlpha: 1.5 } })).toThrow(/fillAlpha/);
    expect(() => renderSetOfMarks({ image, panoptic, segments, options: { ...BASE, fillAlpha: Number.NaN } })).toThrow(/fillAlpha/);
    expect(() => renderSetOfMarks({ image: { width: 8, height: 8, rgba: new Uint8Array(10) }, panoptic, segments, options: BASE })).toThrow(/bytes/);
  });

  it(`pins the bytes of a reference render (if this fails, bump SOM_RENDER_VERSION, now ${SOM_RENDER_VERSION}, and update the digests)`, async () => {
    const rows = [
      "1111111111111111",
      "1111222211111111",
      "1112222221133311",
      "1112222221133311",
      "1111222211133311",
      "4444444444444444",
      "4444455444444444",
      "4444444444444444",
    ];
    const panoptic = fromRows(rows, 10);
    const image = gradientImage(panoptic.width, panoptic.height);
    const segments = measureSegments(panoptic);
    const digests: Record<string, string> = {};
    for (const layout of ["som", "side-by-side"] as const) {
      digests[layout] = await sha256(await encodeRender(renderSetOfMarks({ image, panoptic, segments, options: { ...BASE, layout } }), "png"));
    }
    expect(SOM_RENDER_VERSION).toBe(1);
    expect(digests).toEqual({
      som: "e6ff4936ed11e4c1cf15659cfd1af7de16fcbbe418ae1b5ed632982f32db771c",
      "side-by-side": "3c6993e4f0b284c985ff57ff812cedf25cdb8fc6dd692516e9d01cdfb7fc9b52",
    });
  });
});

describe("encodePngRgb", () => {
  const roundTrip = (image: Image, filter?: PngFilter) => {
    const png = encodePngRgb(image.rgba, image.width, image.height, filter ? { filter } : {});
    const back = decodePng(png, { checkCrc: true });
    expect([back.width, back.height, back.channels, back.depth]).toEqual([image.width, image.height, 3, 8]);
    const rgb = new Uint8Array(image.width * image.height * 3);
    for (let i = 0, j = 0; i < image.rgba.length; i += 4, j += 3) rgb.set(image.rgba.subarray(i, i + 3), j);
    expect(firstDifference(back.data, rgb)).toBe(-1);
    return png;
  };

  it("round-trips losslessly with every filter, across several deflate blocks", () => {
    const image = gradientImage(300, 250); // 225 kB of scanlines: four blocks
    const sizes: Record<string, number> = {};
    for (const filter of ["none", "sub", "up", "average", "paeth"] as const) sizes[filter] = roundTrip(image, filter).length;
    expect(sizes.paeth).toBeLessThan(sizes.none);
    expect(roundTrip(image).length).toBe(sizes.paeth); // the default
  });

  it("round-trips incompressible noise (stored blocks) and flat colour (long runs)", () => {
    let s = 12345;
    const noise = { width: 200, height: 150, rgba: Uint8Array.from({ length: 200 * 150 * 4 }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24)) };
    for (const filter of ["none", "paeth"] as const) expect(roundTrip(noise, filter).length).toBeLessThan(200 * 150 * 3 + 1000);
    const flat = { width: 1000, height: 90, rgba: new Uint8Array(1000 * 90 * 4).fill(77) };
    for (const filter of ["none", "sub", "up", "average", "paeth"] as const) expect(roundTrip(flat, filter).length).toBeLessThan(2000);
    // Noise above, flat below: stored blocks, a block mixing both, then dynamic blocks.
    const mixed = { width: 200, height: 300, rgba: new Uint8Array(200 * 300 * 4).fill(9) };
    mixed.rgba.set(noise.rgba);
    const size = roundTrip(mixed, "none").length;
    expect(size).toBeGreaterThan(200 * 150 * 3);
    expect(size).toBeLessThan(200 * 150 * 3 + 2000);
  });

  it("round-trips tiny images and odd sizes", () => {
    for (const [w, h] of [
      [1, 1],
      [2, 1],
      [1, 3],
      [3, 3],
      [7, 5],
    ]) {
      for (const filter of ["none", "sub", "up", "average", "paeth"] as const) roundTrip(gradientImage(w, h), filter);
    }
  });

  it("refuses a canvas of the wrong length", () => {
    expect(() => encodePngRgb(new Uint8Array(10), 2, 2)).toThrow(RangeError);
    expect(() => encodePngRgb(new Uint8Array(0), 0, 0)).toThrow(RangeError);
  });
});
