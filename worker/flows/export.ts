import type { FinalCaptionRow } from "../../schema/tables.ts";
import type { FinalImage } from "../domain/exports.ts";
import { decodePanoptic } from "../imaging/panoptic.ts";
import { getBlob } from "../store/blobs.ts";
import { finalCaptionPage } from "../store/captions.ts";
import type { Db } from "../store/db.ts";
import { imagesByIds, regionTextsByImages, segmentsByImages, submissionRegionsByIds } from "../store/export-pages.ts";

export interface ExportFilter {
  projectId: string;
  split?: string;
  /** "final": current, not stale; "stale": needing rework; "all". */
  status: "final" | "stale" | "all";
  since?: number;
}

export const EXPORT_PAGE = 100;

/**
 * Final images of a project, a bounded page at a time in image order: the exporter holds one page,
 * never the project. Each page is five indexed queries whatever its size.
 */
export async function* finalImagePages(db: Db, f: ExportFilter, pageSize = EXPORT_PAGE): AsyncGenerator<FinalImage[]> {
  let after: string | null = null;
  for (;;) {
    const captions = await finalCaptionPage(db, { projectId: f.projectId, stale: f.status === "all" ? undefined : f.status === "stale", since: f.since }, after, pageSize);
    if (captions.length === 0) return;
    after = captions[captions.length - 1].imageId;
    yield await assemble(db, f, captions);
    if (captions.length < pageSize) return;
  }
}

async function assemble(db: Db, f: ExportFilter, captions: FinalCaptionRow[]): Promise<FinalImage[]> {
  const ids = captions.map((c) => c.imageId);
  const [imageRows, segmentRows, regionRows] = await Promise.all([imagesByIds(db, ids), segmentsByImages(db, f.projectId, ids), regionTextsByImages(db, ids)]);
  const chosen = [...new Set(regionRows.map((r) => r.submissionId).filter((s): s is string => s !== null))];
  const drafts = new Map<string, string>();
  for (const s of await submissionRegionsByIds(db, chosen)) for (const r of s.regions) drafts.set(`${s.id}:${r.segmentId}`, r.draftText);

  const byId = new Map(imageRows.map((i) => [i.id, i]));
  const segmentsOf = groupBy(segmentRows, (s) => s.imageId);
  const regionsOf = groupBy(regionRows, (r) => r.imageId);
  const out: FinalImage[] = [];
  for (const c of captions) {
    const image = byId.get(c.imageId);
    if (!image || (f.split !== undefined && image.split !== f.split)) continue;
    out.push({
      image: { id: image.id, file_name: image.fileName, width: image.width, height: image.height, external_id: image.externalId },
      caption: { text: c.text, spans: c.spans },
      caption_version: c.version,
      segments: (segmentsOf.get(image.id) ?? []).map((s) => ({
          id: s.segmentId,
          category_id: s.categoryId,
          category: s.categoryName ?? `category ${s.categoryId}`,
          isthing: s.isthing ?? false,
          area: s.area,
          bbox: [s.bboxX, s.bboxY, s.bboxW, s.bboxH] as [number, number, number, number],
          iscrowd: s.iscrowd,
        })),
      regions: (regionsOf.get(image.id) ?? []).map((r) => ({ segment_id: r.segmentId, text: r.text, draft_text: r.submissionId ? (drafts.get(`${r.submissionId}:${r.segmentId}`) ?? null) : null, source: r.source })),
      split: image.split,
    });
  }
  return out;
}

/** The panoptic id map of an image, for the formats that carry masks. */
export async function panopticOf(bucket: R2Bucket, db: Db, imageId: string) {
  const [image] = await imagesByIds(db, [imageId]);
  const blob = image && (await getBlob(bucket, image.panopticSha256));
  if (!blob) throw new Error(`the panoptic PNG of ${imageId} is missing from R2`);
  return decodePanoptic(new Uint8Array(await blob.arrayBuffer()), "panoptic");
}

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}
