/**
 * Decoding of uploaded photos (JPEG or PNG) into 8-bit RGBA.
 *
 * Pure: runs unchanged in workerd and in plain Node. Every failure surfaces as an ImageDecodeError
 * naming the request field, so routes can turn it into a 4xx without knowing which library failed.
 * PNG goes through fast-png; JPEG through mozjpeg (jpeg.ts), whose WebAssembly modules the host
 * installs first — if it has not, decoding a JPEG throws a plain Error (a server fault, not a 4xx).
 */
import { decode as decodePngLib } from "fast-png";
import type { DecodedPng } from "fast-png";
import { decodeJpeg, JpegCodecError } from "./jpeg.ts";

export type ImageFormat = "jpeg" | "png";

export class ImageDecodeError extends Error {
  field: string;
  reason: string;

  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = "ImageDecodeError";
    this.field = field;
    this.reason = reason;
  }
}

export interface DecodedImage {
  format: ImageFormat;
  width: number;
  height: number;
  /** 8-bit RGBA, row-major, width * height * 4 bytes. */
  rgba: Uint8Array;
}

export interface DecodeLimits {
  maxPixels: number;
}

export const DEFAULT_LIMITS: DecodeLimits = { maxPixels: 50_000_000 };

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes.length >= PNG_SIGNATURE.length && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  return null;
}

export interface ImageSize {
  format: ImageFormat;
  width: number;
  height: number;
}

/**
 * Dimensions from the header alone (PNG IHDR, JPEG SOFn), without decoding pixels; null when the
 * bytes are not a JPEG/PNG or the header is missing. Lets callers refuse oversized images before
 * paying for (or allocating) a full decode.
 */
export function readImageSize(bytes: Uint8Array): ImageSize | null {
  const format = sniffFormat(bytes);
  if (format === "png") {
    // IHDR is required to be the first chunk: length(4) "IHDR"(4) width(4) height(4).
    if (bytes.length < 24 || String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]) !== "IHDR") return null;
    return { format, width: readU32(bytes, 16), height: readU32(bytes, 20) };
  }
  if (format === "jpeg") {
    const sof = findJpegFrame(bytes);
    return sof && { format, width: sof.width, height: sof.height };
  }
  return null;
}

/**
 * Decodes a JPEG or PNG to RGBA. 16-bit PNGs are reduced to 8 bits per channel; low-bit-depth
 * grayscale and palette PNGs are expanded. JPEGs decode as stored (EXIF orientation is not applied,
 * matching how COCO annotations address pixels).
 */
export async function decodeImage(bytes: Uint8Array, field: string, limits: DecodeLimits = DEFAULT_LIMITS): Promise<DecodedImage> {
  const format = sniffFormat(bytes);
  if (format === null) {
    throw new ImageDecodeError(field, bytes.length === 0 ? "empty file" : "not a JPEG or PNG file (unrecognised signature)");
  }
  const size = readImageSize(bytes);
  if (size === null) {
    throw new ImageDecodeError(
      field,
      format === "png" ? "truncated or corrupt PNG: missing IHDR header" : "truncated or corrupt JPEG: no frame header (SOF) before the scan data",
    );
  }
  checkPixelLimit(field, size.width, size.height, limits);
  return format === "png" ? decodePngToRgba(bytes, field) : decodeJpegToRgba(bytes, field, size);
}

export function checkPixelLimit(field: string, width: number, height: number, limits: DecodeLimits): void {
  if (width === 0 || height === 0) throw new ImageDecodeError(field, `image has no pixels (${width}×${height})`);
  const pixels = width * height;
  if (pixels > limits.maxPixels) {
    throw new ImageDecodeError(field, `image is ${width}×${height} = ${pixels} pixels, over the limit of ${limits.maxPixels}`);
  }
}

/** fast-png with CRC checks on, with its errors turned into ImageDecodeError. */
export function decodePngChecked(bytes: Uint8Array, field: string): DecodedPng {
  try {
    return decodePngLib(bytes, { checkCrc: true });
  } catch (err) {
    throw new ImageDecodeError(field, `truncated or corrupt PNG: ${errorText(err)}`);
  }
}

