import type { InvalidField } from "./errors.ts";

/** Most characters of one imported caption (a PanCap caption averages ~1,300). */
export const MAX_IMPORTED_CAPTION = 20_000;

export interface CaptionLine {
  line: number;
  imageId: string | null;
  externalId: string | null;
  text: string;
}

/**
 * One NDJSON line of a caption-set upload: `{"image_id": …, "text": …}` or `{"external_id": …,
 * "text": …}` (the COCO file name or id the images were ingested with). Blank lines are allowed.
 */
export function parseCaptionLine(raw: string, line: number): CaptionLine | InvalidField | null {
  const trimmed = raw.trim();
  if (!trimmed) return null;
  const at = `line ${line}`;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return { path: at, message: "not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { path: at, message: "must be a JSON object" };
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => k !== "image_id" && k !== "external_id" && k !== "text");
  if (unknown.length) return { path: `${at}.${unknown[0]}`, message: "unknown field (image_id, external_id and text are allowed)" };
  const hasImage = o.image_id !== undefined;
  const hasExternal = o.external_id !== undefined;
  if (hasImage === hasExternal) return { path: at, message: "exactly one of image_id and external_id is required" };
  if (hasImage && (typeof o.image_id !== "string" || !/^img_[0-9a-z]{26}$/.test(o.image_id))) return { path: `${at}.image_id`, message: "not an image id" };
  if (hasExternal) {
    const ext = typeof o.external_id === "number" && Number.isSafeInteger(o.external_id) ? String(o.external_id) : o.external_id;
    if (typeof ext !== "string" || ext.length < 1 || ext.length > 200) return { path: `${at}.external_id`, message: "must be a string of 1–200 characters (or an integer)" };
    o.external_id = ext;
  }
  if (typeof o.text !== "string") return { path: `${at}.text`, message: "a string is required" };
  const text = o.text.normalize("NFC").trim();
  if (!text) return { path: `${at}.text`, message: "must not be empty" };
  if ([...text].length > MAX_IMPORTED_CAPTION) return { path: `${at}.text`, message: `longer than ${MAX_IMPORTED_CAPTION} characters` };
  return { line, imageId: hasImage ? (o.image_id as string) : null, externalId: hasExternal ? (o.external_id as string) : null, text };
}
