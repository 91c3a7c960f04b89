/**
 * The JPEG codec for Node scripts and benchmarks: compiles the mozjpeg .wasm files that
 * @jsquash/jpeg ships and installs them, the Node counterpart of worker/imaging/jpeg-wasm.worker.ts.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { installJpegCodec, type JpegCodecModules } from "../../worker/imaging/jpeg.ts";

const require = createRequire(import.meta.url);
// The project's types are workerd's, where WebAssembly.Module cannot be constructed; in Node it can.
const WasmModule = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;

export function nodeJpegModules(): JpegCodecModules {
  const compile = (path: string) => new WasmModule(readFileSync(require.resolve(path)));
  return {
    decoder: compile("@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm"),
    encoder: compile("@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm"),
  };
}

let installed: Promise<void> | null = null;

/** Compiles, installs and self-tests the codec once per process. */
export function installNodeJpegCodec(): Promise<void> {
  installed ??= installJpegCodec(nodeJpegModules());
  return installed;
}
