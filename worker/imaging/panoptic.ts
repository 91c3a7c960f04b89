/**
 * COCO-panoptic id maps: PNGs whose pixel colour encodes the segment id as R + 256·G + 256²·B.
 *
 * Pure. Decodes straight from the PNG samples to ids, skipping the RGBA intermediate, because this
 * sits on the ingestion hot path.
 */
import { encode as encodePngLib } from "fast-png";
import { DEFAULT_LIMITS, ImageDecodeError, checkPixelLimit, decodePngChecked, readImageSize, sniffFormat, unpackSamples } from "./decode.ts";
import type { DecodeLimits } from "./decode.ts";

export interface PanopticMap {
  width: number;
  height: number;
  /** Row-major segment ids; 0 = unlabeled. */
  ids: Uint32Array;
}

/** Largest id representable in 8-bit RGB. */
export const MAX_PANOPTIC_ID = 0xffffff;

export function decodePanoptic(bytes: Uint8Array, field = "panoptic", limits: DecodeLimits = DEFAULT_LIMITS): PanopticMap {
  const format = sniffFormat(bytes);
  if (format === null) {
    throw new ImageDecodeError(field, bytes.length === 0 ? "empty file" : "not a JPEG or PNG file (unrecognised signature)");
  }
  if (format === "jpeg") {
    throw new ImageDecodeError(field, "panoptic maps must be lossless PNG; got a JPEG, whose compression alters the id colours");
  }
  const size = readImageSize(bytes);
  if (size === null) throw new ImageDecodeError(field, "truncated or corrupt PNG: missing IHDR header");
  checkPixelLimit(field, size.width, size.height, limits);

  const png = decodePngChecked(bytes, field);
  const { width, height, channels, depth } = png;
  const n = width * height;
  const ids = new Uint32Array(n);

  if (channels === 1 && png.palette) {
    // Indexed maps are legal PNG and lossless, so map each index through the palette to its id.
    const palette = png.palette;
    const lut = new Uint32Array(palette.length);
    for (let p = 0; p < palette.length; p++) lut[p] = palette[p][0] + (palette[p][1] << 8) + (palette[p][2] << 16);
    const index = unpackSamples(png.data, width, height, depth);
    for (let i = 0; i < n; i++) {
      const k = index[i];
      if (k >= lut.length) throw new ImageDecodeError(field, `corrupt PNG: palette index ${k} out of range (${lut.length} colours)`);
      ids[i] = lut[k];
    }
    return { width, height, ids };
  }
  if (depth !== 8) {
    throw new ImageDecodeError(field, `panoptic PNG must use 8 bits per channel, got ${depth}-bit ${colourName(channels)}`);
  }
  if (channels !== 3 && channels !== 4) {
    throw new ImageDecodeError(field, `panoptic PNG must be RGB, RGBA or palette, got ${colourName(channels)}`);
  }
  const d = png.data;
  // Alpha, when present, carries no id information and is ignored.
  for (let i = 0, s = 0; i < n; i++, s += channels) ids[i] = d[s] + (d[s + 1] << 8) + (d[s + 2] << 16);
  return { width, height, ids };
}

/** RGB 8-bit PNG of an id map, the format COCO-panoptic publishes. */
export function encodePanoptic(map: PanopticMap): Uint8Array {
  const { width, height, ids } = map;
  if (ids.length !== width * height) throw new RangeError(`ids has ${ids.length} entries, expected ${width}×${height}`);
  const data = new Uint8Array(ids.length * 3);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id > MAX_PANOPTIC_ID) throw new RangeError(`segment id ${id} does not fit in 24-bit RGB`);
    data[i * 3] = id & 0xff;
    data[i * 3 + 1] = (id >>> 8) & 0xff;
    data[i * 3 + 2] = id >>> 16;
  }
  return encodePngLib({ width, height, data, channels: 3, depth: 8 });
}

function colourName(channels: number): string {
  return ["", "grayscale", "grayscale+alpha", "RGB", "RGBA"][channels] ?? `${channels}-channel`;
}
