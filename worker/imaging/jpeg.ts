/**
 * JPEG decode and encode with mozjpeg (libjpeg-turbo's API, built to WebAssembly by @jsquash/jpeg).
 *
 * Pure: the host hands over the two compiled `WebAssembly.Module`s, because how a .wasm file
 * becomes a module differs per runtime (workerd may only import it, see jpeg-wasm.worker.ts; Node
 * compiles it from the file, see scripts/lib/jpeg-node.ts). Instances are created from them on first
 * use and re-created after any failure, since a libjpeg error ends in emscripten's exit() (or a trap)
 * half-way through a call, which leaves the instance's stack and heap in an unknown state.
 *
 * libjpeg reports problems on stderr: one line per warning (it keeps decoding, filling damaged parts)
 * and one line for the error that stops it. Those lines are captured per call and become the
 * JpegCodecError detail; a decode that produced a warning about the data counts as corrupt.
 */
import decodeWithMozjpeg, { init as initMozjpegDecoder } from "@jsquash/jpeg/decode.js";
import encodeWithMozjpeg, { init as initMozjpegEncoder } from "@jsquash/jpeg/encode.js";

export interface JpegCodecModules {
  /** Compiled `@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm`. */
  decoder: WebAssembly.Module;
  /** Compiled `@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm`. */
  encoder: WebAssembly.Module;
}

export interface RgbaImage {
  width: number;
  height: number;
  /** 8-bit RGBA, row-major, width * height * 4 bytes. */
  rgba: Uint8Array;
}

export type JpegProblem = "corrupt" | "unsupported" | "limits";

/** The codec refused the data (bad input, not a server fault). */
export class JpegCodecError extends Error {
  kind: JpegProblem;
  /** libjpeg's own message, or the runtime's when there is none. */
  detail: string;

  constructor(kind: JpegProblem, detail: string) {
    super(`${kind === "corrupt" ? "corrupt JPEG" : kind === "unsupported" ? "unsupported JPEG" : "JPEG exceeds codec limits"}: ${detail}`);
    this.name = "JpegCodecError";
    this.kind = kind;
    this.detail = detail;
  }
}

/**
 * Encoder settings. The defaults favour speed over size (no progressive scans); mozjpeg always
 * applies trellis quantisation, which is most of its encode time.
 */
export interface JpegEncodeOptions {
  progressive?: boolean;
  /** Two-pass Huffman tables: ~5 % smaller files. */
  optimizeCoding?: boolean;
  /** 4:2:0 chroma subsampling when true (default), full-resolution chroma (4:4:4) when false. */
  subsampleChroma?: boolean;
}

/** Calls whose images are larger than this drop their instance afterwards, returning its grown memory. */
const RELEASE_AFTER_BYTES = 48 * 2 ** 20;

interface Codec<A extends unknown[], R> {
  init: () => void;
  ready: boolean;
  call: (...args: A) => Promise<R>;
  /** Serialises calls so stderr lines are attributed to the call that printed them. */
  queue: Promise<unknown>;
  lines: string[];
}

type InitFn = (module: WebAssembly.Module, overrides: Record<string, unknown>) => Promise<void>;
type DecodeFn = (data: Uint8Array, options?: { preserveOrientation?: boolean }) => Promise<{ width: number; height: number; data: Uint8ClampedArray }>;
type EncodeFn = (image: { data: Uint8Array; width: number; height: number }, options: Record<string, unknown>) => Promise<ArrayBuffer>;

let modules: JpegCodecModules | null = null;
let decoder: Codec<Parameters<DecodeFn>, Awaited<ReturnType<DecodeFn>>> | null = null;
let encoder: Codec<Parameters<EncodeFn>, ArrayBuffer> | null = null;

/**
 * Makes these compiled modules the JPEG codec. Cheap: instances are created on first use. Calling it
 * again with the same modules does nothing; with other modules it replaces the codec.
 */
export function provideJpegCodec(wasm: JpegCodecModules): void {
  if (!(wasm.decoder instanceof WebAssembly.Module) || !(wasm.encoder instanceof WebAssembly.Module)) {
    throw new TypeError("provideJpegCodec needs compiled WebAssembly.Module objects for the mozjpeg decoder and encoder");
  }
  if (modules && modules.decoder === wasm.decoder && modules.encoder === wasm.encoder) return;
  ensureImageData();
  modules = wasm;
  decoder = codec(initMozjpegDecoder as unknown as InitFn, wasm.decoder, decodeWithMozjpeg as unknown as DecodeFn);
  encoder = codec(initMozjpegEncoder as unknown as InitFn, wasm.encoder, encodeWithMozjpeg as unknown as EncodeFn);
}

/** provideJpegCodec, then a round trip through both codecs, so a broken module fails here and not on first use. */
export async function installJpegCodec(wasm: JpegCodecModules): Promise<void> {
  provideJpegCodec(wasm);
  const probe = await decodeJpeg(await encodeJpeg(new Uint8Array(8 * 8 * 4).fill(200), 8, 8, 90));
  if (probe.width !== 8 || probe.height !== 8) throw new Error(`JPEG codec self-test failed: got ${probe.width}×${probe.height}, expected 8×8`);
}

export function jpegCodecInstalled(): boolean {
  return modules !== null;
}

