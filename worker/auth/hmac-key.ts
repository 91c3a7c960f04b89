/** HMAC-SHA-256 keys imported once per isolate and secret: tokens and signed URLs use one on most requests. */
const imported = new Map<string, Promise<CryptoKey>>();

export function hmacKeyOf(secret: string): Promise<CryptoKey> {
  let key = imported.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    imported.set(secret, key);
  }
  return key;
}
