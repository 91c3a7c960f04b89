import { buildApp } from "./app.ts";
import type { Env } from "./env.ts";
import { useBundledJpegCodec } from "./imaging/jpeg-wasm.worker.ts";

// The mozjpeg modules bundled with the Worker; instantiated on the first JPEG decode or encode.
useBundledJpegCodec();

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
