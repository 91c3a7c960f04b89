import type { RenderSettings } from "../../schema/project-settings.ts";
import type { ImageRow, RenderRow } from "../../schema/tables.ts";
import { cacheKey } from "../domain/cache-key.ts";
import { decodeImage } from "../imaging/decode.ts";
import { decodePanoptic } from "../imaging/panoptic.ts";
import { encodeRender, renderSetOfMarks, SOM_RENDER_VERSION } from "../imaging/som.ts";
import { getBlob } from "../store/blobs.ts";
import type { Db } from "../store/db.ts";
import { listSegments } from "../store/images.ts";
import { getRender, saveRender } from "../store/renders.ts";

export function renderKeyParts(image: ImageRow, options: RenderSettings) {
  return { image: image.imageSha256, panoptic: image.panopticSha256, options, version: SOM_RENDER_VERSION };
}

export const renderObjectKey = (row: Pick<RenderRow, "key" | "format">) => `renders/${row.key}.${row.format === "png" ? "png" : "jpg"}`;

async function blobBytes(bucket: R2Bucket, sha: string): Promise<Uint8Array> {
  const blob = await getBlob(bucket, sha);
  if (!blob) throw new Error(`blob ${sha} is missing from R2`);
  return new Uint8Array(await blob.arrayBuffer());
}

/**
 * The set-of-marks image for (image, masks, options, render version): rendered once, then served
 * from R2. Rendering is deterministic, so a race between two first renders writes the same bytes.
 */
export async function ensureRender(db: Db, bucket: R2Bucket, image: ImageRow, options: RenderSettings): Promise<{ row: RenderRow; bytes: Uint8Array }> {
  const key = await cacheKey(renderKeyParts(image, options));
  const cached = await getRender(db, key);
  if (cached) {
    const object = await bucket.get(renderObjectKey(cached));
    if (object) return { row: cached, bytes: new Uint8Array(await object.arrayBuffer()) };
  }

  const [imageBytes, panopticBytes, segments] = await Promise.all([
    blobBytes(bucket, image.imageSha256),
    blobBytes(bucket, image.panopticSha256),
    listSegments(db, image),
  ]);
  const decoded = await decodeImage(imageBytes, "image");
  const panoptic = decodePanoptic(panopticBytes, "panoptic");
  const render = renderSetOfMarks({
    image: decoded,
    panoptic,
    segments: segments.map((s) => ({ id: s.segmentId, area: s.area, mark: { x: s.markX, y: s.markY } })),
    options,
  });
  const bytes = await encodeRender(render, options.format);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const row: RenderRow = {
    key,
    imageId: image.id,
    version: SOM_RENDER_VERSION,
    options: { ...options },
    format: options.format,
    width: render.width,
    height: render.height,
    bytes: bytes.byteLength,
    sha256: [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
    marks: render.marks.map((m) => ({ number: m.number, segmentId: m.segmentId, box: m.box, placement: m.placement })),
    createdAt: Date.now(),
  };
  await bucket.put(renderObjectKey(row), bytes, { httpMetadata: { contentType: options.format === "png" ? "image/png" : "image/jpeg" } });
  await saveRender(db, row);
  return { row, bytes };
}
