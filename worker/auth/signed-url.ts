/**
 * Short-lived signed URLs for image bytes, so an <img> tag (which cannot send a bearer header) can
 * load them. The signature covers the path and the expiry; HMAC verification is constant-time.
 */
import { hmacKeyOf } from "./hmac-key.ts";

const encoder = new TextEncoder();

function b64url(bytes: ArrayBuffer): string {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromB64url(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

export async function signPath(secret: string, path: string, expiresAt: number): Promise<string> {
  const sig = await crypto.subtle.sign("HMAC", await hmacKeyOf(secret), encoder.encode(`${path}\n${expiresAt}`));
  return `${path}?expires=${expiresAt}&sig=${b64url(sig)}`;
}

export type SignatureCheck = "valid" | "expired" | "invalid";

/** The one spelling of a signature this server issues: an HMAC-SHA256 in unpadded base64url. */
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;

export async function checkSignature(secret: string, path: string, expires: string, sig: string, now: number): Promise<SignatureCheck> {
  // The same bytes spelt in the standard alphabet or padded are not what was issued: refused, not decoded leniently.
  if (!SIGNATURE.test(sig) || !/^\d{1,12}$/.test(expires)) return "invalid";
  const raw = fromB64url(sig);
  if (!raw) return "invalid";
  const ok = await crypto.subtle.verify("HMAC", await hmacKeyOf(secret), raw, encoder.encode(`${path}\n${expires}`));
  if (!ok) return "invalid";
  return Number(expires) < Math.floor(now / 1000) ? "expired" : "valid";
}
