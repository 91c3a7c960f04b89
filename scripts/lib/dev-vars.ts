import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
const DEV_VARS = join(ROOT, ".dev.vars");

/** Local secrets live in .dev.vars (git-ignored), created with fresh random keys on first start. */
export function ensureDevVars(): Record<string, string> {
  if (!existsSync(DEV_VARS)) {
    const lines = [
      "# Local secrets for `wrangler dev`, created by `npm start`. Never commit this file.",
      `JWT_SECRET=${randomBytes(32).toString("hex")}`,
      `URL_SIGNING_SECRET=${randomBytes(32).toString("hex")}`,
      "",
    ];
    writeFileSync(DEV_VARS, lines.join("\n"), { mode: 0o600 });
  }
  return readDevVars();
}

export function readDevVars(): Record<string, string> {
  if (!existsSync(DEV_VARS)) return {};
  const vars: Record<string, string> = {};
  for (const line of readFileSync(DEV_VARS, "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) vars[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return vars;
}

/** The [vars] of wrangler.toml that tokens must match (issuer, audience). */
export function wranglerVar(name: string): string {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const top = toml.split(/^\[env\./m)[0];
  const m = new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, "m").exec(top);
  if (!m) throw new Error(`wrangler.toml has no ${name} var`);
  return m[1];
}
