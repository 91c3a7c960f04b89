/**
 * Seeds a claim benchmark straight into the local D1 database that `wrangler dev --persist-to`
 * uses: one project, its categories, images with segments, and open round-1 edit tasks. Going
 * around the API is what makes a million tasks take seconds instead of hours; the rows are shaped
 * like the ones ingestion writes (ids, settings, sizes), so the Worker cannot tell the difference.
 *
 * The database must exist (migrations applied) and no server may have it open.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ProjectSettingsSchema } from "../../schema/project-settings.ts";

/** The Crockford base32 alphabet of worker/domain/ids.ts: its ASCII order is its numeric order. */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * The D1 database Miniflare keeps under a `--persist-to` state folder: one `<hash>.sqlite` per
 * database, next to Miniflare's own `metadata.sqlite` (alarms), which is not it.
 */
export function findD1File(stateDir: string): string {
  const dir = join(stateDir, "v3", "d1", "miniflare-D1DatabaseObject");
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite") : [];
  if (files.length !== 1) {
    throw new Error(`expected exactly one D1 .sqlite file in ${dir}, found ${files.length}: were the migrations applied?`);
  }
  return join(dir, files[0]);
}

/**
 * A 26-character id (the ULID layout of worker/domain/ids.ts): 10 characters of time, then the
 * sequence number in 16 base32 digits, so ids sort in the order they were made.
 */
export function sequentialId(prefix: string, timeMs: number, n: number): string {
  let time = "";
  let t = timeMs;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let seq = "";
  let v = n;
  for (let i = 0; i < 16; i++) {
    seq = ALPHABET[v % 32] + seq;
    v = Math.floor(v / 32);
  }
  return `${prefix}_${time}${seq}`;
}

export interface SeedOptions {
  projectId: string;
  tasks: number;
  /** Open edit tasks (slots) per image: 1 is the default redundancy, 3 the overlap sample's. */
  tasksPerImage: number;
  segmentsPerImage: number;
  /** Who created the project (a lead's subject). */
  createdBy: string;
  /** The time part of the seeded ids (default: now); distinct per project seeded into one database. */
  idTimeMs?: number;
}

export interface SeedResult {
  projectId: string;
  images: number;
  segments: number;
  tasks: number;
  ms: number;
}

/** COCO-panoptic categories (id, name, supercategory, isthing, color). */
const CATEGORIES: [number, string, string, 0 | 1, [number, number, number]][] = [
  [1, "person", "person", 1, [220, 20, 60]],
  [3, "car", "vehicle", 1, [0, 0, 142]],
  [18, "dog", "animal", 1, [182, 182, 255]],
  [184, "tree-merged", "plant", 0, [107, 142, 35]],
  [187, "sky-other-merged", "sky", 0, [70, 130, 180]],
  [193, "grass-merged", "plant", 0, [152, 251, 152]],
];

const WIDTH = 640;
const HEIGHT = 480;

export function defaultSettings(): string {
  return JSON.stringify(ProjectSettingsSchema.parse({}));
}

/**
 * Writes everything in one transaction with prepared statements reused for every row, then
 * ANALYZE, then closes the database. Image `i` holds tasks `i*tasksPerImage …`; each image's
 * segments tile the frame in a grid with distinct areas (so mark numbers are unambiguous).
 */
