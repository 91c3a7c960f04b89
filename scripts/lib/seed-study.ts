/**
 * Seeds a pairwise-study benchmark straight into the local D1 database that `wrangler dev
 * --persist-to` uses, and writes what a study's voters would have left behind, without the API:
 *
 * - `seedStudyProject`: a project (default settings), its categories, images with two segments
 *   each (a thing and a stuff region), a `final_captions` row per image (version 1, two spans
 *   grounding both segments; coverage, stats and effort computed by the Worker's own pure
 *   functions) and an imported caption set (`caption_uploads` + one `imported_captions` row per
 *   image, as PUT …/caption-sets/{name} leaves them): every image has both sources `final` and
 *   `import:<name>`, so a study of the two plans one pair per image;
 * - `preJoinVoters`: `study_voters` rows (votes 0, not excluded), as a voter's first claim writes;
 * - `writeStudyVotes`: a vote on every open regular ballot of a study (k distinct voters per pair
 *   from a pool, counterbalanced sides, mixed choices, plausible times), with the ballots moved to
 *   `voted`, their `pair_voters` rows, the voters' and the study's counters.
 *
 * Everything is seeded (mulberry32, worker/domain/random.ts), so a run can be reproduced. The
 * database must exist (migrations applied) and no server may have it open.
 */
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { COCO_PANOPTIC_CATEGORIES } from "../../worker/domain/coco-categories.ts";
import { captionStats, coverage } from "../../worker/domain/coverage.ts";
import { submissionEffort } from "../../worker/domain/edit-effort.ts";
import { validateCaption } from "../../worker/domain/grounded-caption.ts";
import { seededRandom } from "../../worker/domain/random.ts";
import { defaultSettings, sequentialId } from "./seed-tasks.ts";

const WIDTH = 640;
const HEIGHT = 480;
const THINGS = [1, 3, 18]; // person, car, dog
const STUFF = [184, 187, 193]; // tree-merged, sky-other-merged, grass-merged
const category = (id: number) => COCO_PANOPTIC_CATEGORIES.find((c) => c.id === id)!;
const plain = (name: string) => name.replace(/-merged|-other/g, "");

const ADJ = ["small", "tall", "dark", "bright", "old", "young", "red", "white", "brown", "grey"];
const ACTIONS = ["stands", "waits", "rests", "moves slowly", "turns to the left", "faces the camera"];
const WHERE = ["in the foreground", "near the left edge", "at the centre of the frame", "close to the right edge", "in the middle distance"];
const LIGHT = ["soft morning light", "harsh midday sun", "an overcast sky", "warm evening light", "flat grey light"];
const DETAIL = [
  "Its outline is sharp against the background and small details of its surface are easy to make out.",
  "Part of it is in shadow, and the shadow falls across the lower half of the picture.",
  "It takes up a large part of the picture and draws the eye first.",
  "Nothing else of note is in the picture, which is calm and uncluttered.",
];

export interface StudySeedOptions {
  projectId: string;
  images: number;
  /** Name of the imported caption set (the source `import:<name>`). */
  importName: string;
  createdBy: string;
  /** The time part of the seeded ids; distinct per project seeded into one database. */
  idTimeMs: number;
  seed: number;
}

export interface StudySeedResult {
  projectId: string;
  images: number;
  segments: number;
  finals: number;
  imported: number;
  ms: number;
}

/** One image's two captions: the final (grounded) and the imported (plain) one. */
function captionsOf(random: () => number, thing: string, stuff: string) {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  const adj = pick(ADJ);
  const thingPhrase = `a ${adj} ${thing}`;
  const stuffPhrase = `the ${stuff}`;
  const head = `In this photograph ${thingPhrase} ${pick(ACTIONS)} ${pick(WHERE)}, with ${stuffPhrase} behind it under ${pick(LIGHT)}. `;
  const text = `${head}${pick(DETAIL)} ${pick(DETAIL)} The ${stuff} fills most of the remaining space around the ${thing}.`;
  const s1 = head.indexOf(thingPhrase);
  const s2 = head.indexOf(stuffPhrase);
  const spans = [
    { start: s1, end: s1 + thingPhrase.length, segment_ids: [1000] },
    { start: s2, end: s2 + stuffPhrase.length, segment_ids: [1001] },
  ];
  const other = `A ${thing} ${pick(ACTIONS)} ${pick(WHERE)} with some ${stuff} around it. The photo was taken in ${pick(LIGHT)}. ${pick(DETAIL)}`;
  return { final: { text, spans }, other };
}

