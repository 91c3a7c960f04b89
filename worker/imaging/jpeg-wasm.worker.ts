/**
 * The mozjpeg WebAssembly modules as the Worker gets them. workerd cannot compile WebAssembly from
 * bytes at run time, so the .wasm files are imported: wrangler (and the vitest pool) bundle them as
 * compiled `WebAssembly.Module`s. Not pure — only the Worker entry and workerd tests import this.
 */
import decoder from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
import encoder from "@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm";
import { installJpegCodec, provideJpegCodec, type JpegCodecModules } from "./jpeg.ts";

export const bundledJpegModules: JpegCodecModules = { decoder, encoder };

/** Makes the bundled modules the JPEG codec; instances are created on first use. */
export function useBundledJpegCodec(): void {
  provideJpegCodec(bundledJpegModules);
}

/** Like useBundledJpegCodec, but instantiates and self-tests both codecs now. */
export function installBundledJpegCodec(): Promise<void> {
  return installJpegCodec(bundledJpegModules);
}
