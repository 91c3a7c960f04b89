/**
 * Seeds a claim benchmark straight into the local D1 database that `wrangler dev --persist-to`
 * uses: one project, its categories, images with segments, open round-1 edit tasks and, for a
 * project that drafts with a model, each image's finished round-1 draft. Going
 * around the API is what makes a million tasks take seconds instead of hours; the rows are shaped
 * like the ones ingestion writes (ids, settings, sizes), so the Worker cannot tell the difference.
 *
 * The database must exist (migrations applied) and no server may have it open.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ProjectSettingsSchema, type ProjectSettings, type ProjectSettingsInput } from "../../schema/project-settings.ts";
import type { ImageRow, ProjectRow } from "../../schema/tables.ts";
import { draftClaimFor } from "../../worker/flows/draft.ts";

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
  /**
   * Settings over the defaults. With a model provider (not `template`), every image also gets its
   * round-1 draft, finished (`ready`), and its tasks are open starting from it (`start_key` = the
   * draft's key, `start_source` = 'vlm'): what ingest (which asks for the draft and holds the tasks)
   * and the batch that finishes the draft (worker/store/drafts.ts finishDraft) leave behind.
   */
  settings?: ProjectSettingsInput;
}

export interface SeedResult {
  projectId: string;
  images: number;
  segments: number;
  tasks: number;
  /** Finished round-1 drafts written (model providers only). */
  drafts: number;
  ms: number;
  /** Where a top-up continues: the next image and task sequence numbers, and the ids' time part. */
  next: { image: number; task: number };
  idTimeMs: number;
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

/** What a model might say about a region (distinct from the template's texts, so a start from it shows). */
const PHRASES = ["in the foreground, seen from the left", "partly in shadow near the centre", "at the back of the scene, slightly blurred", "along the lower edge of the frame"];

const WIDTH = 640;
const HEIGHT = 480;

export function defaultSettings(): string {
  return JSON.stringify(ProjectSettingsSchema.parse({}));
}

function checkOptions(o: SeedOptions): void {
  if (!Number.isInteger(o.tasks) || o.tasks < 1) throw new Error("tasks must be a positive integer");
  if (!Number.isInteger(o.tasksPerImage) || o.tasksPerImage < 1) throw new Error("tasksPerImage must be a positive integer");
  if (!Number.isInteger(o.segmentsPerImage) || o.segmentsPerImage < 1 || o.segmentsPerImage > 16) throw new Error("segmentsPerImage must be 1..16");
}

function openForSeeding(file: string): DatabaseSync {
  const db = new DatabaseSync(file);
  db.exec("PRAGMA synchronous = OFF");
  db.exec("PRAGMA cache_size = -262144"); // 256 MiB for this connection: the index b-trees stay in memory
  db.exec("PRAGMA foreign_keys = ON");
  return db;
}

/**
 * Writes everything in one transaction with prepared statements reused for every row, then
 * ANALYZE, then closes the database. Image `i` holds tasks `i*tasksPerImage …`; each image's
 * segments tile the frame in a grid with distinct areas (so mark numbers are unambiguous).
 */
export async function seedClaimBench(file: string, o: SeedOptions): Promise<SeedResult> {
  checkOptions(o);
  const started = performance.now();
  const now = Date.now();
  const idTimeMs = o.idTimeMs ?? now;
  const settings = ProjectSettingsSchema.parse(o.settings ?? {});
  const db = openForSeeding(file);
  try {
    db.exec("BEGIN");
    try {
      db.prepare(
        `INSERT INTO projects (id, name, description, settings, version, image_count, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, 1, 0, ?, ?, ?)`,
      ).run(o.projectId, `Benchmark (${o.tasks} tasks)`, "seeded by scripts/lib/seed-tasks.ts", JSON.stringify(settings), o.createdBy, now, now);
      const insertCategory = db.prepare(
        "INSERT INTO categories (project_id, category_id, name, supercategory, isthing, color) VALUES (?, ?, ?, ?, ?, ?)",
      );
      for (const [id, name, supercategory, isthing, color] of CATEGORIES) insertCategory.run(o.projectId, id, name, supercategory, isthing, JSON.stringify(color));
      const added = await addImages(db, o, settings, idTimeMs, { image: 0, task: 0 }, o.tasks, now);
      db.exec("COMMIT");
      db.exec("ANALYZE");
      return { projectId: o.projectId, ...added, ms: performance.now() - started, idTimeMs };
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
  } finally {
    db.close();
  }
}

/**
 * More open tasks (on new images, with their drafts) at the tail of a seeded project's queue, in
 * one transaction: the ids continue the seed's sequence, so they sort after every earlier task.
 * The server must be stopped. The statistics of the seed's ANALYZE stand (the shape is the same).
 */
export async function topUpTasks(file: string, seed: SeedResult, o: SeedOptions, tasks: number): Promise<SeedResult> {
  checkOptions({ ...o, tasks });
  const started = performance.now();
  const now = Date.now();
  const db = openForSeeding(file);
  try {
    const { settings } = db.prepare("SELECT settings FROM projects WHERE id = ?").get(o.projectId) as { settings: string };
    db.exec("BEGIN");
    try {
      const added = await addImages(db, o, ProjectSettingsSchema.parse(JSON.parse(settings)), seed.idTimeMs, seed.next, tasks, now);
      db.exec("COMMIT");
      return {
        projectId: o.projectId,
        images: seed.images + added.images,
        segments: seed.segments + added.segments,
        tasks: seed.tasks + added.tasks,
        drafts: seed.drafts + added.drafts,
        ms: performance.now() - started,
        next: added.next,
        idTimeMs: seed.idTimeMs,
      };
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
  } finally {
    db.close();
  }
}

/** Open tasks in a project's round-1 edit queue, as the claim's index sees them. */
export function openTasks(file: string, projectId: string): number {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return Number((db.prepare("SELECT COUNT(*) AS n FROM tasks WHERE project_id = ? AND round = 1 AND kind = 'edit' AND status = 'open'").get(projectId) as { n: number }).n);
  } finally {
    db.close();
  }
}

async function addImages(
  db: DatabaseSync,
  o: SeedOptions,
  settings: ProjectSettings,
  idTimeMs: number,
  from: { image: number; task: number },
  tasks: number,
  now: number,
): Promise<Omit<SeedResult, "projectId" | "ms" | "idTimeMs">> {
  const images = Math.ceil(tasks / o.tasksPerImage);
  const withDrafts = settings.vlm.provider !== "template";
  const project = { id: o.projectId, settings } as ProjectRow;
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
    `INSERT INTO tasks (id, project_id, image_id, round, kind, slot, status, priority, exclude_subject, start_key, start_source, created_at, updated_at)
     VALUES (?, ?, ?, 1, 'edit', ?, 'open', 0, '', ?, ?, ?, ?)`,
  );
  const insertDraft = db.prepare(
    `INSERT INTO drafts (key, image_id, round, status, provider, model, prompt_id, prompt_version, params, render_key, regions,
       caption, problems, claim_token, lease_until, attempts, tokens_in, tokens_out, job_id, created_at, updated_at)
     VALUES (?, ?, 1, 'ready', ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, 1, ?, ?, NULL, ?, ?)`,
  );

  // The segment grid: cols × rows cells over the frame, each a segment with its own area.
  const cols = Math.ceil(Math.sqrt(o.segmentsPerImage));
  const rows = Math.ceil(o.segmentsPerImage / cols);
  const cellW = Math.floor(WIDTH / cols);
  const cellH = Math.floor(HEIGHT / rows);
  const segs = Array.from({ length: o.segmentsPerImage }, (_, j) => {
    const x = (j % cols) * cellW;
    const y = Math.floor(j / cols) * cellH;
    const area = cellW * cellH - 97 * (j + 1); // strictly decreasing, always inside the bbox: mark j + 1
    const category = CATEGORIES[j % CATEGORIES.length];
    return { segmentId: 1000 + j, categoryId: category[0], name: category[1], area, x, y, w: cellW, h: cellH };
  });
  const labelled = segs.reduce((s, g) => s + g.area, 0);

  let task = from.task;
  let segmentRows = 0;
  let draftRows = 0;
  const lastTask = from.task + tasks;
  const shaOf = (what: string, i: number) => createHash("sha256").update(`groundwork-bench-${what}-${o.projectId}-${i}`).digest("hex");
  // The draft keys, as the Worker computes them, a chunk of images at a time (the hashing is async).
  const CHUNK = 4096;
  for (let first = from.image; first < from.image + images; first += CHUNK) {
    const last = Math.min(from.image + images, first + CHUNK);
    const specs = withDrafts
      ? await Promise.all(
          Array.from({ length: last - first }, (_, k) =>
            draftClaimFor({ id: sequentialId("img", idTimeMs, first + k), imageSha256: shaOf("image", first + k), panopticSha256: shaOf("panoptic", first + k) } as ImageRow, project, 1),
          ),
        )
      : [];
    for (let i = first; i < last; i++) {
      const imageId = sequentialId("img", idTimeMs, i);
      insertImage.run(
        imageId, o.projectId, `bench-${i}`, `bench_${String(i).padStart(8, "0")}.jpg`, WIDTH, HEIGHT,
        shaOf("image", i), 150_000 + (i % 50_000), shaOf("panoptic", i), 8_000 + (i % 4_000), segs.length, labelled, o.createdBy, now,
      );
      for (const g of segs) {
        insertSegment.run(imageId, g.segmentId, g.categoryId, g.area, g.x, g.y, g.w, g.h, g.x + (g.w >> 1), g.y + (g.h >> 1), Math.min(g.w, g.h) / 2);
        segmentRows++;
      }
      let start: { key: string | null; source: string | null } = { key: null, source: null };
      if (withDrafts) {
        // The draft as the batch that finishes it leaves it: ready, with a text per mark.
        const spec = specs[i - first];
        const regions = segs.map((g, j) => ({ segmentId: g.segmentId, mark: j + 1, text: `A ${g.name.replace(/-merged|-other/g, "")} ${PHRASES[(i + j) % PHRASES.length]}.` }));
        insertDraft.run(
          spec.key, imageId, spec.provider, spec.model, spec.promptId, spec.promptVersion, JSON.stringify(spec.params), shaOf("render", i), JSON.stringify(regions),
          900 + 20 * segs.length, 30 * segs.length, now, now,
        );
        draftRows++;
        start = { key: spec.key, source: "vlm" };
      }
      for (let slot = 0; slot < o.tasksPerImage && task < lastTask; slot++, task++) {
        insertTask.run(sequentialId("tsk", idTimeMs, task), o.projectId, imageId, slot, start.key, start.source, now, now);
      }
    }
  }
  db.prepare("UPDATE projects SET image_count = image_count + ? WHERE id = ?").run(images, o.projectId);
  // The per-project category counters each ingest's batch keeps (migration 0008).
  const perCategory = new Map<number, number>();
  for (const g of segs) perCategory.set(g.categoryId, (perCategory.get(g.categoryId) ?? 0) + images);
  const usage = db.prepare(
    `INSERT INTO category_usage (project_id, category_id, segments) VALUES (?, ?, ?)
     ON CONFLICT (project_id, category_id) DO UPDATE SET segments = segments + excluded.segments`,
  );
  for (const [categoryId, count] of perCategory) usage.run(o.projectId, categoryId, count);
  return { images, segments: segmentRows, tasks: task - from.task, drafts: draftRows, next: { image: from.image + images, task } };
}
