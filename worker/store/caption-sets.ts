import { and, desc, eq, sql } from "drizzle-orm";
import { captionUploads, importedCaptions } from "../../schema/tables.ts";
import type { CaptionLine } from "../domain/caption-lines.ts";
import { chunk, runBatch, type Db } from "./db.ts";

/** Lines resolved per statement: their references travel as one JSON parameter. */
const RESOLVE_CHUNK = 500;

/**
 * The image each line names, by id or by external id, within the project: one statement per
 * chunk, each reference looked up through its own unique index (no OR in the join).
 */
export async function resolveCaptionImages(db: Db, projectId: string, lines: readonly CaptionLine[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const part of chunk(lines, RESOLVE_CHUNK)) {
    const refs = JSON.stringify(part.map((l) => ({ n: l.line, i: l.imageId, e: l.externalId })));
    const rows = await db.all<{ n: number; id: string | null }>(sql`
      SELECT json_extract(j.value, '$.n') AS n, COALESCE(byId.id, byExternal.id) AS id
      FROM json_each(${refs}) j
      LEFT JOIN images byId ON byId.id = json_extract(j.value, '$.i') AND byId.project_id = ${projectId}
      LEFT JOIN images byExternal ON byExternal.project_id = ${projectId} AND byExternal.external_id = json_extract(j.value, '$.e')`);
    for (const r of rows) if (r.id) out.set(Number(r.n), r.id);
  }
  return out;
}

/** Rows per insert statement, as JSON: the texts are long, so chunks are cut by size (D1: 100 KB per statement). */
const INSERT_CHUNK_BYTES = 60_000;

export interface CaptionUpload {
  id: string;
  projectId: string;
  name: string;
  bytes: number;
  sha256: string;
  createdBy: string;
  createdAt: number;
}

/** The set replaced whole, with its upload record: one batch, so readers see the old set or the new one. */
export async function replaceCaptionSet(db: Db, upload: CaptionUpload, rows: { line: number; imageId: string; text: string }[]): Promise<void> {
  const parts: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const r of rows) {
    const json = JSON.stringify([r.imageId, r.text, r.line]);
    if (current.length && size + json.length > INSERT_CHUNK_BYTES) {
      parts.push(`[${current.join(",")}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length) parts.push(`[${current.join(",")}]`);
  await runBatch(db.$client, [
    db.delete(importedCaptions).where(and(eq(importedCaptions.projectId, upload.projectId), eq(importedCaptions.name, upload.name))),
    db.insert(captionUploads).values({ ...upload, lines: rows.length }),
    ...parts.map(
      (json) => sql`INSERT INTO imported_captions (project_id, name, image_id, text, upload_id, line)
        SELECT ${upload.projectId}, ${upload.name}, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), ${upload.id}, json_extract(j.value, '$[2]')
        FROM json_each(${json}) j`,
    ),
  ]);
}

/** Each caption set of a project with its latest upload. */
export async function listCaptionSets(db: Db, projectId: string) {
  return db.all<{ name: string; upload_id: string; lines: number; bytes: number; sha256: string; created_by: string; created_at: number }>(sql`
    SELECT u.name, u.id AS upload_id, u.lines, u.bytes, u.sha256, u.created_by, u.created_at FROM caption_uploads u
    WHERE u.project_id = ${projectId} AND u.id = (SELECT v.id FROM caption_uploads v WHERE v.project_id = u.project_id AND v.name = u.name ORDER BY v.id DESC LIMIT 1)
    ORDER BY u.name`);
}

export async function latestUpload(db: Db, projectId: string, name: string) {
  return db.select().from(captionUploads).where(and(eq(captionUploads.projectId, projectId), eq(captionUploads.name, name))).orderBy(desc(captionUploads.id)).limit(1).get();
}
