import type { CategoryRow, ImageRow, ProjectRow } from "../../schema/tables.ts";
import type { SegmentWithCategory } from "../store/images.ts";

const iso = (ms: number) => new Date(ms).toISOString();

export function projectJson(p: ProjectRow, categoryCount: number) {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    settings: p.settings,
    version: p.version,
    category_count: categoryCount,
    image_count: p.imageCount,
    created_by: p.createdBy,
    created_at: iso(p.createdAt),
    updated_at: iso(p.updatedAt),
  };
}

export function categoryJson(c: CategoryRow) {
  return { id: c.categoryId, name: c.name, supercategory: c.supercategory, isthing: c.isthing, color: c.color ?? null };
}

export function imageSummaryJson(i: ImageRow) {
  return {
    id: i.id,
    project_id: i.projectId,
    external_id: i.externalId,
    file_name: i.fileName,
    split: i.split,
    width: i.width,
    height: i.height,
    format: i.format,
    segment_count: i.segmentCount,
    created_at: iso(i.createdAt),
  };
}

export function segmentJson(s: SegmentWithCategory) {
  return {
    id: s.segmentId,
    category_id: s.categoryId,
    category: s.categoryName ?? `category ${s.categoryId}`,
    isthing: s.isthing ?? false,
    iscrowd: s.iscrowd,
    area: s.area,
    bbox: [s.bboxX, s.bboxY, s.bboxW, s.bboxH] as [number, number, number, number],
    mark: { x: s.markX, y: s.markY, distance: s.markDistance },
  };
}

export function etagOf(version: number | string): string {
  return `"${version}"`;
}