/** A project whose every image has a final caption and a caption in the imported set `importName`, in one transaction. */
export function seedStudyProject(file: string, o: StudySeedOptions): StudySeedResult {
  if (!Number.isInteger(o.images) || o.images < 1) throw new Error("images must be a positive integer");
  const started = performance.now();
  const now = Date.now();
  const random = seededRandom(o.seed);
  const db = new DatabaseSync(file);
  try {
    db.exec("PRAGMA synchronous = OFF");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("BEGIN");
    try {
      db.prepare(
        `INSERT INTO projects (id, name, description, settings, version, image_count, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)`,
      ).run(o.projectId, `Study benchmark (${o.images} images)`, "seeded by scripts/lib/seed-study.ts", defaultSettings(), o.images, o.createdBy, now, now);
      const insertCategory = db.prepare("INSERT INTO categories (project_id, category_id, name, supercategory, isthing, color) VALUES (?, ?, ?, ?, ?, ?)");
      for (const id of [...THINGS, ...STUFF]) {
        const c = category(id);
        insertCategory.run(o.projectId, c.id, c.name, c.supercategory, c.isthing ? 1 : 0, JSON.stringify(c.color));
      }
      const insertImage = db.prepare(
        `INSERT INTO images (id, project_id, external_id, file_name, width, height, format, image_sha256, image_bytes,
           panoptic_sha256, panoptic_bytes, segment_count, labelled_area, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'jpeg', ?, ?, ?, ?, 2, ?, ?, ?)`,
      );
      const insertSegment = db.prepare(
        `INSERT INTO segments (image_id, segment_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, mark_x, mark_y, mark_distance)
         VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insertFinal = db.prepare(
        `INSERT INTO final_captions (image_id, project_id, version, text, spans, submission_id, draft_key, region_versions, coverage, stats, effort, stale, stale_reason, updated_at)
         VALUES (?, ?, 1, ?, ?, ?, NULL, ?, ?, ?, ?, 0, NULL, ?)`,
      );
      const insertImported = db.prepare("INSERT INTO imported_captions (project_id, name, image_id, text, upload_id, line) VALUES (?, ?, ?, ?, ?, ?)");
      const uploadId = sequentialId("cup", o.idTimeMs, 0);
      const sha = createHash("sha256");
      let bytes = 0;
      const usage = new Map<number, number>();
      for (let i = 0; i < o.images; i++) {
        const imageId = sequentialId("img", o.idTimeMs, i);
        const thing = category(THINGS[i % THINGS.length]);
        const stuff = category(STUFF[Math.floor(i / THINGS.length) % STUFF.length]);
        // The thing: a box in the upper part; the stuff: a band along the bottom. Areas inside their boxes.
        const tw = 160 + (i % 7) * 20;
        const th = 180 + (i % 5) * 16;
        const tx = 40 + (i % 11) * 30;
        const ty = 20 + (i % 3) * 10;
        const thingArea = Math.floor(tw * th * 0.62);
        const stuffArea = WIDTH * 200 - 1_000 - (i % 97);
        const at = now - (o.images - i) * 1000;
        insertImage.run(
          imageId, o.projectId, `${o.projectId}-${i}`, `${String(100_000 + i).padStart(12, "0")}.jpg`, WIDTH, HEIGHT,
          createHash("sha256").update(`${o.projectId}:image:${i}`).digest("hex"), 120_000 + (i % 40_000),
          createHash("sha256").update(`${o.projectId}:panoptic:${i}`).digest("hex"), 6_000 + (i % 3_000), thingArea + stuffArea, o.createdBy, at,
        );
        insertSegment.run(imageId, 1000, thing.id, thingArea, tx, ty, tw, th, tx + (tw >> 1), ty + (th >> 1), Math.min(tw, th) / 2);
        insertSegment.run(imageId, 1001, stuff.id, stuffArea, 0, HEIGHT - 200, WIDTH, 200, WIDTH >> 1, HEIGHT - 100, 100);
        usage.set(thing.id, (usage.get(thing.id) ?? 0) + 1);
        usage.set(stuff.id, (usage.get(stuff.id) ?? 0) + 1);

        const { final, other } = captionsOf(random, plain(thing.name), plain(stuff.name));
        if (i % 97 === 0) {
          const problems = validateCaption(final, new Set([1000, 1001]));
          if (problems.length) throw new Error(`generated caption ${o.projectId}#${i} is invalid: ${JSON.stringify(problems)}`);
        }
        const segs = [
          { id: 1000, area: thingArea, isthing: true },
          { id: 1001, area: stuffArea, isthing: false },
        ];
        const effort = submissionEffort([
          { action: "edited", draft: `A ${plain(thing.name)}.`, final: final.text.slice(0, final.text.indexOf(".") + 1) },
          { action: "accepted", draft: `The ${plain(stuff.name)}.`, final: `The ${plain(stuff.name)}.` },
        ]);
        insertFinal.run(
          imageId, o.projectId, final.text, JSON.stringify(final.spans), sequentialId("sub", o.idTimeMs, i), JSON.stringify({ "1000": 1, "1001": 1 }),
          JSON.stringify(coverage(final, segs)), JSON.stringify(captionStats(final, 2)), JSON.stringify(effort), at + 3_600_000,
        );
        const line = `${JSON.stringify({ image_id: imageId, text: other })}\n`;
        sha.update(line);
        bytes += Buffer.byteLength(line);
        insertImported.run(o.projectId, o.importName, imageId, other, uploadId, i + 1);
      }
      db.prepare("INSERT INTO caption_uploads (id, project_id, name, lines, bytes, sha256, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)").run(
        uploadId, o.projectId, o.importName, o.images, bytes, sha.digest("hex"), o.createdBy, now,
      );
      const insertUsage = db.prepare("INSERT INTO category_usage (project_id, category_id, segments) VALUES (?, ?, ?)");
      for (const [id, n] of usage) insertUsage.run(o.projectId, id, n);
      db.exec("COMMIT");
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
  } finally {
    db.close();
  }
  return { projectId: o.projectId, images: o.images, segments: 2 * o.images, finals: o.images, imported: o.images, ms: performance.now() - started };
}

