import type { FinalCaptionRow } from "../../schema/tables.ts";
import type { FinalImage } from "../domain/exports.ts";
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

/**
 * Images per page unless `EXPORT_PAGE_IMAGES` says otherwise. Large enough that an export job
 * message (half of D1's 1,000 statements) writes ~25K images, so 118K take five messages; a page
 * of pancap is ~2 MB of text.
 */
export const EXPORT_PAGE = 250;

/** D1 statements one page costs (captions, images, segments, region texts, the drafts' submissions), whatever its size. */
export const PAGE_STATEMENTS = 5;

/** One page of an export in image order, with what a resumed or next page needs. */
export interface ExportPage {
  images: FinalImage[];
  /** Image id → sha256 of its panoptic PNG in R2, for the formats that carry masks. */
  panoptic: Map<string, string>;
  /**
   * The last image id this page read (a filter may have dropped it), to continue after; null when
   * the page was the last one.
   */
  next: string | null;
}

/**
 * The final images after `after` (exclusive) in image order, at most `pageSize`: the exporter holds
 * one page, never the project. A page is `PAGE_STATEMENTS` indexed queries whatever its size.
 */
export async function finalImagePage(db: Db, f: ExportFilter, after: string | null, pageSize = EXPORT_PAGE): Promise<ExportPage> {
  const captions = await finalCaptionPage(db, { projectId: f.projectId, stale: f.status === "all" ? undefined : f.status === "stale", since: f.since }, after, pageSize);
  if (captions.length === 0) return { images: [], panoptic: new Map(), next: null };
  const page = await assemble(db, f, captions);
  // A short page is the last; a full one may be followed by an empty one.
  return { ...page, next: captions.length < pageSize ? null : captions[captions.length - 1].imageId };
}

/** Images per export page: `EXPORT_PAGE_IMAGES` when set (1..1000), else `EXPORT_PAGE`. */
export function exportPageSize(setting: string | undefined): number {
  const n = Number(setting);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : EXPORT_PAGE;
}

async function assemble(db: Db, f: ExportFilter, captions: FinalCaptionRow[]): Promise<Omit<ExportPage, "next">> {
  const ids = captions.map((c) => c.imageId);
  const [imageRows, segmentRows, regionRows] = await Promise.all([imagesByIds(db, ids), segmentsByImages(db, f.projectId, ids), regionTextsByImages(db, ids)]);
  const chosen = [...new Set(regionRows.map((r) => r.submissionId).filter((s): s is string => s !== null))];
  const drafts = new Map<string, string>();
  for (const s of await submissionRegionsByIds(db, chosen)) for (const r of s.regions) drafts.set(`${s.id}:${r.segmentId}`, r.draftText);

  const byId = new Map(imageRows.map((i) => [i.id, i]));
  const segmentsOf = groupBy(segmentRows, (s) => s.imageId);
  const regionsOf = groupBy(regionRows, (r) => r.imageId);
  const out: FinalImage[] = [];
  const panoptic = new Map<string, string>();
  for (const c of captions) {
    const image = byId.get(c.imageId);
    if (!image || (f.split !== undefined && image.split !== f.split)) continue;
    panoptic.set(image.id, image.panopticSha256);
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
  return { images: out, panoptic };
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
