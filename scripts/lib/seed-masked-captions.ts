/**
 * Seeds final captions whose masks are real, for the `gcg` export benchmark: gcg reads each image's
 * panoptic PNG from R2 and encodes a COCO RLE per grounded segment, so its images need PNGs in R2,
 * which only ingestion puts there. A few images are ingested through the API (into `source`); this
 * copies them, round robin, into `images` rows of `projectId` that share their panoptic PNG (R2 keys
 * are content hashes, so sharing is what a re-uploaded mask does too) with the same segments, and
 * gives each a final caption grounding every segment ("… the person, the car and the sky-other-merged.").
 *
 * The database must exist, `projectId` and `source` must exist in it, and no server may have it open.
 */
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { codePointLength, validateCaption, type GroundedCaption } from "../../worker/domain/grounded-caption.ts";
import { sequentialId } from "./seed-tasks.ts";

interface SourceImage {
  id: string;
  width: number;
  height: number;
  panoptic_sha256: string;
  panoptic_bytes: number;
  segment_count: number;
  labelled_area: number;
}

interface SourceSegment {
  segment_id: number;
  category_id: number;
  iscrowd: number;
  area: number;
  bbox_x: number;
  bbox_y: number;
  bbox_w: number;
  bbox_h: number;
  mark_x: number;
  mark_y: number;
  mark_distance: number;
  name: string | null;
}

export interface MaskedSeedResult {
  images: number;
  sources: number;
  ms: number;
}

/** A caption naming every segment once, in id order, as one span each. */
function captionOf(index: number, segs: readonly SourceSegment[]): GroundedCaption {
  let text = `Synthetic scene ${index} shows `;
  const spans: GroundedCaption["spans"] = [];
  segs.forEach((s, k) => {
    if (k > 0) text += k === segs.length - 1 ? " and " : ", ";
    const phrase = `the ${s.name ?? `category ${s.category_id}`}`;
    const start = codePointLength(text);
    text += phrase;
    spans.push({ start, end: start + codePointLength(phrase), segment_ids: [s.segment_id] });
  });
  return { text: `${text}.`, spans };
}

export function seedMaskedCaptions(file: string, o: { projectId: string; source: string; images: number; createdBy: string }): MaskedSeedResult {
  const started = performance.now();
  const now = Date.now();
  const db = new DatabaseSync(file);
  try {
    const sources = db.prepare("SELECT id, width, height, panoptic_sha256, panoptic_bytes, segment_count, labelled_area FROM images WHERE project_id = ? ORDER BY id").all(o.source) as unknown as SourceImage[];
    if (sources.length === 0) throw new Error(`project ${o.source} has no images to copy masks from`);
    const segmentsOf = db.prepare(
      `SELECT s.segment_id, s.category_id, s.iscrowd, s.area, s.bbox_x, s.bbox_y, s.bbox_w, s.bbox_h, s.mark_x, s.mark_y, s.mark_distance, c.name
       FROM segments s JOIN images i ON i.id = s.image_id LEFT JOIN categories c ON c.project_id = i.project_id AND c.category_id = s.category_id
       WHERE s.image_id = ? ORDER BY s.segment_id`,
    );
    const segs = sources.map((s) => segmentsOf.all(s.id) as unknown as SourceSegment[]);
    db.exec("PRAGMA synchronous = OFF");
    db.exec("BEGIN");
    try {
      const insertImage = db.prepare(
        `INSERT INTO images (id, project_id, external_id, file_name, split, width, height, format, image_sha256, image_bytes,
           panoptic_sha256, panoptic_bytes, segment_count, labelled_area, created_by, created_at)
         VALUES (?, ?, ?, ?, 'train', ?, ?, 'png', ?, 50000, ?, ?, ?, ?, ?, ?)`,
      );
      const insertSegment = db.prepare(
        `INSERT INTO segments (image_id, segment_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, mark_x, mark_y, mark_distance)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insertCaption = db.prepare(
        `INSERT INTO final_captions (image_id, project_id, version, text, spans, submission_id, draft_key, region_versions, coverage, stats, effort,
           stale, stale_reason, updated_at)
         VALUES (?, ?, 1, ?, ?, ?, NULL, '{}', '{}', '{}', '{}', 0, NULL, ?)`,
      );
      for (let i = 0; i < o.images; i++) {
        const k = i % sources.length;
        const src = sources[k];
        const id = sequentialId("img", now, i);
        const imageSha = createHash("sha256").update(`${o.projectId}:image:${i}`).digest("hex");
        insertImage.run(id, o.projectId, `${o.projectId}-${i}`, `${String(200_000 + i).padStart(12, "0")}.png`, src.width, src.height, imageSha,
          src.panoptic_sha256, src.panoptic_bytes, src.segment_count, src.labelled_area, o.createdBy, now);
        for (const s of segs[k]) {
          insertSegment.run(id, s.segment_id, s.category_id, s.iscrowd, s.area, s.bbox_x, s.bbox_y, s.bbox_w, s.bbox_h, s.mark_x, s.mark_y, s.mark_distance);
        }
        const caption = captionOf(i, segs[k]);
        if (i < sources.length) {
          const problems = validateCaption(caption, new Set(segs[k].map((s) => s.segment_id)));
          if (problems.length) throw new Error(`generated caption ${i} is invalid: ${JSON.stringify(problems)}`);
        }
        insertCaption.run(id, o.projectId, caption.text, JSON.stringify(caption.spans), sequentialId("sub", now, i), now);
      }
      db.exec("COMMIT");
      db.exec("ANALYZE");
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
    return { images: o.images, sources: sources.length, ms: performance.now() - started };
  } finally {
    db.close();
  }
}
