import { canonicalJson } from "../domain/cache-key.ts";
import type { Env } from "../env.ts";
import { hmacKeyOf } from "./hmac-key.ts";

/**
 * The lease token of a keyed claim: a retry with the same Idempotency-Key must find the lease its
 * first attempt took, so the token is derived from the key, but with a server secret (HMAC), so
 * nobody who guesses or learns a key can compute the token. Unkeyed claims get a random token.
 */
export async function keyedLeaseToken(secret: string, claim: { key: string; subject: string; projectId: string; round: number; kind: string }): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKeyOf(secret), new TextEncoder().encode(canonicalJson({ lease: claim }))));
  let hex = "";
  for (const b of mac) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** The server secret lease tokens are derived with. */
export function leaseSecret(env: Env): string {
  const secret = env.LEASE_SECRET ?? env.URL_SIGNING_SECRET ?? env.JWT_SECRET;
  if (!secret) throw new Error("LEASE_SECRET (or URL_SIGNING_SECRET or JWT_SECRET) must be configured to derive lease tokens");
  return secret;
}
