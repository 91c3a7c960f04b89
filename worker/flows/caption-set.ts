import { fail, type InvalidField } from "../domain/errors.ts";
import { parseCaptionLine, type CaptionLine } from "../domain/caption-lines.ts";
import { Sha256 } from "../domain/sha256.ts";
import { ulid } from "../domain/ids.ts";
import type { Db } from "../store/db.ts";
import { replaceCaptionSet, resolveCaptionImages } from "../store/caption-sets.ts";

/** Limits of one caption-set upload: enough for a study's sample, bounded for one invocation. */
export const MAX_SET_LINES = 20_000;
export const MAX_SET_BYTES = 16 * 1024 * 1024;
/** Bad lines listed in the problem (all are counted). */
const LISTED_ERRORS = 50;

export interface CaptionSetResult {
  uploadId: string;
  lines: number;
  bytes: number;
  sha256: string;
}

/**
 * A caption set from NDJSON, read as it streams in: every line is checked (shape, then whether
 * its image is in the project, then duplicates), and only when every line is good is the set
 * replaced, in one batch. A bad line fails the whole upload, reported by line number; nothing of
 * it is stored.
 */
export async function importCaptionSet(db: Db, projectId: string, name: string, body: ReadableStream<Uint8Array>, subject: string): Promise<CaptionSetResult> {
  const errors: InvalidField[] = [];
  let errorCount = 0;
  const bad = (e: InvalidField) => {
    errorCount++;
    if (errors.length < LISTED_ERRORS) errors.push(e);
  };
  const lines: CaptionLine[] = [];
  const hash = new Sha256();
  let bytes = 0;
  let lineNo = 0;
  let rest = "";
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const take = (text: string) => {
    lineNo++;
    const parsed = parseCaptionLine(text, lineNo);
    if (parsed === null) return;
    if ("path" in parsed) bad(parsed);
    else if (lines.length >= MAX_SET_LINES) throw fail.validation([{ path: `line ${lineNo}`, message: `a caption set holds at most ${MAX_SET_LINES} captions per upload` }]);
    else lines.push(parsed);
  };
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > MAX_SET_BYTES) throw fail.tooLarge(MAX_SET_BYTES);
      hash.update(value);
      let text: string;
      try {
        text = rest + decoder.decode(value, { stream: true });
      } catch {
        throw fail.validation([{ path: `line ${lineNo + 1}`, message: "not valid UTF-8" }]);
      }
      const parts = text.split("\n");
      rest = parts.pop()!;
      for (const part of parts) take(part);
    }
    rest += decoder.decode();
  } catch (err) {
    await reader.cancel().catch(() => {});
    if (err instanceof TypeError) throw fail.validation([{ path: `line ${lineNo + 1}`, message: "not valid UTF-8" }]);
    throw err;
  }
  if (rest) take(rest);
  if (lines.length === 0 && errorCount === 0) throw fail.validation([{ path: "body", message: "no captions: send one JSON object per line" }]);

  const resolved = await resolveCaptionImages(db, projectId, lines);
  const firstLineOf = new Map<string, number>();
  const rows: { line: number; imageId: string; text: string }[] = [];
  for (const l of lines) {
    const imageId = resolved.get(l.line);
    if (!imageId) {
      bad({ path: `line ${l.line}.${l.imageId ? "image_id" : "external_id"}`, message: `no image ${l.imageId ?? `with external id "${l.externalId}"`} in project ${projectId}` });
      continue;
    }
    const first = firstLineOf.get(imageId);
    if (first !== undefined) {
      bad({ path: `line ${l.line}`, message: `image ${imageId} already has a caption on line ${first}` });
      continue;
    }
    firstLineOf.set(imageId, l.line);
    rows.push({ line: l.line, imageId, text: l.text });
  }
  if (errorCount) {
    errors.sort((a, b) => lineOf(a) - lineOf(b));
    throw fail.validation(errors, `${errorCount} bad line(s); nothing of this upload was stored. First: ${errors[0].path}: ${errors[0].message}`);
  }
  const upload = { id: `cup_${ulid()}`, projectId, name, bytes, sha256: hash.hex(), createdBy: subject, createdAt: Date.now() };
  await replaceCaptionSet(db, upload, rows);
  return { uploadId: upload.id, lines: rows.length, bytes, sha256: upload.sha256 };
}

const lineOf = (e: InvalidField) => Number(/^line (\d+)/.exec(e.path)?.[1] ?? 0);
