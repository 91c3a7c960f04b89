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

/** Opaque page cursors: the last id of a page, base64url-encoded. */
export function encodeCursor(lastId: string): string {
  return btoa(lastId).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string): string | null {
  try {
    const text = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    return /^[a-z0-9_-]{1,100}$/.test(text) ? text : null;
  } catch {
    return null;
  }
}
