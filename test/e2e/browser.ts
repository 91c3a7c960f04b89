/**
 * Debian's headless Chromium through playwright-core, for the end-to-end tests that look at a page
 * the way a person would. Every request the page makes is recorded; only loopback may be reached,
 * anything else is aborted and listed, so a test can assert that the page tried no other origin.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser cannot run here, or null when it can. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium; .ci/run does this in CI)`;
}

export interface IsolatedBrowser {
  page: Page;
  /** Every URL the page requested, in order. */
  requested: string[];
  /** The URLs that were not on loopback, each aborted before it left the machine. */
  blocked: string[];
  /** Uncaught page errors and console errors (a refused script or policy violation shows here). */
  errors: string[];
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export async function openIsolatedBrowser(): Promise<IsolatedBrowser> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  // A fresh profile each time: nothing cached or remembered from an earlier run.
  const profile = mkdtempSync(join(tmpdir(), "groundwork-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
      timeout: 60_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const requested: string[] = [];
  const blocked: string[] = [];
  const errors: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    requested.push(url);
    if (LOOPBACK.has(new URL(url).hostname)) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  return {
    page,
    requested,
    blocked,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
