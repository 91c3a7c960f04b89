/** Content-addressed bytes in R2: the key is the sha256, so a re-upload is a no-op and blobs are shared. */
export function blobKey(sha256: string): string {
  return `sha256/${sha256.slice(0, 2)}/${sha256}`;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

export async function putBlob(bucket: R2Bucket, sha256: string, bytes: Uint8Array, contentType: string): Promise<void> {
  const key = blobKey(sha256);
  // A HEAD first avoids rewriting (and re-billing) bytes that are already there.
  if (await bucket.head(key)) return;
  await bucket.put(key, bytes, { httpMetadata: { contentType }, sha256 });
}

export async function getBlob(bucket: R2Bucket, sha256: string): Promise<R2ObjectBody | null> {
  return bucket.get(blobKey(sha256));
}