/** `study_voters` rows for voters who have not voted yet (what a voter's first claim inserts), in one transaction. */
export function preJoinVoters(file: string, studyId: string, voters: readonly string[], joinedAt = Date.now()): number {
  const db = new DatabaseSync(file);
  try {
    db.exec("PRAGMA synchronous = OFF");
    db.exec("BEGIN");
    const insert = db.prepare("INSERT INTO study_voters (study_id, voter, invite_id, participant_id, votes, excluded, excluded_reason, joined_at, last_vote_at) VALUES (?, ?, NULL, NULL, 0, 0, NULL, ?, NULL)");
    for (const v of voters) insert.run(studyId, v, joinedAt);
    db.exec("COMMIT");
    return voters.length;
  } finally {
    db.close();
  }
}

export interface VoteSeedOptions {
  studyId: string;
  /** Voters drawn from `voter-001` … `voter-<pool>`; each pair gets k distinct ones. */
  voterPool: number;
  seed: number;
  /** The source the simulated voters prefer (it wins ~70 % of decided votes), and the share of ties. */
  favoured: string;
  tieShare: number;
  /** Share of decided votes that go to the left caption whatever it is (a mild position bias). */
  leftPull: number;
}

export interface VoteSeedResult {
  votes: number;
  pairs: number;
  voters: number;
  /** Votes for `favoured`, for the other source, ties; votes for the left caption among the decided ones. */
  favouredWins: number;
  otherWins: number;
  ties: number;
  leftWins: number;
  ms: number;
}

/**
 * One vote on every open regular ballot of the study, as k voters would cast them: for each pair
 * (in plan order) k distinct voters of the pool, each pair with a latent lean (most pairs lean to
 * `favoured`, some the other way), ties at `tieShare`, a pull to the left side, the sides
 * counterbalanced per voter as the claim does (a voter's n-th ballot of the source pair shows the
 * pair's first source on the left when n is even), active time log-normal around a voter's own
 * pace, and lease-to-vote time a little longer. Ballots become `voted` with their lease fields,
 * `pair_voters` gets the holding rows the lease trigger writes, the voters' rows and the study's
 * vote counter are set. One transaction.
 */