/** Decodes a baseline or progressive JPEG to RGBA, ignoring EXIF orientation (pixels as stored). */
export async function decodeJpeg(bytes: Uint8Array): Promise<RgbaImage> {
  const image = await run(installed().decoder, bytes.length, [bytes, { preserveOrientation: false }], (r) => r.width * r.height * 4, true);
  const { width, height, data } = image;
  if (!data || data.length !== width * height * 4) throw new JpegCodecError("corrupt", "the decoder returned no pixels");
  return { width, height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Encodes RGBA pixels (alpha is ignored) as a JPEG of the given quality (1–100): baseline unless progressive. */
export async function encodeJpeg(rgba: Uint8Array, width: number, height: number, quality = 85, options: JpegEncodeOptions = {}): Promise<Uint8Array> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 65_500 || height > 65_500) {
    throw new RangeError(`cannot encode a ${width}×${height} JPEG`);
  }
  if (rgba.length !== width * height * 4) throw new RangeError(`rgba has ${rgba.length} bytes, expected ${width}×${height}×4`);
  if (!(quality >= 1 && quality <= 100)) throw new RangeError(`JPEG quality must be 1–100, got ${quality}`);
  const progressive = options.progressive ?? false;
  const settings = {
    quality: Math.round(quality),
    progressive,
    // Quantisation tables limited to 8-bit values, which every decoder reads (jsquash ties this
    // to sequential scans, so it is only on when progressive is off).
    baseline: !progressive,
    optimize_coding: options.optimizeCoding ?? true,
    auto_subsample: options.subsampleChroma ?? true,
    chroma_subsample: 1, // used when auto_subsample is off: 1×1, i.e. 4:4:4
  };
  const out = await run(installed().encoder, rgba.length, [{ data: rgba, width, height }, settings], (r) => r.byteLength, false);
  return new Uint8Array(out);
}

function installed(): { decoder: NonNullable<typeof decoder>; encoder: NonNullable<typeof encoder> } {
  if (!decoder || !encoder) {
    throw new Error(
      "JPEG codec not installed: call provideJpegCodec/installJpegCodec with the mozjpeg WebAssembly modules first " +
        "(the Worker does it in worker/index.ts, Node scripts with scripts/lib/jpeg-node.ts)",
    );
  }
  return { decoder, encoder };
}

function codec<A extends unknown[], R>(init: InitFn, module: WebAssembly.Module, call: (...args: A) => Promise<R>): Codec<A, R> {
  const c: Codec<A, R> = {
    ready: false,
    lines: [],
    queue: Promise.resolve(),
    call,
    init() {
      // jsquash keeps one emscripten instance per codec; init replaces it with a fresh one.
      void init(module, {
        printErr: (line: string) => c.lines.push(line),
        print: () => {},
      });
      c.ready = true;
    },
  };
  return c;
}

/**
 * One codec call, in turn. Decoder warnings mean damaged data and fail the call; encoder warnings
 * (e.g. about quantisation tables) do not concern the pixels handed in and are dropped.
 */
async function run<A extends unknown[], R>(
  c: Codec<A, R>,
  inputBytes: number,
  args: A,
  outputBytes: (r: R) => number,
  warningsFail: boolean,
): Promise<R> {
  const turn = c.queue.then(async () => {
    if (!c.ready) c.init();
    c.lines = [];
    let result: R;
    try {
      result = await c.call(...args);
    } catch (err) {
      c.ready = false; // never reuse an instance that stopped half-way through a call
      // A module that fails to link or compile is a deployment fault, not a bad image.
      if (err instanceof Error && (err.name === "LinkError" || err.name === "CompileError")) throw err;
      throw classify(c.lines, err);
    }
    if (inputBytes + outputBytes(result) > RELEASE_AFTER_BYTES) c.ready = false;
    const warnings = warningsFail ? c.lines.filter((line) => !BENIGN_WARNING.test(line)) : [];
    if (warnings.length > 0) throw new JpegCodecError("corrupt", warnings.join("; "));
    return result;
  });
  c.queue = turn.catch(() => undefined);
  return turn;
}

/**
 * libjpeg warnings that leave the pixels intact: about metadata, or about junk between the last
 * scan's data and EOI (written by some encoders; every block was decoded by then, and jpeg-js,
 * used before, accepted it too).
 */
const BENIGN_WARNING = /unknown JFIF revision|Adobe color transform|bad ICC marker|extraneous bytes before marker 0xd9/i;

function classify(lines: string[], err: unknown): JpegCodecError {
  const thrown = err instanceof Error ? err.message : err && typeof err === "object" && "message" in err ? String(err.message) : String(err);
  // libjpeg prints its fatal message just before exit(); without one the runtime's message is all there is.
  const detail = lines.length > 0 ? lines[lines.length - 1] : thrown;
  const all = `${lines.join(" ")} ${thrown}`;
  if (/Insufficient memory|enlarge memory|out of memory|\bOOM\b|Maximum supported image dimension/i.test(all)) return new JpegCodecError("limits", detail);
  if (/Unsupported (JPEG process|JPEG data precision|color conversion|color space)|not implemented|feature was omitted|Sorry, arithmetic/i.test(all)) {
    return new JpegCodecError("unsupported", detail);
  }
  return new JpegCodecError("corrupt", detail);
}

/**
 * The emscripten glue builds results with `new ImageData(...)`, a browser class that workerd and Node
 * lack. The glue defines a stand-in itself when it recognises those runtimes; this covers the case
 * where it does not.
 */
function ensureImageData(): void {
  const g = globalThis as { ImageData?: unknown };
  if (typeof g.ImageData === "function") return;
  g.ImageData = class ImageData {
    data: Uint8ClampedArray;
    width: number;
    height: number;
    colorSpace = "srgb";
    constructor(data: Uint8ClampedArray, width: number, height: number) {
      this.data = data;
      this.width = width;
      this.height = height;
    }
  };
}
