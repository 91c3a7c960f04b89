import { env } from "cloudflare:workers";

/** The shared COCO-panoptic sample, or null (with `sampleMissingReason`) when it is not on this machine. */
export interface Sample {
  file(path: string): Uint8Array;
  json<T = unknown>(path: string): T;
}

export const sampleMissingReason: string | null = env.SAMPLE.available ? null : (env.SAMPLE.reason ?? "sample absent");

export const sample: Sample | null = env.SAMPLE.available
  ? {
      file(path) {
        const b64 = env.SAMPLE.files[path];
        if (b64 === undefined) throw new Error(`sample has no file ${path}`);
        return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      },
      json(path) {
        return JSON.parse(new TextDecoder().decode(this.file(path)));
      },
    }
  : null;

if (sampleMissingReason) console.warn(`[sample] skipping sample-based tests: ${sampleMissingReason}`);