export function writeStudyVotes(file: string, o: VoteSeedOptions): VoteSeedResult {
  const started = performance.now();
  const random = seededRandom(o.seed);
  const db = new DatabaseSync(file);
  try {
    db.exec("PRAGMA synchronous = OFF");
    const study = db.prepare("SELECT design, opened_at FROM studies WHERE id = ?").get(o.studyId) as { design: string; opened_at: number } | undefined;
    if (!study) throw new Error(`no study ${o.studyId}`);
    const k = (JSON.parse(study.design) as { votesPerPair: number }).votesPerPair;
    if (k > o.voterPool) throw new Error(`a pool of ${o.voterPool} voters cannot give ${k} distinct votes per pair`);
    const rows = db
      .prepare("SELECT id, pair_id, position, slot, image_id, a, b FROM ballots WHERE study_id = ? AND kind = 'pair' AND status = 'open' ORDER BY position, slot")
      .all(o.studyId) as { id: string; pair_id: string; position: number; slot: number; image_id: string; a: string; b: string }[];
    const byPair = new Map<string, typeof rows>();
    for (const r of rows) {
      const list = byPair.get(r.pair_id);
      if (list) list.push(r);
      else byPair.set(r.pair_id, [r]);
    }
    const pool = Array.from({ length: o.voterPool }, (_, i) => `voter-${String(i + 1).padStart(3, "0")}`);
    const pace = new Map(pool.map((v) => [v, 5_000 + random() * 15_000])); // median active ms per voter
    const seen = new Map<string, number>(); // voter → ballots of this source pair so far (one source pair here)
    const votesOf = new Map<string, { n: number; last: number }>();
    const n = rows.length;
    const span = Math.max(n * 50, Date.now() - study.opened_at);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

    db.exec("BEGIN");
    try {
      const castBallot = db.prepare(
        `UPDATE ballots SET status = 'voted', lease_owner = ?, lease_token = ?, lease_expires = ?, leased_at = ?, swapped = ?, vote_id = ?, updated_at = ?
         WHERE id = ? AND status = 'open'`,
      );
      const insertHolding = db.prepare("INSERT INTO pair_voters (pair_id, voter, ballot_id, at) VALUES (?, ?, ?, ?)");
      const insertVote = db.prepare(
        `INSERT INTO votes (id, study_id, ballot_id, pair_id, image_id, kind, a, b, "left", choice, winner, voter, reasons, active_ms, duration_ms, leased_at, at)
         VALUES (?, ?, ?, ?, ?, 'pair', ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?)`,
      );
      const result = { votes: 0, pairs: byPair.size, voters: 0, favouredWins: 0, otherWins: 0, ties: 0, leftWins: 0, ms: 0 };
      let i = 0;
      for (const ballots of byPair.values()) {
        if (ballots.length > o.voterPool) throw new Error(`pair ${ballots[0].pair_id} has ${ballots.length} open ballots, more than the pool`);
        // k distinct voters: a partial Fisher–Yates over the pool.
        for (let j = 0; j < ballots.length; j++) {
          const m = j + Math.floor(random() * (pool.length - j));
          [pool[j], pool[m]] = [pool[m], pool[j]];
        }
        // The pair's lean: most pairs favour `favoured` clearly, some the other way.
        const lean = random() < 0.72 ? 0.88 : 0.26;
        ballots.forEach((b, j) => {
          const voter = pool[j];
          const other = b.a === o.favoured ? b.b : b.a;
          const nth = seen.get(voter) ?? 0;
          seen.set(voter, nth + 1);
          const left = nth % 2 === 0 ? b.a : b.b;
          let winner: string | null;
          if (random() < o.tieShare) winner = null;
          else if (random() < o.leftPull) winner = left;
          else winner = random() < lean ? o.favoured : other;
          const choice = winner === null ? "tie" : winner === left ? "A" : "B";
          const activeMs = Math.round(Math.min(120_000, Math.max(1_200, pace.get(voter)! * Math.exp(0.45 * gauss()))));
          const durationMs = activeMs + 400 + Math.round(random() * 2_500);
          const leasedAt = study.opened_at + Math.floor(((i + 1) * span) / (n + 1));
          const at = leasedAt + durationMs;
          const voteId = sequentialId("vot", leasedAt, i);
          castBallot.run(voter, `bench-lt-${i}`, leasedAt + 600_000, leasedAt, left === b.b ? 1 : 0, voteId, at, b.id);
          insertHolding.run(b.pair_id, voter, b.id, leasedAt);
          insertVote.run(voteId, o.studyId, b.id, b.pair_id, b.image_id, b.a, b.b, left, choice, winner, voter, activeMs, durationMs, leasedAt, at);
          const tally = votesOf.get(voter) ?? { n: 0, last: 0 };
          votesOf.set(voter, { n: tally.n + 1, last: Math.max(tally.last, at) });
          result.votes++;
          if (winner === null) result.ties++;
          else {
            if (winner === o.favoured) result.favouredWins++;
            else result.otherWins++;
            if (winner === left) result.leftWins++;
          }
          i++;
        });
      }
      const upsertVoter = db.prepare(
        `INSERT INTO study_voters (study_id, voter, invite_id, participant_id, votes, excluded, excluded_reason, joined_at, last_vote_at)
         VALUES (?, ?, NULL, NULL, ?, 0, NULL, ?, ?)
         ON CONFLICT (study_id, voter) DO UPDATE SET votes = study_voters.votes + excluded.votes, last_vote_at = excluded.last_vote_at`,
      );
      for (const [voter, t] of votesOf) upsertVoter.run(o.studyId, voter, t.n, study.opened_at, t.last);
      db.prepare("UPDATE studies SET votes = votes + ? WHERE id = ?").run(result.votes, o.studyId);
      db.exec("COMMIT");
      result.voters = votesOf.size;
      result.ms = performance.now() - started;
      return result;
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw err;
    }
  } finally {
    db.close();
  }
}
