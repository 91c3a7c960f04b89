/**
 * Seeds an export benchmark straight into the local D1 database that `wrangler dev --persist-to`
 * uses: projects whose every image has a final caption, shaped like the rows the whole pipeline
 * (ingest → round 1 → consolidation → round 2 → review) leaves behind, without running it:
 *
 * - `projects` (default settings) and `categories` (the 133 COCO-panoptic ones);
 * - `images`: ids `img_` + 26 Crockford base32 characters, increasing in seeding order;
 * - `segments`: SEGMENTS per image, 24-bit panoptic ids (R + 256·G + 256²·B), a mix of things and
 *   stuff, areas that add up to the labelled area, bboxes that hold their area, marks inside them;
 * - one round-1 edit task per image and its `submissions` row whose `regions` hold the draft texts
 *   the annotator started from (the pancap export prints them). The submission trigger wants a live
 *   lease, so the task is inserted leased, the submission after it, and the task then moved to
 *   `accepted` (its trigger logs that in task_events, as a real accept does);
 * - `region_texts`: one per segment, version 1, source 'consolidated', pointing at that submission
 *   (a skipped region has a null text, as consolidation leaves it);
 * - `final_captions`: version 1, ~200 words, SPANS spans (half-open code point offsets, sorted,
 *   non-overlapping, trimmed, ids of the image's segments; one span may ground two segments, a
 *   segment may be named twice, one may be left out), with coverage, stats and effort computed by
 *   the Worker's own pure functions (worker/domain/coverage.ts, edit-effort.ts), region_versions, not
 *   stale. Its `submission_id` names a round-2 submission that is not seeded (nothing the export
 *   reads goes there), and its history row (final_caption_versions) is not seeded either.
 *
 * Everything about image `index` of a project is a pure function of (projectId, index)
 * (`syntheticImage`), so a reader can regenerate any record and compare it with what was exported.
 *
 * The database must exist (migrations applied) and no server may have it open.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import type { CaptionCoverage, CaptionStats, SubmittedRegion } from "../../schema/tables.ts";
import { COCO_PANOPTIC_CATEGORIES, type Category } from "../../worker/domain/coco-categories.ts";
import { captionStats, coverage } from "../../worker/domain/coverage.ts";
import { aggregateEffort, regionEffort, submissionEffort, type RegionAction } from "../../worker/domain/edit-effort.ts";
import { codePointLength, validateCaption, type GroundedCaption } from "../../worker/domain/grounded-caption.ts";
import { defaultSettings, sequentialId } from "./seed-tasks.ts";

export const SEGMENTS = 13;
export const SPANS = 13;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/** FNV-1a of a string: the seed of one image's generator. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: small, fast, good enough for synthetic text. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary (all NFC; a few accented words and, rarely, a non-BMP character, so that code point
// and UTF-16 offsets differ and the exporter's conversions are exercised)

const ADJECTIVES = [
  "small", "large", "bright", "dark", "weathered", "shiny", "pale", "colorful", "narrow", "wide", "old", "modern",
  "wooden", "metal", "striped", "dusty", "wet", "sunlit", "shadowed", "red", "blue", "green", "white", "black",
  "grey", "yellow", "tall", "low", "curved", "rough", "smooth", "faded", "crowded", "quiet", "distant", "nearby",
  "blurry", "crisp", "worn", "ornate", "pastel", "rustic", "glossy", "matte",
];
const VERBS = [
  "stands", "rests", "sits", "stretches", "leans", "appears", "is visible", "is partly hidden", "dominates the view",
  "fills the space", "is placed", "lies", "rises", "extends", "waits", "is parked", "hangs", "is framed",
];
const PREPS = ["near", "beside", "behind", "in front of", "across from", "below", "above", "next to", "along", "close to", "at the edge of", "under"];
const PLACES = [
  "the left edge of the frame", "the right side of the picture", "the center of the scene", "the bottom of the image",
  "the upper corner", "a low stone wall", "the busy street", "the café entrance", "the old façade", "a row of windows",
  "the open doorway", "the far background", "a patch of sunlight", "the corner of the building", "the parked cars",
  "a crowded sidewalk", "the wooden fence", "the shoreline", "a grassy slope", "the kitchen counter", "a tiled floor",
  "the naïve mural", "a market stall", "the shop window with a 🙂 sticker",
];
const CLAUSES = [
  "catching the warm light of the late afternoon", "partly hidden in soft shadow", "with a few small details visible up close",
  "slightly out of focus", "its outline sharp against the background", "adding depth to the composition",
  "as if waiting for someone to return", "with faint reflections on its surface", "balancing the rest of the picture",
  "drawing the eye toward the middle", "covered in a thin layer of dust", "looking a little worn from use",
];
const SCENES = ["street scene", "indoor scene", "park view", "harbor view", "kitchen", "living room", "city square", "garden", "market", "beach"];
const TIMES = ["in the morning", "at midday", "in the late afternoon", "at dusk", "on an overcast day", "under bright sunshine"];
const SIZES: readonly [number, number][] = [[640, 480], [640, 427], [480, 640], [640, 426], [427, 640], [640, 424], [500, 375], [640, 360], [612, 612]];

const THINGS = COCO_PANOPTIC_CATEGORIES.filter((c) => c.isthing);
const STUFF = COCO_PANOPTIC_CATEGORIES.filter((c) => !c.isthing);

/** "sky-other-merged" → "sky", "wall-brick" → "wall brick". */
function nounOf(c: Category): string {
  return c.name.replace(/-(merged|other|stuff)/g, "").replace(/-/g, " ");
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

// ---------------------------------------------------------------------------------------------
// One image

export interface SyntheticSegment {
  id: number;
  category: Category;
  iscrowd: 0 | 1;
  area: number;
  bbox: [number, number, number, number];
  mark: [number, number, number];
}

export interface SyntheticRegion {
  segmentId: number;
  action: RegionAction;
  /** Final text (null when the annotator skipped the region). */
  text: string | null;
  draftText: string;
  reason: string | null;
}

export interface SyntheticImage {
  width: number;
  height: number;
  split: string;
  /** Ascending by id (the order the export lists them). */
  segments: SyntheticSegment[];
  labelledArea: number;
  regions: SyntheticRegion[];
  caption: GroundedCaption;
}

function regionSentence(r: Rng, noun: string): string {
  const article = r.next() < 0.5 ? "the" : "a";
  const base = `${cap(article)} ${r.pick(ADJECTIVES)} ${noun} ${r.pick(VERBS)} ${r.pick(PREPS)} ${r.pick(PLACES)}`;
  return r.next() < 0.6 ? `${base}, ${r.pick(CLAUSES)}.` : `${base}.`;
}

/** Everything about image `index` of `projectId`, deterministically. */
export function syntheticImage(projectId: string, index: number): SyntheticImage {
  const r = new Rng(hash32(`${projectId}:${index}`));
  const [width, height] = r.pick(SIZES);
  const frame = width * height;

  // Segments: 6 things then 7 stuff (by category), areas splitting ~90–100% of the frame.
  const ids = new Set<number>();
  while (ids.size < SEGMENTS) ids.add(r.int(1, 0xffffff));
  const idList = [...ids];
  const weights = idList.map((_, j) => (j < 6 ? 0.3 : 1) * (0.2 + r.next()));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const labelled = Math.floor(frame * (0.9 + 0.1 * r.next()));
  const segments: SyntheticSegment[] = idList.map((id, j) => {
    const category = j < 6 ? r.pick(THINGS) : r.pick(STUFF);
    let area = Math.max(16, Math.floor((labelled * weights[j]) / wsum));
    const aspect = 0.5 + r.next() * 1.5;
    const bw = Math.min(width, Math.max(4, Math.ceil(Math.sqrt(area * aspect * 1.4))));
    const bh = Math.min(height, Math.max(4, Math.ceil((area * 1.4) / bw)));
    area = Math.min(area, bw * bh);
    const bx = r.int(0, width - bw);
    const by = r.int(0, height - bh);
    const mark: [number, number, number] = [bx + (bw >> 1), by + (bh >> 1), Math.round(Math.min(bw, bh) * 4) / 10];
    return { id, category, iscrowd: category.isthing && r.next() < 0.03 ? 1 : 0, area, bbox: [bx, by, bw, bh], mark };
  });
  const labelledArea = segments.reduce((n, s) => n + s.area, 0);

  // Round-1 region texts and the drafts they were edited from.
  const regions: SyntheticRegion[] = segments.map((s) => {
    const noun = nounOf(s.category);
    const draftText = regionSentence(r, noun);
    const roll = r.next();
    if (roll < 0.6) return { segmentId: s.id, action: "accepted", text: draftText, draftText, reason: null };
    if (roll < 0.9) {
      // A couple of words changed: another adjective, maybe another clause.
      const words = draftText.split(" ");
      words[1] = words[1] === "small" ? "tiny" : "small";
      const edited = r.next() < 0.5 ? words.join(" ") : `${words.join(" ").replace(/[.]$/, "")}, seen from a slight angle.`;
      return { segmentId: s.id, action: "edited", text: edited, draftText, reason: null };
    }
    if (roll < 0.96) return { segmentId: s.id, action: "rewritten", text: regionSentence(r, noun), draftText, reason: null };
    return { segmentId: s.id, action: "skipped", text: null, draftText, reason: "too small to describe" };
  });

  // The caption: an opening sentence, then one sentence per span. Spans name segments largest
  // first; sometimes one names two segments, one segment is named twice, or the smallest is left out.
  const byArea = [...segments].sort((a, b) => b.area - a.area);
  const groups: SyntheticSegment[][] = byArea.map((s) => [s]);
  if (r.next() < 0.3) {
    const pair = groups.splice(groups.length - 2, 2).flat();
    groups.push(pair);
  }
  if (r.next() < 0.2) groups.pop();
  while (groups.length < SPANS) groups.splice(r.int(2, groups.length), 0, [byArea[r.int(0, 3)]]);

  let text = `A ${r.pick(ADJECTIVES)} ${r.pick(SCENES)} photographed ${r.pick(TIMES)}, with many distinct regions in view.`;
  let cp = codePointLength(text);
  const spans: GroundedCaption["spans"] = [];
  const add = (s: string) => {
    text += s;
    cp += codePointLength(s);
  };
  for (const g of groups) {
    const phrase =
      g.length === 1 ? `${r.next() < 0.5 ? "the" : "a"} ${r.pick(ADJECTIVES)} ${nounOf(g[0].category)}` : `the ${nounOf(g[0].category)} and the ${nounOf(g[1].category)}`;
    const segmentIds = g.map((s) => s.id).sort((a, b) => a - b);
    const template = r.int(0, 2);
    add(" ");
    if (template === 0) {
      const p = cap(phrase);
      spans.push({ start: cp, end: cp + codePointLength(p), segment_ids: segmentIds });
      add(p);
      add(r.next() < 0.5 ? ` ${r.pick(VERBS)} ${r.pick(PREPS)} ${r.pick(PLACES)}, ${r.pick(CLAUSES)}.` : ` ${r.pick(VERBS)} ${r.pick(PREPS)} ${r.pick(PLACES)}.`);
    } else if (template === 1) {
      add(`${cap(r.pick(PREPS))} ${r.pick(PLACES)}, `);
      spans.push({ start: cp, end: cp + codePointLength(phrase), segment_ids: segmentIds });
      add(phrase);
      add(r.next() < 0.6 ? ` ${r.pick(VERBS)}, ${r.pick(CLAUSES)}.` : ` ${r.pick(VERBS)}.`);
    } else {
      add(`On the ${r.next() < 0.5 ? "left" : "right"} side of the frame, `);
      spans.push({ start: cp, end: cp + codePointLength(phrase), segment_ids: segmentIds });
      add(phrase);
      add(` ${r.pick(VERBS)} ${r.pick(PREPS)} ${r.pick(PLACES)}.`);
    }
  }
  add(" Overall the picture feels calm and well balanced.");

  return {
    width,
    height,
    split: index % 10 === 9 ? "val" : "train",
    segments: [...segments].sort((a, b) => a.id - b.id),
    labelledArea,
    regions: regions.sort((a, b) => a.segmentId - b.segmentId),
    caption: { text, spans },
  };
}

// ---------------------------------------------------------------------------------------------
// Seeding

export interface CaptionProjectSpec {
  id: string;
  images: number;
}

export interface CaptionSeedOptions {
  projects: CaptionProjectSpec[];
  /** Who created the projects (a lead's subject). */
  createdBy: string;
  /** Validate every k-th generated caption with the Worker's validateCaption (0: never). */
  validateEvery?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface CaptionSeedResult {
  projects: CaptionProjectSpec[];
  images: number;
  segments: number;
  regionTexts: number;
  submissions: number;
  captionWords: number;
  ms: number;
  /** Size of the database file after ANALYZE. */
  fileBytes: number;
}

/**
 * Writes everything in one transaction with prepared statements reused for every row, then
 * ANALYZE, then closes the database. Image ids increase across all projects, in the order given.
 */
export function seedCaptionBench(file: string, o: CaptionSeedOptions): CaptionSeedResult {
  for (const p of o.projects) if (!Number.isInteger(p.images) || p.images < 1) throw new Error(`project ${p.id}: images must be a positive integer`);
  const started = performance.now();
  const now = Date.now();
  const total = o.projects.reduce((n, p) => n + p.images, 0);
  const validateEvery = o.validateEvery ?? 97;
  const settings = defaultSettings();
  const db = new DatabaseSync(file);
  let images = 0;
  let segmentRows = 0;
  let regionRows = 0;
  let captionWords = 0;
  try {
    db.exec("PRAGMA synchronous = OFF");
    db.exec("PRAGMA cache_size = -262144"); // 256 MiB for this connection
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("BEGIN");
    try {
      const insertProject = db.prepare(
        `INSERT INTO projects (id, name, description, settings, version, image_count, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)`,
      );
      const insertCategory = db.prepare("INSERT INTO categories (project_id, category_id, name, supercategory, isthing, color) VALUES (?, ?, ?, ?, ?, ?)");
      const insertImage = db.prepare(
        `INSERT INTO images (id, project_id, external_id, file_name, split, width, height, format, image_sha256, image_bytes,
           panoptic_sha256, panoptic_bytes, segment_count, labelled_area, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'jpeg', ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insertSegment = db.prepare(
        `INSERT INTO segments (image_id, segment_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, mark_x, mark_y, mark_distance)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insertTask = db.prepare(
        `INSERT INTO tasks (id, project_id, image_id, round, kind, slot, status, priority, exclude_subject, lease_owner, lease_token,
           start_source, lease_expires, leased_at, created_at, updated_at)
         VALUES (?, ?, ?, 1, 'edit', 0, 'leased', 0, '', ?, ?, 'template', ?, ?, ?, ?)`,
      );
      const insertSubmission = db.prepare(
        `INSERT INTO submissions (id, task_id, project_id, image_id, round, subject, lease_token, draft_key, draft_source, regions, effort,
           leased_at, duration_ms, active_seconds, submitted_at)
         VALUES (?, ?, ?, ?, 1, ?, ?, NULL, 'template', ?, ?, ?, ?, ?, ?)`,
      );
      const acceptTask = db.prepare("UPDATE tasks SET status = 'accepted', updated_at = ? WHERE id = ?");
      const insertRegionText = db.prepare(
        `INSERT INTO region_texts (image_id, segment_id, text, source, submission_id, agreement, version, updated_by, updated_at)
         VALUES (?, ?, ?, 'consolidated', ?, NULL, 1, ?, ?)`,
      );
      const insertCaption = db.prepare(
        `INSERT INTO final_captions (image_id, project_id, version, text, spans, submission_id, draft_key, region_versions, coverage, stats, effort,
           stale, stale_reason, updated_at)
         VALUES (?, ?, 1, ?, ?, ?, NULL, ?, ?, ?, ?, 0, NULL, ?)`,
      );

      let seq = 0;
      for (const p of o.projects) {
        insertProject.run(p.id, `Export benchmark (${p.images} captions)`, "seeded by scripts/bench-export.ts", settings, p.images, o.createdBy, now, now);
        for (const c of COCO_PANOPTIC_CATEGORIES) insertCategory.run(p.id, c.id, c.name, c.supercategory, c.isthing ? 1 : 0, JSON.stringify(c.color));

        for (let i = 0; i < p.images; i++, seq++) {
          const g = syntheticImage(p.id, i);
          if (validateEvery > 0 && i % validateEvery === 0) {
            const problems = validateCaption(g.caption, new Set(g.segments.map((s) => s.id)));
            if (problems.length) throw new Error(`generated caption ${p.id}#${i} is invalid: ${JSON.stringify(problems)}`);
          }
          const at = now - (total - seq) * 1000; // one image a second, oldest first
          const imageId = sequentialId("img", now, seq);
          const taskId = sequentialId("tsk", now, seq);
          const submissionId = sequentialId("sub", now, 2 * seq);
          const round2SubmissionId = sequentialId("sub", now, 2 * seq + 1);
          const annotator = `annotator-${String(1 + (seq % 250)).padStart(3, "0")}`;
          const reviewer = `reviewer-${String(1 + (seq % 20)).padStart(2, "0")}`;
          const leaseToken = `lt_${seq.toString(36).padStart(12, "0")}`;

          insertImage.run(
            imageId, p.id, `${p.id}-${i}`, `${String(100_000 + i).padStart(12, "0")}.jpg`, g.split, g.width, g.height,
            hash64(`${p.id}:image:${i}`), 90_000 + ((seq * 7919) % 150_000), hash64(`${p.id}:panoptic:${i}`), 4_000 + ((seq * 104729) % 12_000),
            g.segments.length, g.labelledArea, o.createdBy, at,
          );
          for (const s of g.segments) {
            insertSegment.run(imageId, s.id, s.category.id, s.iscrowd, s.area, s.bbox[0], s.bbox[1], s.bbox[2], s.bbox[3], s.mark[0], s.mark[1], s.mark[2]);
          }
          segmentRows += g.segments.length;

          // Round 1: the submission (draft texts inside), then its consolidated region texts.
          const leasedAt = at + 60_000;
          const submittedAt = leasedAt + 240_000 + ((seq * 31) % 300_000);
          const submitted: SubmittedRegion[] = g.regions.map((reg) => {
            const e = reg.text === null ? { distance: 0, draftWords: 0 } : reg.action === "accepted" ? { distance: 0, draftWords: countWords(reg.draftText) } : regionEffort(reg.draftText, reg.text);
            return { segmentId: reg.segmentId, action: reg.action, text: reg.text, reason: reg.reason, draftText: reg.draftText, distance: e.distance, draftWords: e.draftWords };
          });
          const effort = aggregateEffort(submitted);
          const cov: CaptionCoverage = coverage(g.caption, g.segments.map((s) => ({ id: s.id, area: s.area, isthing: s.category.isthing })));
          const stats = statsOf(g);
          if (validateEvery > 0 && i % validateEvery === 0) {
            // The shortcuts above against the Worker's own functions.
            const real = submissionEffort(g.regions.map((reg) => ({ action: reg.action, draft: reg.draftText, final: reg.text })));
            if (JSON.stringify(real) !== JSON.stringify(effort)) throw new Error(`effort shortcut differs for ${p.id}#${i}: ${JSON.stringify(effort)} vs ${JSON.stringify(real)}`);
            const realStats = captionStats(g.caption, g.segments.length);
            if (JSON.stringify(realStats) !== JSON.stringify(stats)) throw new Error(`stats shortcut differs for ${p.id}#${i}: ${JSON.stringify(stats)} vs ${JSON.stringify(realStats)}`);
          }
          const effortJson = JSON.stringify(effort);
          insertTask.run(taskId, p.id, imageId, annotator, leaseToken, submittedAt + 1_800_000, leasedAt, at, leasedAt);
          insertSubmission.run(
            submissionId, taskId, p.id, imageId, annotator, leaseToken, JSON.stringify(submitted), effortJson,
            leasedAt, submittedAt - leasedAt, Math.round((submittedAt - leasedAt) / 1400), submittedAt,
          );
          acceptTask.run(submittedAt + 60_000, taskId);
          for (const reg of g.regions) insertRegionText.run(imageId, reg.segmentId, reg.text, submissionId, reviewer, submittedAt + 60_000);
          regionRows += g.regions.length;

          // Round 2: the final caption.
          captionWords += stats.words;
          const regionVersions = Object.fromEntries(g.regions.map((reg) => [String(reg.segmentId), 1]));
          insertCaption.run(
            imageId, p.id, g.caption.text, JSON.stringify(g.caption.spans), round2SubmissionId, JSON.stringify(regionVersions),
            JSON.stringify(cov), JSON.stringify(stats), effortJson, submittedAt + 3_600_000,
          );
          images++;
          if (o.onProgress && images % 10_000 === 0) o.onProgress(images, total);
        }
      }
      db.exec("COMMIT");
      db.exec("ANALYZE");
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
  } finally {
    db.close();
  }
  return {
    projects: o.projects,
    images,
    segments: segmentRows,
    regionTexts: regionRows,
    submissions: images,
    captionWords,
    ms: performance.now() - started,
    fileBytes: statSync(file).size,
  };
}

/** A stable stand-in for the sha256 of the bytes (unique per project, which the index requires). */
function hash64(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/**
 * `captionStats` for a generated caption: its text is NFC with single spaces and every phrase ends
 * in a plain lower-case noun, so words are split on " " and the head noun is the phrase's last word.
 * Checked against the real function every `validateEvery` images.
 */
function statsOf(g: SyntheticImage): CaptionStats {
  const cps = Array.from(g.caption.text);
  const nouns: string[] = [];
  const grounded = new Set<number>();
  for (const s of g.caption.spans) {
    const phrase = cps.slice(s.start, s.end).join("");
    nouns.push(phrase.slice(phrase.lastIndexOf(" ") + 1).toLowerCase());
    for (const id of s.segment_ids) grounded.add(id);
  }
  return { words: countWords(g.caption.text), masks: g.segments.length, groundedMasks: grounded.size, spans: g.caption.spans.length, nouns };
}

function countWords(s: string): number {
  let n = 0;
  for (const w of s.split(" ")) if (w !== "") n++;
  return n;
}
