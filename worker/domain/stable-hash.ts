/**
 * A stable, well-spread 32-bit hash of a string, for choices that must come out the same on every
 * replay: FNV-1a over the UTF-8 bytes, then murmur3's finaliser (FNV alone barely moves the high
 * bits for keys that differ in their last character, and those are the bits a share is compared on).
 */
export function stableHash(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(key)) h = Math.imul(h ^ byte, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The hash as a number in [0, 1). */
export const unitHash = (key: string) => stableHash(key) / 4294967296;
