/**
 * Outcome bookkeeping and the end-of-run text of scripts/ingest-coco.ts. Pure, so the exact
 * wording a user (or a test) sees can be checked without a server.
 */
import { doneOf, formatElapsed, formatRate, type IngestCounts } from "./progress.ts";

export interface SegmentMismatch {
  segment_id: number;
  field: string;
  problem: string;
  expected?: unknown;
  found?: unknown;
}

export interface Rejection {
  fileName: string;
  externalId: string | null;
  /** null when the image was rejected before any upload (missing file, malformed annotation). */
  status: number | null;
  title: string;
  detail: string;
  segments: SegmentMismatch[];
  errors: { path: string; message: string }[];
}

export interface Failure {
  fileName: string;
  externalId: string | null;
  attempts: number;
  error: string;
}

/**
 * Reads an RFC 9457 body defensively: a proxy in front of the API may answer 4xx with HTML, and
 * the report should still say something useful.
 */
export function rejectionFromProblem(
  item: { fileName: string; externalId: string | null },
  status: number,
  body: unknown,
  rawText = "",
): Rejection {
  const p = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  const segments = Array.isArray(p.segments)
    ? p.segments.filter((s): s is SegmentMismatch => typeof s === "object" && s !== null && "segment_id" in s)
    : [];
  const errors = Array.isArray(p.errors)
    ? p.errors
        .filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null)
        .map((e) => ({ path: text(e.path), message: text(e.message) }))
    : [];
  return {
    fileName: item.fileName,
    externalId: item.externalId,
    status,
    title: text(p.title) || `HTTP ${status}`,
    detail: text(p.detail) || rawText.trim().slice(0, 300) || "(no detail in the response)",
    segments,
    errors,
  };
}

export function localRejection(item: { fileName: string; externalId: string | null }, reason: string): Rejection {
  return { fileName: item.fileName, externalId: item.externalId, status: null, title: "Rejected locally", detail: reason, segments: [], errors: [] };
}

export function exitCodeFor(counts: IngestCounts): 0 | 1 {
  return counts.rejected > 0 || counts.failed > 0 ? 1 : 0;
}

export interface SummaryContext {
  project: string;
  total: number;
  elapsedMs: number;
  /** Images settled before the first upload (skips, local rejections); excluded from the rate. */
  doneAtStart?: number;
  /** Set when the run stopped early (Ctrl-C, auth error): the counts are then partial. */
  stoppedBecause?: string;
}

export function formatSummary(counts: IngestCounts, ctx: SummaryContext): string {
  const uploaded = doneOf(counts) - (ctx.doneAtStart ?? counts.skipped);
  const rate = ctx.elapsedMs > 0 && uploaded > 0 ? uploaded / (ctx.elapsedMs / 1000) : null;
  const width = Math.max(...[counts.created, counts.present, counts.skipped, counts.rejected, counts.failed].map((n) => String(n).length));
  const row = (label: string, n: number, note = "") => `  ${label.padEnd(17)}${String(n).padStart(width)}${note ? "  " + note : ""}`;
  const text = (label: string, value: string) => `  ${label.padEnd(17)}${value}`;
  const lines = [
    `Ingest into project "${ctx.project}": ${ctx.total} annotation(s)` + (ctx.stoppedBecause ? ` (stopped early: ${ctx.stoppedBecause})` : ""),
    row("created", counts.created),
    row("already present", counts.present, "(same bytes already on the server)"),
    row("skipped", counts.skipped, "(already ingested)"),
    row("rejected", counts.rejected),
    row("failed", counts.failed, counts.failed > 0 ? "(server or network errors after retries)" : ""),
  ];
  if (ctx.stoppedBecause) lines.push(text("not attempted", String(Math.max(0, ctx.total - doneOf(counts)))));
  lines.push(text("elapsed", formatElapsed(ctx.elapsedMs)), text("rate", formatRate(rate)));
  return lines.join("\n");
}

/** JSON-ish but compact: `[413,158,53,138]`, `{"area":0}`, `2840`. */
export function formatValue(v: unknown): string {
  if (v === undefined) return "-";
  return typeof v === "string" ? v : JSON.stringify(v);
}

export function formatRejection(r: Rejection): string[] {
  const id = r.externalId === null ? "" : ` (image ${r.externalId})`;
  const status = r.status === null ? "local" : `HTTP ${r.status}`;
  const lines = [`${r.fileName}${id}  ${status}  ${r.detail}`];
  for (const s of r.segments) {
    const values = [s.expected !== undefined ? `expected ${formatValue(s.expected)}` : "", s.found !== undefined ? `found ${formatValue(s.found)}` : ""]
      .filter(Boolean)
      .join(", ");
    lines.push(`    segment ${s.segment_id}  ${s.field}: ${values || s.problem}${values ? `  (${s.problem})` : ""}`);
  }
  // 422 segment problems repeat themselves in `errors`; only show errors when they are the whole story.
  if (r.segments.length === 0) for (const e of r.errors) lines.push(`    ${e.path}: ${e.message}`);
  return lines;
}

export function formatFailure(f: Failure): string {
  const id = f.externalId === null ? "" : ` (image ${f.externalId})`;
  return `${f.fileName}${id}  failed after ${f.attempts} attempt(s)  ${f.error}`;
}

/** The whole end-of-run report: summary, then every rejected and failed image. */
export function formatReport(counts: IngestCounts, ctx: SummaryContext, rejections: Rejection[], failures: Failure[]): string {
  const parts = [formatSummary(counts, ctx)];
  if (rejections.length > 0) parts.push(`\nRejected (${rejections.length}):\n` + rejections.flatMap(formatRejection).join("\n"));
  if (failures.length > 0) parts.push(`\nFailed (${failures.length}), safe to retry by running the same command again:\n` + failures.map(formatFailure).join("\n"));
  return parts.join("\n");
}

/** What --report writes: stable snake_case keys, so other tools can consume it. */
export function reportJson(counts: IngestCounts, ctx: SummaryContext, rejections: Rejection[], failures: Failure[]) {
  return {
    project: ctx.project,
    total: ctx.total,
    elapsed_ms: Math.round(ctx.elapsedMs),
    stopped_because: ctx.stoppedBecause ?? null,
    counts,
    rejected: rejections.map((r) => ({
      file_name: r.fileName,
      external_id: r.externalId,
      status: r.status,
      title: r.title,
      detail: r.detail,
      segments: r.segments,
      errors: r.errors,
    })),
    failed: failures.map((f) => ({ file_name: f.fileName, external_id: f.externalId, attempts: f.attempts, error: f.error })),
  };
}
