/**
 * The Worker's static assets ([assets] in wrangler.toml), copied from npm packages so the pages
 * that use them load nothing from another origin and work offline: the docs page's Swagger UI
 * (swagger-ui-dist, for /docs) and the dashboard's charts (chart.js, for
 * /projects/{id}/dashboard). The folder is generated, not committed: wrangler refuses to start
 * without it, so everything that starts wrangler (scripts/lib/wrangler.ts, the dev and deploy
 * scripts, vitest.config.ts) runs this first. Idempotent; a changed file is replaced by a rename,
 * so a `wrangler dev` already watching the folder never reads half a file.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join, relative } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = join(import.meta.dirname, "..");

/** `directory` of [assets] in wrangler.toml. */
export const ASSETS_DIR = join(ROOT, "dist", "assets");

interface Bundle {
  /** The npm package (a dependency in package.json) the files come from. */
  pkg: string;
  /** Where its files are served from, under ASSETS_DIR; the page that uses them links to them here. */
  target: string;
  /** Paths inside the package; each is written to `target` under its base name. */
  files: string[];
}

export const BUNDLES: readonly Bundle[] = [
  // worker/routes/docs.ts. The bundle carries the UI and the preset the page uses; the licences travel with it (Apache-2.0).
  {
    pkg: "swagger-ui-dist",
    target: join(ASSETS_DIR, "docs", "swagger-ui"),
    files: ["swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE"],
  },
  // worker/routes/dashboard.ts. The UMD build is self-contained (its one dependency, @kurkle/color, is bundled in); MIT.
  { pkg: "chart.js", target: join(ASSETS_DIR, "dashboard", "chart.js"), files: ["dist/chart.umd.js", "LICENSE.md"] },
];

/** The installed package's folder (found without resolving `pkg/package.json`, which a package's `exports` may refuse). */
function packageDir(pkg: string): string {
  const paths = createRequire(join(ROOT, "package.json")).resolve.paths(pkg) ?? [];
  const dir = paths.map((p) => join(p, pkg)).find((d) => existsSync(join(d, "package.json")));
  if (!dir) throw new Error(`${pkg} is not installed (it is a dependency in package.json): run \`npm ci\``);
  return dir;
}

export function writeDocsAssets(): { written: string[] } {
  const written: string[] = [];
  for (const bundle of BUNDLES) {
    const source = packageDir(bundle.pkg);
    mkdirSync(bundle.target, { recursive: true });
    for (const file of bundle.files) {
      const bytes = readFileSync(join(source, file));
      const name = basename(file);
      const dest = join(bundle.target, name);
      if (existsSync(dest) && readFileSync(dest).equals(bytes)) continue;
      // Outside the served folder, so that a temporary file is never served nor deployed.
      const temp = join(ROOT, "dist", `.${bundle.pkg}.${name}.${process.pid}.tmp`);
      writeFileSync(temp, bytes);
      renameSync(temp, dest);
      written.push(relative(ASSETS_DIR, dest));
    }
  }
  return { written };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { written } = writeDocsAssets();
  if (written.length) console.log(`static assets: wrote ${written.join(", ")} to ${ASSETS_DIR}`);
}
