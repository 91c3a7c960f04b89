/**
 * Turns a COCO-panoptic JSON into the list of uploads to make. Pure: only paths are computed here;
 * files are read by the uploader just before each upload, so a 118K-image run never holds more
 * than `concurrency` images in memory.
 */
import { basename, extname, join } from "node:path";

export interface IngestItem {
  /** String(image_id): what the API stores as external_id and what resume matches on. */
  externalId: string;
  /** The image's name as the project will show it (from `images[].file_name`). */
  fileName: string;
  imagePath: string;
  panopticPath: string;
  /** Sent verbatim: the server validates it and reports every mismatch at once. */
  segmentsInfo: unknown[];
}

/** An annotation that cannot even be attempted (malformed entry); reported like a server rejection. */
export interface PlanProblem {
  externalId: string | null;
  fileName: string;
  reason: string;
}

export interface IngestPlan {
  items: IngestItem[];
  problems: PlanProblem[];
}

export class CocoJsonError extends Error {}

/**
 * `limit` counts annotations in JSON order, before anything is skipped, so `--limit 100` always
 * means the same 100 images no matter how many of them an earlier run already ingested.
 */
export function planIngest(json: unknown, dirs: { images: string; panoptic: string }, limit: number | null = null): IngestPlan {
  if (!isRecord(json)) throw new CocoJsonError("the JSON is not an object");
  if (!Array.isArray(json.annotations)) throw new CocoJsonError('the JSON has no "annotations" array (is it a COCO-panoptic file?)');

  // COCO names the PNG in the annotation and the image only in images[]; they usually differ in extension.
  const imageNames = new Map<string, string>();
  if (Array.isArray(json.images)) {
    for (const img of json.images) {
      if (isRecord(img) && isId(img.id) && typeof img.file_name === "string") imageNames.set(String(img.id), img.file_name);
    }
  }

  const annotations = limit === null ? json.annotations : json.annotations.slice(0, limit);
  const items: IngestItem[] = [];
  const problems: PlanProblem[] = [];
  annotations.forEach((ann: unknown, index: number) => {
    if (!isRecord(ann)) {
      problems.push({ externalId: null, fileName: `annotations[${index}]`, reason: "the annotation is not an object" });
      return;
    }
    const pngName = typeof ann.file_name === "string" && ann.file_name !== "" ? ann.file_name : null;
    if (!isId(ann.image_id)) {
      problems.push({ externalId: null, fileName: pngName ?? `annotations[${index}]`, reason: "the annotation has no image_id" });
      return;
    }
    const externalId = String(ann.image_id);
    const fileName = imageNames.get(externalId) ?? (pngName ? cocoImageName(pngName) : null);
    if (pngName === null || fileName === null) {
      problems.push({ externalId, fileName: fileName ?? `image ${externalId}`, reason: "the annotation has no file_name (the panoptic PNG)" });
      return;
    }
    if (!Array.isArray(ann.segments_info)) {
      problems.push({ externalId, fileName, reason: "the annotation has no segments_info array" });
      return;
    }
    items.push({
      externalId,
      fileName,
      imagePath: join(dirs.images, fileName),
      panopticPath: join(dirs.panoptic, pngName),
      segmentsInfo: ann.segments_info,
    });
  });
  return { items, problems };
}

/** COCO's convention when images[] lacks an entry: the image is the PNG's name with .jpg. */
export function cocoImageName(pngName: string): string {
  const base = basename(pngName);
  return base.slice(0, base.length - extname(base).length) + ".jpg";
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is number | string {
  return (typeof v === "number" && Number.isFinite(v)) || (typeof v === "string" && v !== "");
}
