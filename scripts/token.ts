/**
 * Mints a self-issued (HS256) token for local development or a service account.
 *   node scripts/token.ts --role lead --project demo [--sub alice] [--ttl 3600]
 * The secret comes from JWT_SECRET in the environment or .dev.vars.
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { mintToken } from "../worker/auth/token.ts";
import { ROLES, type Role } from "../worker/env.ts";
import { readDevVars, wranglerVar } from "./lib/dev-vars.ts";

export async function devToken(role: Role, projects: string[], subject: string, ttlSeconds = 7 * 24 * 3600): Promise<string> {
  const secret = process.env.JWT_SECRET ?? readDevVars().JWT_SECRET;
  if (!secret) throw new Error("no JWT_SECRET in the environment or .dev.vars (run `npm start` once to create it)");
  return mintToken({
    secret,
    subject,
    role,
    projects,
    issuer: process.env.JWT_ISSUER ?? wranglerVar("JWT_ISSUER"),
    audience: process.env.JWT_AUDIENCE ?? wranglerVar("JWT_AUDIENCE"),
    ttlSeconds,
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      role: { type: "string", default: "lead" },
      project: { type: "string", multiple: true, default: [] },
      sub: { type: "string" },
      ttl: { type: "string", default: String(7 * 24 * 3600) },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log("usage: node scripts/token.ts --role <admin|lead|annotator|reviewer|voter> [--project ID ...] [--sub NAME] [--ttl SECONDS]");
    return;
  }
  const role = values.role as Role;
  if (!ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(", ")}`);
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error("--ttl must be a positive number of seconds");
  console.log(await devToken(role, values.project, values.sub ?? `${role}-dev`, ttl));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`token: ${(err as Error).message}`);
    process.exit(2);
  });
}
