/**
 * The files of the docs page (/docs), copied from the swagger-ui-dist package into the Worker's
 * static assets folder ([assets] in wrangler.toml), so the page loads nothing from another origin
 * and works offline. The folder is generated, not committed: wrangler refuses to start without
 * it, so everything that starts wrangler (scripts/lib/wrangler.ts, the dev and deploy scripts,
 * vitest.config.ts) runs this first. Idempotent; a changed file is replaced by a rename, so a
 * `wrangler dev` already watching the folder never reads half a file.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = join(import.meta.dirname, "..");

/** `directory` of [assets] in wrangler.toml. */
export const ASSETS_DIR = join(ROOT, "dist", "assets");

/** Where the Swagger UI files are served from; worker/routes/docs.ts links to them here. */
const TARGET = join(ASSETS_DIR, "docs", "swagger-ui");

// The bundle carries the UI and the preset the page uses; the licences travel with it (Apache-2.0).
const FILES = ["swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE"];

export function writeDocsAssets(): { written: string[] } {
  let source: string;
  try {
    source = dirname(createRequire(join(ROOT, "package.json")).resolve("swagger-ui-dist/package.json"));
  } catch {
    throw new Error("swagger-ui-dist is not installed (it is a dependency in package.json): run `npm ci`");
  }
  mkdirSync(TARGET, { recursive: true });
  const written: string[] = [];
  for (const name of FILES) {
    const bytes = readFileSync(join(source, name));
    const dest = join(TARGET, name);
    if (existsSync(dest) && readFileSync(dest).equals(bytes)) continue;
    // Outside the served folder, so that a temporary file is never served nor deployed.
    const temp = join(ROOT, "dist", `.${name}.${process.pid}.tmp`);
    writeFileSync(temp, bytes);
    renameSync(temp, dest);
    written.push(name);
  }
  return { written };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { written } = writeDocsAssets();
  if (written.length) console.log(`docs assets: wrote ${written.join(", ")} to ${TARGET}`);
}
