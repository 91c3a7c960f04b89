import { env } from "cloudflare:test";

/**
 * Final captions written straight into D1, for the export tests that need many images: the
 * rounds that make a caption final are tested elsewhere (pipeline.test.ts), and going through them
 * for hundreds of images would take minutes. Each image has two segments (person 1, bicycle 2)
 * and a caption grounding both; `padding` lengthens the caption to make large files.
 */
export async function seedFinalCaptions(
  projectId: string,
  count: number,
  o: { prefix: string; padding?: number; createdBy?: string; broken?: number[] },
): Promise<string[]> {
  const now = Date.now();
  const ids: string[] = [];
  const statements: D1PreparedStatement[] = [];
  const image = env.DB.prepare(
    `INSERT INTO images (id, project_id, external_id, file_name, split, width, height, format, image_sha256, image_bytes,
       panoptic_sha256, panoptic_bytes, segment_count, labelled_area, created_by, created_at)
     VALUES (?, ?, ?, ?, 'train', 64, 48, 'png', ?, 1000, ?, 500, 2, 3072, ?, ?)`,
  );
  const segment = env.DB.prepare(
    `INSERT INTO segments (image_id, segment_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, mark_x, mark_y, mark_distance)
     VALUES (?, ?, ?, 0, 1536, ?, 0, 32, 48, ?, 24, 12)`,
  );
  const caption = env.DB.prepare(
    `INSERT INTO final_captions (image_id, project_id, version, text, spans, submission_id, draft_key, region_versions, coverage, stats, effort,
       stale, stale_reason, updated_at)
     VALUES (?, ?, 1, ?, ?, ?, NULL, '{}', '{}', '{}', '{}', 0, NULL, ?)`,
  );
  const filler = " The light is soft and even.".repeat(Math.ceil((o.padding ?? 0) / 28));
  for (let i = 0; i < count; i++) {
    const id = `img_${o.prefix}${String(i).padStart(6, "0")}`;
    ids.push(id);
    const head = `Scene ${i}: `;
    const text = `${head}a person rides past a red bicycle.${filler}`;
    const person = { start: head.length, end: head.length + 8, segment_ids: [1] };
    const bicycle = { start: head.length + 20, end: head.length + 33, segment_ids: [o.broken?.includes(i) ? 99 : 2] };
    statements.push(
      image.bind(id, projectId, `${o.prefix}-${i}`, `${o.prefix}-${i}.png`, `${projectId}:${id}:image`, `${projectId}:${id}:panoptic`, o.createdBy ?? "seed", now),
      segment.bind(id, 1, 1, 0, 16),
      segment.bind(id, 2, 2, 32, 48),
      caption.bind(id, projectId, text, JSON.stringify([person, bicycle]), `sub_${o.prefix}${i}`, now),
    );
  }
  for (let at = 0; at < statements.length; at += 400) await env.DB.batch(statements.slice(at, at + 400));
  return ids;
}