function decodePngToRgba(bytes: Uint8Array, field: string): DecodedImage {
  const png = decodePngChecked(bytes, field);
  const { width, height, channels, depth } = png;
  const n = width * height;
  const rgba = new Uint8Array(n * 4);
  const data = png.data;

  if (channels === 1 && png.palette) {
    const palette = png.palette;
    const index = unpackSamples(data, width, height, depth);
    for (let i = 0; i < n; i++) {
      const entry = palette[index[i]];
      if (entry === undefined) throw new ImageDecodeError(field, `corrupt PNG: palette index ${index[i]} out of range (${palette.length} colours)`);
      rgba[i * 4] = entry[0];
      rgba[i * 4 + 1] = entry[1];
      rgba[i * 4 + 2] = entry[2];
      rgba[i * 4 + 3] = entry.length > 3 ? entry[3] : 255;
    }
    return { format: "png", width, height, rgba };
  }
  if (channels < 1 || channels > 4) throw new ImageDecodeError(field, `unsupported PNG: ${channels} channels`);

  // Low bit depths only occur for grayscale (channels 1); 16-bit can occur for every colour type.
  const samples = depth < 8 ? unpackSamples(data, width, height, depth) : data;
  const max = (1 << depth) - 1;
  const to8 = depth === 8 ? null : (v: number) => (depth === 16 ? (v * 255 + 32767) / 65535 : (v * 255) / max) | 0;
  // A tRNS chunk on grayscale/RGB names one colour (in sample units) that is fully transparent.
  const key = png.transparency;
  const colorChannels = channels === 1 || channels === 2 ? 1 : 3;
  const hasAlpha = channels === 2 || channels === 4;

  for (let i = 0; i < n; i++) {
    const s = i * channels;
    const o = i * 4;
    let transparent = key !== undefined && key.length >= colorChannels;
    for (let c = 0; c < colorChannels; c++) {
      const v = samples[s + c];
      if (transparent && v !== key![c]) transparent = false;
      rgba[o + c] = to8 ? to8(v) : v;
    }
    if (colorChannels === 1) rgba[o + 1] = rgba[o + 2] = rgba[o];
    if (hasAlpha) {
      const a = samples[s + channels - 1];
      rgba[o + 3] = to8 ? to8(a) : a;
    } else {
      rgba[o + 3] = transparent ? 0 : 255;
    }
  }
  return { format: "png", width, height, rgba };
}

/** Expands 1/2/4/8-bit single-channel rows (each row padded to a whole byte) to one value per pixel. */
export function unpackSamples(data: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array | Uint16Array {
  if (depth >= 8) return data as Uint8Array | Uint16Array;
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)];
      out[y * width + x] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

async function decodeJpegToRgba(bytes: Uint8Array, field: string, header: ImageSize): Promise<DecodedImage> {
  // libjpeg pads a truncated scan with grey and only warns; the codec seam turns that warning into
  // an error, but truncation is checked explicitly first so the reason says what happened.
  if (!hasEndOfImageAfterScan(bytes)) {
    throw new ImageDecodeError(field, "truncated JPEG: no end-of-image marker after the scan data");
  }
  let decoded: { width: number; height: number; rgba: Uint8Array };
  try {
    decoded = await decodeJpeg(bytes);
  } catch (err) {
    if (!(err instanceof JpegCodecError)) throw err;
    const reason =
      err.kind === "limits"
        ? `JPEG exceeds decoder limits: ${err.detail}`
        : err.kind === "unsupported"
          ? `unsupported JPEG: ${err.detail}`
          : `JPEG is corrupt: ${err.detail}`;
    throw new ImageDecodeError(field, reason);
  }
  if (decoded.width !== header.width || decoded.height !== header.height) {
    throw new ImageDecodeError(field, `JPEG is corrupt: the frame header says ${header.width}×${header.height} but ${decoded.width}×${decoded.height} pixels were decoded`);
  }
  return { format: "jpeg", width: decoded.width, height: decoded.height, rgba: decoded.rgba };
}

/**
 * Inside entropy-coded data 0xFF is always followed by 0x00 or RSTn, so an FF D9 after the first
 * scan header can only be the real EOI (or sit in junk appended after it). An EOI earlier in the
 * file may belong to an EXIF thumbnail and proves nothing, hence the walk to the real SOS.
 */
function hasEndOfImageAfterScan(bytes: Uint8Array): boolean {
  const sos = walkJpegHeader(bytes).sos;
  if (sos < 0) return false;
  for (let i = bytes.length - 2; i > sos; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

function findJpegFrame(bytes: Uint8Array): { width: number; height: number } | null {
  return walkJpegHeader(bytes).frame;
}

/**
 * Walks the marker segments from SOI up to the first scan, skipping segment payloads (which may
 * embed a whole thumbnail JPEG), to find the start-of-frame header and the first SOS.
 */
function walkJpegHeader(bytes: Uint8Array): { frame: { width: number; height: number } | null; sos: number } {
  let frame: { width: number; height: number } | null = null;
  let o = 2;
  while (o + 3 < bytes.length) {
    if (bytes[o] !== 0xff) break;
    const marker = bytes[o + 1];
    if (marker === 0xff) {
      o += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      o += 2; // standalone markers carry no length
      continue;
    }
    if (marker === 0xd9) break;
    if (marker === 0xda) return { frame, sos: o };
    const length = (bytes[o + 2] << 8) | bytes[o + 3];
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (frame === null && marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (o + 9 > bytes.length) break;
      frame = { height: (bytes[o + 5] << 8) | bytes[o + 6], width: (bytes[o + 7] << 8) | bytes[o + 8] };
    }
    o += 2 + length;
  }
  return { frame, sos: -1 };
}

function readU32(bytes: Uint8Array, o: number): number {
  return ((bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]) >>> 0;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // fast-png wraps inflate failures as "Error while decompressing the data:" with the real cause.
  const cause = err.cause instanceof Error ? ` ${err.cause.message}` : "";
  return `${err.message}${cause}`.replace(/:\s*$/, "");
}
