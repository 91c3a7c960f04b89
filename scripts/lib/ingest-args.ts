/**
 * Command-line options of scripts/ingest-coco.ts. Validation is pure (file-system checks come in
 * through `exists`) so every usage error can be tested without touching a disk or a server.
 */
import { parseArgs } from "node:util";
import { dirname } from "node:path";

export const USAGE = `usage: node scripts/ingest-coco.ts --images DIR --panoptic DIR --json FILE --api URL --project ID [options]

Uploads every annotation of a COCO-panoptic JSON (image + panoptic PNG + segments_info) to a
Groundwork project. Images whose external_id (the COCO image id) is already in the project are
skipped, so an interrupted run can simply be started again.

required:
  --images DIR        folder with the images (e.g. val2017/)
  --panoptic DIR      folder with the panoptic PNGs (e.g. panoptic_val2017/)
  --json FILE         the panoptic JSON (images, annotations[].{image_id, file_name, segments_info})
  --api URL           the API base URL, e.g. http://127.0.0.1:8787
  --project ID        the project to ingest into
  --token JWT         a lead or admin bearer token (default: $GROUNDWORK_TOKEN)

options:
  --concurrency N     parallel uploads, 1 to 32 (default 4)
  --limit N           only the first N annotations of the JSON
  --report FILE       also write the summary and every rejection as JSON
  --help              show this help

exit codes:
  0    every image was ingested, already present or skipped
  1    some images were rejected (4xx, missing files) or failed (5xx/network after 3 retries)
  2    the run could not be carried out: bad arguments, unreadable JSON, API unreachable,
       or the API refused the token or project (401/403/404)
  130  interrupted (Ctrl-C); run the same command again to resume`;

export const DEFAULT_CONCURRENCY = 4;
export const MAX_CONCURRENCY = 32;
/** The same rule as the API's ProjectIdParam: catching a typo here beats a 400 per image. */
const PROJECT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export interface IngestOptions {
  images: string;
  panoptic: string;
  json: string;
  /** Without a trailing slash, so paths can be appended. */
  api: string;
  token: string;
  project: string;
  concurrency: number;
  limit: number | null;
  report: string | null;
}

export type ParsedArgs = { kind: "help" } | { kind: "error"; message: string } | { kind: "ok"; options: IngestOptions };

export type PathKind = "file" | "dir" | null;

/**
 * `exists(path)` says whether a path is a file, a directory, or absent. Errors are collected so one
 * run shows everything that is wrong with the command line, not just the first mistake.
 */
export function parseIngestArgs(
  argv: string[],
  env: Record<string, string | undefined>,
  exists: (path: string) => PathKind,
): ParsedArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        images: { type: "string" },
        panoptic: { type: "string" },
        json: { type: "string" },
        api: { type: "string" },
        token: { type: "string" },
        project: { type: "string" },
        concurrency: { type: "string" },
        limit: { type: "string" },
        report: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    return { kind: "error", message: (err as Error).message };
  }
  if (values.help) return { kind: "help" };

  const errors: string[] = [];
  const required = (name: "images" | "panoptic" | "json" | "api" | "project"): string => {
    const v = values[name];
    if (v === undefined || v === "") errors.push(`--${name} is required`);
    return v ?? "";
  };
  const images = required("images");
  const panoptic = required("panoptic");
  const json = required("json");
  const apiRaw = required("api");
  const project = required("project");

  const expectKind = (flag: string, path: string, kind: "file" | "dir") => {
    if (!path) return;
    const found = exists(path);
    if (found === null) errors.push(`--${flag} ${path}: no such ${kind === "dir" ? "directory" : "file"}`);
    else if (found !== kind) errors.push(`--${flag} ${path}: is a ${found === "dir" ? "directory" : "file"}, expected a ${kind === "dir" ? "directory" : "file"}`);
  };
  expectKind("images", images, "dir");
  expectKind("panoptic", panoptic, "dir");
  expectKind("json", json, "file");

  let api = "";
  if (apiRaw) {
    const url = URL.canParse(apiRaw) ? new URL(apiRaw) : null;
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) errors.push(`--api ${apiRaw}: not an http(s) URL`);
    else api = url.href.replace(/\/+$/, "");
  }

  if (project && !PROJECT_ID.test(project)) {
    errors.push(`--project ${project}: a project id is 1–64 lowercase letters, digits, - or _`);
  }

  const token = values.token || env.GROUNDWORK_TOKEN || "";
  if (!token) errors.push("--token is required (or set GROUNDWORK_TOKEN)");

  const concurrency = values.concurrency === undefined ? DEFAULT_CONCURRENCY : intIn(values.concurrency, 1, MAX_CONCURRENCY);
  if (concurrency === null) errors.push(`--concurrency ${values.concurrency}: must be an integer from 1 to ${MAX_CONCURRENCY}`);

  const limit = values.limit === undefined ? null : intIn(values.limit, 1, Number.MAX_SAFE_INTEGER);
  if (values.limit !== undefined && limit === null) errors.push(`--limit ${values.limit}: must be a positive integer`);

  const report = values.report ?? null;
  if (report !== null) {
    if (report === "") errors.push("--report needs a file name");
    else if (exists(report) === "dir") errors.push(`--report ${report}: is a directory`);
    else if (exists(dirname(report)) !== "dir") errors.push(`--report ${report}: the directory ${dirname(report)} does not exist`);
  }

  if (errors.length > 0) return { kind: "error", message: errors.join("\n") };
  return {
    kind: "ok",
    options: { images, panoptic, json, api, token, project, concurrency: concurrency!, limit, report },
  };
}

function intIn(text: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(text.trim())) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : null;
}
