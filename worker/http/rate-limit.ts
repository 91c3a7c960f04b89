import type { Context } from "hono";
import { RateLimits, type RateLimitSettings, type RateTier } from "../../schema/project-settings.ts";
import { fail } from "../domain/errors.ts";
import type { AppEnv, Env, RateLimiter } from "../env.ts";

/** What a project limits: its members' writes, its studies' votes, and joins through its invite links. */
export type RateScope = keyof RateLimitSettings;

const BINDING: Record<RateTier, keyof Env> = { strict: "RATE_LIMIT_STRICT", standard: "RATE_LIMIT_STANDARD", generous: "RATE_LIMIT_GENEROUS" };
/** Every tier's window (wrangler.toml declares each with `period = 10`): what Retry-After says. */
const PERIOD_SECONDS = 10;
/** Settings stored before rate limits existed have none: they get the defaults. */
const DEFAULTS = RateLimits.parse({});

/**
 * Counts one request of `subject` against the project's tier for `scope` and refuses it with 429
 * when over. Called before anything is written, so a refused write stores nothing. Fails open: a
 * deployment without the binding, or a limiter that errs, never turns work away; the limit guards
 * against floods, and losing an annotator's submission to it would be worse than the flood.
 */
export async function limitRate(
  c: Context<AppEnv>,
  scope: RateScope,
  project: { id: string; settings: { rateLimits?: Partial<RateLimitSettings> } },
  subject: string,
): Promise<void> {
  const tier = project.settings.rateLimits?.[scope] ?? DEFAULTS[scope];
  if (tier === "off") return;
  const limiter = c.env[BINDING[tier]] as RateLimiter | undefined;
  if (!limiter) return;
  let outcome: { success: boolean };
  try {
    outcome = await limiter.limit({ key: `${scope}:${project.id}:${subject}` });
  } catch {
    return;
  }
  if (!outcome.success) {
    throw fail.rateLimited(`over project ${project.id}'s ${scope} limit (${tier}); retry after ${PERIOD_SECONDS} seconds`, PERIOD_SECONDS, { scope, tier });
  }
}

/** The client's address as Cloudflare reports it (wrangler dev sets it too); "unknown" keeps one shared bucket otherwise. */
export function clientAddress(c: Context<AppEnv>): string {
  return c.req.header("cf-connecting-ip") ?? "unknown";
}
