import { AsyncLocalStorage } from "node:async_hooks";
import type { ExportTrailerLine } from "../../schema/api/exports.ts";
import { encodeCursor } from "../domain/ids.ts";
import type { Db } from "../store/db.ts";
import { statementsSpent } from "./export-budget.ts";
import { finalImagePage, PAGE_STATEMENTS, type ExportFilter } from "./export.ts";
import { formatPage, type ExportFormat } from "./export-format.ts";

export interface StreamPage {
  /** Continue after this image id (null: from the start). */
  after: string | null;
  /** The most images this response may hold. */
  limit: number;
  /** Images per D1 page. */
  pageSize: number;
  /** D1 statements the whole request may have sent when the response ends. */
  budget: number;
}

/**
 * One response of a paged export as a pull stream: D1 pages are fetched only when the reader
 * wants more, until `limit` images, the end of the export or the statement budget, whichever comes
 * first; then the trailer line `{"_trailer": {...}}`. A failure errors the stream (the body is cut,
 * with no trailer) rather than ending it, so a client never takes a broken export for a whole one.
 */
export function exportPageStream(bucket: R2Bucket, db: Db, format: ExportFormat, filter: ExportFilter, p: StreamPage): ReadableStream<Uint8Array> {
  // The page queries run when the client reads, so they are counted in, and kept to, the request's
  // statement budget only if they run in its context.
  const inRequest = AsyncLocalStorage.snapshot();
  const encoder = new TextEncoder();
  let cursor = p.after;
  let images = 0;
  let lines = 0;
  let ended = false;
  const trailer = (next: string | null) => {
    const line: ExportTrailerLine = { _trailer: { images, lines, next: next === null ? null : encodeCursor(next), complete: true } };
    return encoder.encode(JSON.stringify(line) + "\n");
  };
  return new ReadableStream<Uint8Array>(
    {
      pull: (controller) =>
        inRequest(async () => {
          if (ended) return;
          if (images >= p.limit || statementsSpent() + PAGE_STATEMENTS > p.budget) {
            ended = true;
            controller.enqueue(trailer(cursor));
            controller.close();
            return;
          }
          try {
            const page = await finalImagePage(db, filter, cursor, Math.min(p.pageSize, p.limit - images));
            const out = await formatPage(bucket, format, page);
            images += page.images.length;
            lines += out.lines;
            cursor = page.next;
            if (out.text) controller.enqueue(encoder.encode(out.text));
            if (cursor === null) {
              ended = true;
              controller.enqueue(trailer(null));
              controller.close();
            }
          } catch (err) {
            ended = true;
            console.error(JSON.stringify({ level: "error", where: "export-stream", format, projectId: filter.projectId, after: cursor, error: String(err) }));
            controller.error(err);
          }
        }),
    },
    { highWaterMark: 1 },
  );
}
