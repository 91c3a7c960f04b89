/**
 * A 5×7 bitmap font for the digits 0–9 (the classic HD44780 shapes, with an unslashed zero), drawn
 * scaled by an integer factor into an RGBA buffer. Enough for set-of-marks numbers; pure and exact,
 * so rendered labels are byte-identical everywhere.
 */

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 7;

/** One row per byte, top to bottom; bit 4 is the leftmost column. */
const GLYPHS: readonly (readonly number[])[] = [
  [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e], // 0
  [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e], // 1
  [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f], // 2
  [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e], // 3
  [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02], // 4
  [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e], // 5
  [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e], // 6
  [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08], // 7
  [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e], // 8
  [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c], // 9
];

/**
 * Size of a label box holding `text` at `scale`: glyphs `5·scale` wide with one glyph column
 * (`scale` px) between them, and `scale` px of padding on every side.
 */
export function labelSize(text: string, scale: number): { w: number; h: number } {
  const n = text.length;
  return { w: 2 * scale + n * GLYPH_WIDTH * scale + (n - 1) * scale, h: 2 * scale + GLYPH_HEIGHT * scale };
}

/**
 * Fills the label box (top-left `x`, `y`, size from labelSize) with `background` and draws the
 * digits of `text` in `foreground`. `out` is RGBA with `stride` pixels per row; `offsetX` shifts
 * everything right (a panel of a wider canvas). The caller keeps the box inside the canvas.
 */
export function drawLabel(
  out: Uint8Array,
  stride: number,
  offsetX: number,
  x: number,
  y: number,
  text: string,
  scale: number,
  foreground: readonly [number, number, number],
  background: readonly [number, number, number],
): void {
  const { w, h } = labelSize(text, scale);
  for (let yy = y; yy < y + h; yy++) {
    for (let xx = x; xx < x + w; xx++) setPixel(out, (yy * stride + offsetX + xx) * 4, background);
  }
  for (let c = 0; c < text.length; c++) {
    const digit = text.charCodeAt(c) - 48;
    const glyph = GLYPHS[digit];
    if (glyph === undefined) throw new RangeError(`the label font has digits only, got ${JSON.stringify(text)}`);
    const gx = x + scale + c * (GLYPH_WIDTH + 1) * scale;
    const gy = y + scale;
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      const bits = glyph[row];
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (((bits >> (GLYPH_WIDTH - 1 - col)) & 1) === 0) continue;
        for (let sy = 0; sy < scale; sy++) {
          const o = ((gy + row * scale + sy) * stride + offsetX + gx + col * scale) * 4;
          for (let sx = 0; sx < scale; sx++) setPixel(out, o + sx * 4, foreground);
        }
      }
    }
  }
}

function setPixel(out: Uint8Array, o: number, rgb: readonly [number, number, number]): void {
  out[o] = rgb[0];
  out[o + 1] = rgb[1];
  out[o + 2] = rgb[2];
  out[o + 3] = 255;
}
