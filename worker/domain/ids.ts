/**
 * Time-ordered ids (ULID layout, lowercase Crockford base32): sorting by id sorts by creation, so
 * cursor pagination is one indexed range scan.
 */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

export function ulid(now: number = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const random = crypto.getRandomValues(new Uint8Array(16));
  let rest = "";
  for (let i = 0; i < 16; i++) rest += ALPHABET[random[i] % 32];
  return time + rest;
}

export const newImageId = () => `img_${ulid()}`;
export const newProjectId = () => `prj_${ulid()}`;

/**
 * Opaque page cursors: the last key of a page, its UTF-8 in base64url without padding. Decoding is
 * total over the cursor pattern the API documents (`^[A-Za-z0-9_-]+$`): keys are compared as
 * strings, so every such cursor names a position and a schema-valid request is never refused; one
 * the API did not issue just starts the page wherever it falls.
 */
export function encodeCursor(lastKey: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(lastKey)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string): string {
  let b64 = cursor.replace(/[^A-Za-z0-9_-]/g, "").replace(/-/g, "+").replace(/_/g, "/");
  // A length of 4n+1 cannot be base64: its last character carries no whole byte.
  if (b64.length % 4 === 1) b64 = b64.slice(0, -1);
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0)));
}

/** A cursor over integer positions: a decoded key that is not one starts from the beginning. */
export function decodePositionCursor(cursor: string): number {
  const key = decodeCursor(cursor);
  return /^\d{1,15}$/.test(key) ? Number(key) : -1;
}