export function seedClaimBench(file: string, o: SeedOptions): SeedResult {
  if (!Number.isInteger(o.tasks) || o.tasks < 1) throw new Error("tasks must be a positive integer");
  if (!Number.isInteger(o.tasksPerImage) || o.tasksPerImage < 1) throw new Error("tasksPerImage must be a positive integer");
  if (!Number.isInteger(o.segmentsPerImage) || o.segmentsPerImage < 1 || o.segmentsPerImage > 16) throw new Error("segmentsPerImage must be 1..16");
  const started = performance.now();
  const images = Math.ceil(o.tasks / o.tasksPerImage);
  const now = Date.now();
  const db = new DatabaseSync(file);
  try {
    db.exec("PRAGMA synchronous = OFF");
    db.exec("PRAGMA cache_size = -262144"); // 256 MiB for this connection: the index b-trees stay in memory
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("BEGIN");
    try {
      db.prepare(
        `INSERT INTO projects (id, name, description, settings, version, image_count, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)`,
      ).run(o.projectId, `Claim benchmark (${o.tasks} tasks)`, "seeded by scripts/bench-claims.ts", defaultSettings(), images, o.createdBy, now, now);

      const insertCategory = db.prepare(
        "INSERT INTO categories (project_id, category_id, name, supercategory, isthing, color) VALUES (?, ?, ?, ?, ?, ?)",
      );
      for (const [id, name, supercategory, isthing, color] of CATEGORIES) insertCategory.run(o.projectId, id, name, supercategory, isthing, JSON.stringify(color));

      const insertImage = db.prepare(
        `INSERT INTO images (id, project_id, external_id, file_name, width, height, format, image_sha256, image_bytes,
           panoptic_sha256, panoptic_bytes, segment_count, labelled_area, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'jpeg', ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insertSegment = db.prepare(
        `INSERT INTO segments (image_id, segment_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, mark_x, mark_y, mark_distance)
         VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insertTask = db.prepare(
        `INSERT INTO tasks (id, project_id, image_id, round, kind, slot, status, priority, exclude_subject, created_at, updated_at)
         VALUES (?, ?, ?, 1, 'edit', ?, 'open', 0, '', ?, ?)`,
      );

      // The segment grid: cols × rows cells over the frame, each a segment with its own area.
      const cols = Math.ceil(Math.sqrt(o.segmentsPerImage));
      const rows = Math.ceil(o.segmentsPerImage / cols);
      const cellW = Math.floor(WIDTH / cols);
      const cellH = Math.floor(HEIGHT / rows);
      const segs = Array.from({ length: o.segmentsPerImage }, (_, j) => {
        const x = (j % cols) * cellW;
        const y = Math.floor(j / cols) * cellH;
        const area = cellW * cellH - 97 * (j + 1); // strictly decreasing, always inside the bbox
        return { segmentId: 1000 + j, categoryId: CATEGORIES[j % CATEGORIES.length][0], area, x, y, w: cellW, h: cellH };
      });
      const labelled = segs.reduce((s, g) => s + g.area, 0);

      let task = 0;
      let segmentRows = 0;
      for (let i = 0; i < images; i++) {
        const imageId = sequentialId("img", o.idTimeMs ?? now, i);
        const sha = createHash("sha256").update(`groundwork-bench-image-${o.projectId}-${i}`).digest("hex");
        const panopticSha = createHash("sha256").update(`groundwork-bench-panoptic-${o.projectId}-${i}`).digest("hex");
        insertImage.run(
          imageId, o.projectId, `bench-${i}`, `bench_${String(i).padStart(8, "0")}.jpg`, WIDTH, HEIGHT,
          sha, 150_000 + (i % 50_000), panopticSha, 8_000 + (i % 4_000), segs.length, labelled, o.createdBy, now,
        );
        for (const g of segs) {
          insertSegment.run(imageId, g.segmentId, g.categoryId, g.area, g.x, g.y, g.w, g.h, g.x + (g.w >> 1), g.y + (g.h >> 1), Math.min(g.w, g.h) / 2);
          segmentRows++;
        }
        for (let slot = 0; slot < o.tasksPerImage && task < o.tasks; slot++, task++) {
          insertTask.run(sequentialId("tsk", o.idTimeMs ?? now, task), o.projectId, imageId, slot, now, now);
        }
      }
      db.exec("COMMIT");
      db.exec("ANALYZE");
      return { projectId: o.projectId, images, segments: segmentRows, tasks: task, ms: performance.now() - started };
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
  } finally {
    db.close();
  }
}
