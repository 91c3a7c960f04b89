/**
 * Encoding of rendered RGBA canvases. Pure (fast-png, whose deflate is fflate).
 */
import { encode as encodePngLib } from "fast-png";

export type DeflateLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/**
 * RGB 8-bit PNG of an opaque RGBA canvas (alpha dropped), deflated at `level` (0–9). fast-png
 * writes every row unfiltered, so the level is the only size/speed knob.
 */
export function encodePngRgb(rgba: Uint8Array, width: number, height: number, level: DeflateLevel): Uint8Array {
  const n = width * height;
  if (rgba.length !== n * 4) throw new RangeError(`canvas has ${rgba.length} bytes, expected ${width}×${height}×4`);
  const rgb = new Uint8Array(n * 3);
  for (let i = 0, s = 0, d = 0; i < n; i++, s += 4, d += 3) {
    rgb[d] = rgba[s];
    rgb[d + 1] = rgba[s + 1];
    rgb[d + 2] = rgba[s + 2];
  }
  return encodePngLib({ width, height, data: rgb, channels: 3, depth: 8 }, { zlib: { level } });
}
