import { toGcg } from "../domain/export-gcg.ts";
import { toLlava } from "../domain/export-llava.ts";
import { toNdjson, toPancap, toRefer, toRegions, toT2i, type FinalImage } from "../domain/exports.ts";
import { encodeRleForAll } from "../domain/rle.ts";
import { decodePanoptic } from "../imaging/panoptic.ts";
import { getBlob } from "../store/blobs.ts";
import type { ExportPage } from "./export.ts";

export const FORMATS = ["pancap", "llava", "gcg", "refer", "t2i", "regions"] as const;
export type ExportFormat = (typeof FORMATS)[number];

/**
 * Panoptic PNGs read (and decoded) at once for gcg: R2 reads are slow one after another, and each
 * decoded map is width × height × 4 bytes, so a few at a time keeps memory flat.
 */
const MASK_READS_IN_FLIGHT = 4;

export interface FormattedPage {
  /** NDJSON, one record per line, each ending in "\n". */
  text: string;
  lines: number;
}

/** One page of final images → NDJSON lines in a format; the streamed export and the file job share it. */
export async function formatPage(bucket: R2Bucket, format: ExportFormat, page: ExportPage): Promise<FormattedPage> {
  const records = format === "gcg" ? await gcgRecords(bucket, page) : page.images.map((fi) => recordsOf(format, fi));
  let text = "";
  let lines = 0;
  for (const r of records) {
    text += toNdjson(r);
    lines += Array.isArray(r) ? r.length : 1;
  }
  return { text, lines };
}

function recordsOf(format: Exclude<ExportFormat, "gcg">, fi: FinalImage): object | object[] {
  switch (format) {
    case "pancap":
      return toPancap(fi);
    case "llava":
      return toLlava(fi);
    case "refer":
      return toRefer(fi);
    case "t2i":
      return toT2i(fi);
    case "regions":
      return toRegions(fi);
  }
}

/** gcg records in page order; masks come from each image's panoptic PNG, a few reads at a time. */
async function gcgRecords(bucket: R2Bucket, page: ExportPage): Promise<object[]> {
  const out: object[] = new Array(page.images.length);
  let next = 0;
  const worker = async () => {
    while (next < page.images.length) {
      const k = next++;
      const fi = page.images[k];
      const sha = page.panoptic.get(fi.image.id);
      const blob = sha === undefined ? null : await getBlob(bucket, sha);
      if (!blob) throw new Error(`the panoptic PNG of ${fi.image.id} is missing from R2`);
      const map = decodePanoptic(new Uint8Array(await blob.arrayBuffer()), "panoptic");
      out[k] = toGcg(fi, encodeRleForAll(map, new Set(fi.caption.spans.flatMap((s) => s.segment_ids))));
    }
  };
  await Promise.all(Array.from({ length: Math.min(MASK_READS_IN_FLIGHT, page.images.length) }, worker));
  return out;
}
