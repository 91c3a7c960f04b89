import type { ImageRow, ProjectRow, SegmentRow } from "../../schema/tables.ts";
import type { DraftQueueMessage } from "../env.ts";
import { checkSegmentsInfo, type SegmentInfo } from "../domain/segments-check.ts";
import { newImageId } from "../domain/ids.ts";
import { editSlots } from "../domain/lease.ts";
import { editTaskRows } from "../store/tasks.ts";
import { decodeImage, ImageDecodeError } from "../imaging/decode.ts";
import { decodePanoptic } from "../imaging/panoptic.ts";
import { measureSegments } from "../imaging/segments.ts";
import { fail } from "../domain/errors.ts";
import { putBlob, sha256Hex } from "../store/blobs.ts";
import type { Db } from "../store/db.ts";
import { findImageByExternalId, findImageBySha, insertImage, isUniqueViolation } from "../store/images.ts";
import { listCategories } from "../store/projects.ts";
import { draftClaimFor, requestDraft } from "./draft.ts";

export interface IngestInput {
  projectId: string;
  project: ProjectRow;
  image: Uint8Array;
  panoptic: Uint8Array;
  segmentsInfo: SegmentInfo[];
  fileName: string;
  externalId: string | null;
  split: string | null;
  createdBy: string;
}

export type IngestOutcome = { created: boolean; image: ImageRow };

/**
 * Verifies an image and its COCO-panoptic annotation, then stores it. Everything is checked before
 * anything is written: a rejected upload leaves D1 and R2 as they were.
 */
export async function ingestImage(db: Db, bucket: R2Bucket, queue: Queue<DraftQueueMessage>, input: IngestInput): Promise<IngestOutcome> {
  const [imageSha, panopticSha] = await Promise.all([sha256Hex(input.image), sha256Hex(input.panoptic)]);

  const existing = await findImageBySha(db, input.projectId, imageSha);
  if (existing) return sameOrConflict(existing, panopticSha);
  if (input.externalId) {
    const clash = await findImageByExternalId(db, input.projectId, input.externalId);
    if (clash) {
      throw fail.conflict(`external_id "${input.externalId}" already names image ${clash.id}, which has other bytes`, {
        image_id: clash.id,
      });
    }
  }

  const { decoded, measured } = await verify(input, await categoryIds(db, input.projectId));

  const id = newImageId();
  const now = Date.now();
  const row: ImageRow = {
    id,
    projectId: input.projectId,
    externalId: input.externalId,
    fileName: input.fileName,
    split: input.split,
    width: decoded.width,
    height: decoded.height,
    format: decoded.format,
    imageSha256: imageSha,
    imageBytes: input.image.byteLength,
    panopticSha256: panopticSha,
    panopticBytes: input.panoptic.byteLength,
    segmentCount: measured.length,
    labelledArea: measured.reduce((sum, s) => sum + s.area, 0),
    createdBy: input.createdBy,
    createdAt: now,
  };
  const declared = new Map(input.segmentsInfo.map((s) => [s.id, s]));
  const segmentRows: SegmentRow[] = measured.map((m) => ({
    imageId: id,
    segmentId: m.id,
    categoryId: declared.get(m.id)!.category_id,
    iscrowd: declared.get(m.id)!.iscrowd === 1,
    area: m.area,
    bboxX: m.bbox[0],
    bboxY: m.bbox[1],
    bboxW: m.bbox[2],
    bboxH: m.bbox[3],
    markX: m.mark.x,
    markY: m.mark.y,
    markDistance: m.markDistance,
  }));

  // Blobs first: content-addressed, so an orphan from a failed batch is harmless and reused.
  await putBlob(bucket, imageSha, input.image, decoded.format === "png" ? "image/png" : "image/jpeg");
  await putBlob(bucket, panopticSha, input.panoptic, "image/png");
  // With a model, the round-1 draft is asked for now, and the tasks wait for it (up to the project's wait).
  const vlm = input.project.settings.vlm;
  const draft = vlm.provider === "template" ? null : await draftClaimFor(row, input.project, 1);
  const hold = draft && vlm.draftWaitSeconds > 0 ? { key: draft.key, until: now + vlm.draftWaitSeconds * 1000 } : null;
  try {
    await insertImage(db, row, segmentRows, editTaskRows(input.projectId, id, 1, editSlots(1, imageSha, input.project.settings.redundancy), now), hold);
  } catch (err) {
    // A concurrent upload of the same bytes won the race: answer as a re-upload would.
    if (!isUniqueViolation(err)) throw err;
    const winner = await findImageBySha(db, input.projectId, imageSha);
    if (winner) return sameOrConflict(winner, panopticSha);
    throw fail.conflict(`external_id "${input.externalId}" was taken by a concurrent upload`);
  }
  if (draft) await requestDraft(db, queue, draft);
  return { created: true, image: row };
}

function sameOrConflict(existing: ImageRow, panopticSha: string): IngestOutcome {
  if (existing.panopticSha256 === panopticSha) return { created: false, image: existing };
  throw fail.conflict(`this image is already ingested as ${existing.id} with a different panoptic annotation`, {
    image_id: existing.id,
  });
}

async function categoryIds(db: Db, projectId: string): Promise<Set<number>> {
  return new Set((await listCategories(db, projectId)).map((c) => c.categoryId));
}

async function verify(input: IngestInput, known: ReadonlySet<number>) {
  let decoded, panoptic;
  try {
    decoded = await decodeImage(input.image, "image");
    panoptic = decodePanoptic(input.panoptic, "panoptic");
  } catch (err) {
    if (err instanceof ImageDecodeError) {
      throw fail.unprocessable("undecodable-image", "Image cannot be decoded", err.message, {
        errors: [{ path: `body.${err.field}`, message: err.reason }],
      });
    }
    throw err;
  }
  if (panoptic.width !== decoded.width || panoptic.height !== decoded.height) {
    const detail = `the panoptic PNG is ${panoptic.width}×${panoptic.height} but the image is ${decoded.width}×${decoded.height}`;
    throw fail.unprocessable("size-mismatch", "Panoptic PNG and image differ in size", detail, {
      errors: [{ path: "body.panoptic", message: detail }],
      expected: { width: decoded.width, height: decoded.height },
      found: { width: panoptic.width, height: panoptic.height },
    });
  }
  const measured = measureSegments(panoptic);
  const mismatches = checkSegmentsInfo(input.segmentsInfo, measured, known);
  if (mismatches.length > 0) {
    throw fail.unprocessable(
      "segments-mismatch",
      "segments_info disagrees with the panoptic PNG",
      `${mismatches.length} problem(s) in segments_info: ` +
        mismatches
          .slice(0, 5)
          .map((m) => `segment ${m.segment_id} ${m.field}: ${m.problem}`)
          .join("; ") +
        (mismatches.length > 5 ? "; …" : ""),
      {
        segments: mismatches,
        errors: mismatches.map((m) => ({ path: `body.segments_info[id=${m.segment_id}].${m.field}`, message: m.problem })),
      },
    );
  }
  return { decoded, measured };
}
