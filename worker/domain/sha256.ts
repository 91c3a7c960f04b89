/**
 * SHA-256 (FIPS 180-4) whose running state can be saved as a string and resumed elsewhere.
 *
 * WebCrypto's digests cannot be paused: an export written over many queue messages would have to
 * read its whole file back to hash it. This one saves its state (eight words, the bytes of the
 * unfinished block, the length so far) in the job's checkpoint and carries on in the next message.
 *
 * Pure: no I/O, runs anywhere. The compression function is generated (sha256-rounds.ts).
 */
import { compressBlocks } from "./sha256-rounds.ts";

const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const STATE_PREFIX = "sha256/1:";

export class Sha256 {
  private readonly h = new Int32Array(INITIAL);
  /** The bytes of the block not yet full. */
  private readonly block = new Uint8Array(64);
  private blockLength = 0;
  /** Bytes hashed so far, the unfinished block included. */
  private total = 0;

  /** Bytes hashed so far. */
  get length(): number {
    return this.total;
  }

  update(data: Uint8Array): this {
    let at = 0;
    const n = data.length;
    this.total += n;
    if (this.blockLength > 0) {
      const take = Math.min(64 - this.blockLength, n);
      this.block.set(data.subarray(0, take), this.blockLength);
      this.blockLength += take;
      at = take;
      if (this.blockLength < 64) return this;
      compressBlocks(this.h, this.block, 0, 64);
      this.blockLength = 0;
    }
    const whole = at + ((n - at) & ~63);
    compressBlocks(this.h, data, at, whole);
    at = whole;
    if (at < n) {
      this.block.set(data.subarray(at), 0);
      this.blockLength = n - at;
    }
    return this;
  }

  /** The digest of everything so far; the state is left as it was, so hashing can go on. */
  digest(): Uint8Array {
    const copy = Sha256.restore(this.save());
    const bits = copy.total * 8;
    const tail = new Uint8Array(((copy.blockLength + 8) >> 6) * 64 + 64 - copy.blockLength);
    tail[0] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(tail.length - 4, bits >>> 0);
    copy.update(tail);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setInt32(4 * i, copy.h[i]);
    return out;
  }

  hex(): string {
    let s = "";
    for (const b of this.digest()) s += b.toString(16).padStart(2, "0");
    return s;
  }

  /** The running state as a short string (under 250 characters), for `restore`. */
  save(): string {
    let words = "";
    for (const x of this.h) words += (x >>> 0).toString(16).padStart(8, "0");
    let pending = "";
    for (let i = 0; i < this.blockLength; i++) pending += this.block[i].toString(16).padStart(2, "0");
    return `${STATE_PREFIX}${this.total}:${words}:${pending}`;
  }

  /** A hash that continues from a state `save` returned; throws on anything else. */
  static restore(state: string): Sha256 {
    const m = /^sha256\/1:(\d{1,16}):([0-9a-f]{64}):((?:[0-9a-f]{2}){0,63})$/.exec(state);
    if (!m) throw new Error("not a saved SHA-256 state");
    const total = Number(m[1]);
    const pendingLength = m[3].length / 2;
    if (!Number.isSafeInteger(total) || total % 64 !== pendingLength) throw new Error("a saved SHA-256 state whose length and pending bytes disagree");
    const s = new Sha256();
    for (let i = 0; i < 8; i++) s.h[i] = parseInt(m[2].slice(8 * i, 8 * i + 8), 16) | 0;
    for (let i = 0; i < pendingLength; i++) s.block[i] = parseInt(m[3].slice(2 * i, 2 * i + 2), 16);
    s.blockLength = pendingLength;
    s.total = total;
    return s;
  }
}
