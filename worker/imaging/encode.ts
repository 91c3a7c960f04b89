/**
 * PNG encoding of rendered RGBA canvases (set-of-marks renders), built for speed on photographs.
 *
 * Pure, dependency-free and deterministic (same pixels → same bytes, in workerd and Node). Why not
 * fast-png: it writes rows unfiltered, byte by byte, and deflates them with fflate's LZ77, which on
 * a 640×427 render takes ~45–60 ms at any level (1–6) for a 632–638 KiB file, because the noise of
 * a photograph leaves LZ77 few matches to find. This encoder does what zlib's Z_RLE strategy was
 * made for, in ~13 ms for a 560 KiB file (scripts/bench-som.ts --encoders):
 *
 * - every row is filtered (Paeth by default, the usual best for photographs), so smooth areas
 *   become small residuals and flat areas (label boxes, contours) runs of zeros;
 * - deflate with run-length matches only (distance 1, lengths 3–258) and a dynamic Huffman code per
 *   64 KiB block, which is where nearly all of the compression of a photograph comes from; the code
 *   is built from a sample of every 4th byte rather than from exact counts (one pass fewer, ~1 %
 *   larger);
 * - a block whose Huffman coding grows past its raw size (noise) is stored instead, so the output
 *   never exceeds the raw scanlines by more than a few bytes per block.
 *
 * The output is a standard PNG (IHDR, one IDAT, IEND; RGB, 8 bits) that any decoder reads; the tests
 * check lossless round trips through fast-png and decodeImage.
 */

/** PNG row filter types (the byte in front of each row). */
export type PngFilter = "none" | "sub" | "up" | "average" | "paeth";
const FILTER_TYPE: Record<PngFilter, number> = { none: 0, sub: 1, up: 2, average: 3, paeth: 4 };

export interface PngEncodeOptions {
  /** Row filter for every row (default "paeth"). */
  filter?: PngFilter;
}

/** RGB 8-bit PNG of an RGBA canvas (alpha dropped). */
export function encodePngRgb(rgba: Uint8Array, width: number, height: number, options: PngEncodeOptions = {}): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`canvas size ${width}×${height} is not a positive integer size`);
  }
  if (rgba.length !== width * height * 4) throw new RangeError(`canvas has ${rgba.length} bytes, expected ${width}×${height}×4`);
  const raw = filterRows(rgba, width, height, FILTER_TYPE[options.filter ?? "paeth"]);

  // Signature, IHDR, then one IDAT written in place (its length and CRC patched in), then IEND.
  // Room for every block stored (5 bytes of header per block) and the chunks around it.
  const bits = new BitWriter(raw.length + 5 * Math.ceil(raw.length / BLOCK_BYTES) + 1024);
  bits.writeBytes(PNG_SIGNATURE, 0, PNG_SIGNATURE.length);
  const ihdr = new Uint8Array(13);
  writeU32(ihdr, 0, width);
  writeU32(ihdr, 4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // depth 8, colour type 2 (RGB), deflate, standard filtering, no interlace
  writeChunk(bits, "IHDR", ihdr);
  const idat = bits.pos;
  bits.reserve(8);
  writeU32(bits.buf, idat, 0); // the length, patched below
  for (let i = 0; i < 4; i++) bits.buf[idat + 4 + i] = "IDAT".charCodeAt(i);
  bits.pos += 8;
  zlibRle(raw, bits);
  const payload = bits.pos - idat - 8;
  writeU32(bits.buf, idat, payload);
  bits.reserve(4 + 12);
  writeU32(bits.buf, bits.pos, crc32(bits.buf, idat + 4, bits.pos));
  bits.pos += 4;
  writeChunk(bits, "IEND", new Uint8Array(0));
  return bits.finish();
}

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

// ---- filtering --------------------------------------------------------------------------------

/**
 * Scanlines of RGB samples, each led by its filter type byte, filtered against the row above (the
 * row above the first is zeros), read straight from the RGBA canvas.
 */
function filterRows(rgba: Uint8Array, w: number, h: number, type: number): Uint8Array {
  const stride = w * 3;
  const rb = w * 4;
  const out = new Uint8Array((stride + 1) * h);
  for (let y = 0; y < h; y++) {
    let o = y * (stride + 1);
    out[o++] = type;
    const row = y * rb;
    const end = row + rb;
    // With no row above, Up is None, Average is half of Sub, Paeth is Sub.
    const t = y === 0 ? (type === 2 ? 0 : type === 3 ? 5 : type === 4 ? 1 : type) : type;
    switch (t) {
      case 0:
        for (let s = row; s < end; s += 4, o += 3) {
          out[o] = rgba[s];
          out[o + 1] = rgba[s + 1];
          out[o + 2] = rgba[s + 2];
        }
        break;
      case 1:
        out[o] = rgba[row];
        out[o + 1] = rgba[row + 1];
        out[o + 2] = rgba[row + 2];
        for (let s = row + 4, d = o + 3; s < end; s += 4, d += 3) {
          out[d] = rgba[s] - rgba[s - 4];
          out[d + 1] = rgba[s + 1] - rgba[s - 3];
          out[d + 2] = rgba[s + 2] - rgba[s - 2];
        }
        break;
      case 2:
        for (let s = row; s < end; s += 4, o += 3) {
          out[o] = rgba[s] - rgba[s - rb];
          out[o + 1] = rgba[s + 1] - rgba[s + 1 - rb];
          out[o + 2] = rgba[s + 2] - rgba[s + 2 - rb];
        }
        break;
      case 3:
        for (let c = 0; c < 3; c++) out[o + c] = rgba[row + c] - (rgba[row + c - rb] >> 1);
        for (let s = row + 4, d = o + 3; s < end; s += 4, d += 3) {
          out[d] = rgba[s] - ((rgba[s - 4] + rgba[s - rb]) >> 1);
          out[d + 1] = rgba[s + 1] - ((rgba[s - 3] + rgba[s + 1 - rb]) >> 1);
          out[d + 2] = rgba[s + 2] - ((rgba[s - 2] + rgba[s + 2 - rb]) >> 1);
        }
        break;
      case 5: // Average on the first row
        out[o] = rgba[row];
        out[o + 1] = rgba[row + 1];
        out[o + 2] = rgba[row + 2];
        for (let s = row + 4, d = o + 3; s < end; s += 4, d += 3) {
          out[d] = rgba[s] - (rgba[s - 4] >> 1);
          out[d + 1] = rgba[s + 1] - (rgba[s - 3] >> 1);
          out[d + 2] = rgba[s + 2] - (rgba[s - 2] >> 1);
        }
        break;
      default:
        for (let c = 0; c < 3; c++) out[o + c] = rgba[row + c] - rgba[row + c - rb]; // a = c = 0: picks b
        for (let s = row + 4, d = o + 3; s < end; s += 4, d += 3) {
          const u = s - rb;
          out[d] = rgba[s] - paeth(rgba[s - 4], rgba[u], rgba[u - 4]);
          out[d + 1] = rgba[s + 1] - paeth(rgba[s - 3], rgba[u + 1], rgba[u - 3]);
          out[d + 2] = rgba[s + 2] - paeth(rgba[s - 2], rgba[u + 2], rgba[u - 2]);
        }
    }
  }
  return out;
}

/**
 * The Paeth predictor, branch-free (on photographs the branches mispredict so often that this is
 * twice as fast): a if |p−a| ≤ |p−b| and |p−a| ≤ |p−c|, else b if |p−b| ≤ |p−c|, else c, where
 * p = a + b − c.
 */
function paeth(a: number, b: number, c: number): number {
  const p = b - c; // p − a
  const q = a - c; // p − b
  const r = p + q; // p − c
  const sp = p >> 31;
  const sq = q >> 31;
  const sr = r >> 31;
  const pa = (p ^ sp) - sp;
  const pb = (q ^ sq) - sq;
  const pc = (r ^ sr) - sr;
  const pickA = ~((pb - pa) | (pc - pa)) >> 31; // −1 when pa ≤ pb and pa ≤ pc
  const pickB = ~(pc - pb) >> 31; // −1 when pb ≤ pc
  return (a & pickA) | (~pickA & ((b & pickB) | (c & ~pickB)));
}

// ---- zlib stream: run-length deflate ----------------------------------------------------------

/**
 * Input bytes per deflate block: big enough to amortise the Huffman header, small enough for the
 * code to adapt to the picture, and at most 65535 so that any block can fall back to stored.
 */
const BLOCK_BYTES = 65535;

/** Length symbol (257..285) and extra bits for each match length 3..258. */
const LENGTH_SYMBOL = new Uint16Array(259);
const LENGTH_EXTRA_BITS = new Uint8Array(259);
const LENGTH_EXTRA_VALUE = new Uint16Array(259);
{
  const base = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
  const extra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
  for (let code = 0; code < base.length; code++) {
    const last = code === base.length - 1 ? 258 : base[code + 1] - 1;
    for (let len = base[code]; len <= last; len++) {
      // 258 has its own symbol (285) even though 227 + 31 would reach it with symbol 284.
      if (len === 258 && code !== base.length - 1) continue;
      LENGTH_SYMBOL[len] = 257 + code;
      LENGTH_EXTRA_BITS[len] = extra[code];
      LENGTH_EXTRA_VALUE[len] = len - base[code];
    }
  }
}
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** zlib-wrapped deflate of `data` (RLE matches at distance 1, dynamic Huffman or stored blocks) into `bits`. */
function zlibRle(data: Uint8Array, bits: BitWriter): void {
  const n = data.length;
  bits.writeByte(0x78); // CMF: deflate, 32 KiB window
  bits.writeByte(0x01); // FLG: fastest, no dictionary; 0x7801 % 31 === 0

  const freq = new Int32Array(286);
  for (let start = 0; start < n; start += BLOCK_BYTES) {
    const end = Math.min(n, start + BLOCK_BYTES);
    sampleFrequencies(data, start, end, freq);
    writeBlock(bits, data, start, end, freq, end === n);
  }
  bits.alignToByte();
  const adler = adler32(data);
  bits.writeByte(adler >>> 24);
  bits.writeByte((adler >>> 16) & 0xff);
  bits.writeByte((adler >>> 8) & 0xff);
  bits.writeByte(adler & 0xff);
}

/** Input bytes between checks of a dynamic block's size against storing it. */
const RUN_CHUNK = 4096;

/** Every SAMPLE_STEP-th byte feeds the symbol statistics of a block. */
const SAMPLE_STEP = 4;

/**
 * Estimated symbol frequencies of data[start, end) from every SAMPLE_STEP-th byte: a sample that
 * repeats the two bytes before it counts towards runs (which become length-258 matches), any other
 * towards its literal. Every symbol also gets one, so that each literal, run length and the end of
 * block has a code whatever the bytes turn out to be. Sampling instead of counting saves a full
 * pass over the data; on photographs the output is ~1 % larger than with exact counts.
 */
function sampleFrequencies(data: Uint8Array, start: number, end: number, freq: Int32Array): void {
  freq.fill(0);
  let inRuns = 0;
  for (let i = start < 2 ? 2 : start; i < end; i += SAMPLE_STEP) {
    const b = data[i];
    if (b === data[i - 1] && b === data[i - 2]) inRuns++;
    else freq[b]++;
  }
  for (let s = 0; s < 256; s++) freq[s] = freq[s] * SAMPLE_STEP + 1;
  for (let s = 256; s < 286; s++) freq[s] = 1;
  freq[LENGTH_SYMBOL[258]] += Math.ceil((inRuns * SAMPLE_STEP) / 258);
}

function writeBlock(bits: BitWriter, data: Uint8Array, start: number, end: number, litFreq: Int32Array, final: boolean): void {
  const litLengths = huffmanLengths(litFreq, 15);
  // Distance 1 is code 0; a second code keeps the distance code complete (zlib refuses otherwise).
  const distLengths = Uint8Array.of(1, 1);
  let hlit = 286;
  while (hlit > 257 && litLengths[hlit - 1] === 0) hlit--;

  // The two code-length arrays, run-length coded with symbols 16 (repeat), 17 and 18 (zeros).
  const all = new Uint8Array(hlit + 2);
  all.set(litLengths.subarray(0, hlit));
  all.set(distLengths, hlit);
  const clSymbols: number[] = [];
  const clExtra: number[] = [];
  for (let i = 0; i < all.length; ) {
    const len = all[i];
    let run = 1;
    while (i + run < all.length && all[i + run] === len) run++;
    i += run;
    if (len === 0) {
      while (run >= 11) {
        const r = Math.min(run, 138);
        clSymbols.push(18);
        clExtra.push(r - 11);
        run -= r;
      }
      if (run >= 3) {
        clSymbols.push(17);
        clExtra.push(run - 3);
        run = 0;
      }
    } else {
      clSymbols.push(len);
      clExtra.push(0);
      run--;
      while (run >= 3) {
        const r = Math.min(run, 6);
        clSymbols.push(16);
        clExtra.push(r - 3);
        run -= r;
      }
    }
    for (; run > 0; run--) {
      clSymbols.push(len);
      clExtra.push(0);
    }
  }
  const clFreq = new Int32Array(19);
  for (const s of clSymbols) clFreq[s]++;
  const clLengths = huffmanLengths(clFreq, 7);
  let hclen = 19;
  while (hclen > 4 && clLengths[CODE_LENGTH_ORDER[hclen - 1]] === 0) hclen--;

  // The dynamic block is written first; as soon as it grows past the stored size (noise), it is
  // taken back and the block stored instead.
  const storedBytes = 5 + (end - start) + 1; // header bits and alignment, LEN, NLEN, the bytes
  const mark = bits.snapshot();
  const limit = mark.pos + storedBytes;
  // Past the limit by at most one chunk of ≤ 15 bits per byte, plus the header (≤ ~300 bytes).
  bits.reserve(storedBytes + 2 * RUN_CHUNK + 1024);
  const litCodes = canonicalCodes(litLengths);
  const clCodes = canonicalCodes(clLengths);
  bits.writeBits((final ? 1 : 0) | (2 << 1), 3); // BFINAL, BTYPE 10 (dynamic)
  bits.writeBits(hlit - 257, 5);
  bits.writeBits(distLengths.length - 1, 5);
  bits.writeBits(hclen - 4, 4);
  for (let k = 0; k < hclen; k++) bits.writeBits(clLengths[CODE_LENGTH_ORDER[k]], 3);
  for (let k = 0; k < clSymbols.length; k++) {
    const s = clSymbols[k];
    bits.writeBits(clCodes[s], clLengths[s]);
    if (s === 16) bits.writeBits(clExtra[k], 2);
    else if (s === 17) bits.writeBits(clExtra[k], 3);
    else if (s === 18) bits.writeBits(clExtra[k], 7);
  }
  // What follows a match's length code: its extra bits, then the distance code.
  const extraCode = new Int32Array(259);
  const extraBits = new Uint8Array(259);
  const distCode = canonicalCodes(distLengths)[0];
  for (let len = 3; len <= 258; len++) {
    extraCode[len] = LENGTH_EXTRA_VALUE[len] | (distCode << LENGTH_EXTRA_BITS[len]);
    extraBits[len] = LENGTH_EXTRA_BITS[len] + distLengths[0];
  }
  if (bits.pos < limit && writeRuns(bits, data, start, end, litCodes, litLengths, extraCode, extraBits, limit)) {
    bits.writeBits(litCodes[256], litLengths[256]);
    if (bits.bytesSince(mark) < storedBytes) return;
  }

  bits.restore(mark);
  bits.writeBits(final ? 1 : 0, 3); // BFINAL, BTYPE 00
  bits.alignToByte();
  const len = end - start;
  bits.writeByte(len & 0xff);
  bits.writeByte(len >>> 8);
  bits.writeByte(~len & 0xff);
  bits.writeByte((~len >>> 8) & 0xff);
  bits.writeBytes(data, start, end);
}

/**
 * The hot loop of writeBlock: data[start, end) as literals and distance-1 matches (runs of ≥ 3
 * copies of the previous byte, which may lie in the previous block: one window), in its own
 * function so that the JIT optimises it once and keeps it. A literal is one code of ≤ 15 bits; a
 * match is its length code (≤ 15 bits) then its extra bits and distance code (≤ 6 bits). Two bytes
 * are flushed once 16 bits are pending, so the accumulator never holds more than 15 + 15 bits.
 * Returns false, with the writer left in no useful state, once the output passes `limit` (checked
 * every RUN_CHUNK input bytes), for the caller to restore its snapshot.
 */
function writeRuns(
  bits: BitWriter,
  data: Uint8Array,
  start: number,
  end: number,
  litCodes: Uint16Array,
  litLengths: Uint8Array,
  extraCode: Int32Array,
  extraBits: Uint8Array,
  limit: number,
): boolean {
  const buf = bits.buf;
  let pos = bits.pos;
  let acc = bits.acc;
  let n = bits.count;
  let prev = start > 0 ? data[start - 1] : -1;
  let i = start;
  while (i < end) {
    // Chunk by chunk, giving up once the output passes `limit`.
    const chunkEnd = end - i < RUN_CHUNK ? end : i + RUN_CHUNK;
    while (i < chunkEnd) {
      const b = data[i];
      if (b === prev && i + 2 < end && data[i + 1] === b && data[i + 2] === b) {
        let run = 3;
        const max = end - i < 258 ? end - i : 258;
        while (run < max && data[i + run] === b) run++;
        const sym = LENGTH_SYMBOL[run];
        acc |= litCodes[sym] << n;
        n += litLengths[sym];
        if (n >= 16) {
          buf[pos++] = acc;
          buf[pos++] = acc >>> 8;
          acc >>>= 16;
          n -= 16;
        }
        acc |= extraCode[run] << n;
        n += extraBits[run];
        i += run;
      } else {
        acc |= litCodes[b] << n;
        n += litLengths[b];
        prev = b;
        i++;
      }
      if (n >= 16) {
        buf[pos++] = acc;
        buf[pos++] = acc >>> 8;
        acc >>>= 16;
        n -= 16;
      }
    }
    if (pos > limit) {
      bits.pos = pos;
      return false;
    }
  }
  while (n >= 8) {
    buf[pos++] = acc;
    acc >>>= 8;
    n -= 8;
  }
  bits.pos = pos;
  bits.acc = acc;
  bits.count = n;
  return true;
}

/**
 * Huffman code lengths for `freq`, limited to `maxBits`. At least two symbols always get a code
 * (a one-symbol code is incomplete, which zlib refuses for code-length codes). Deterministic: ties
 * are broken by symbol order.
 */
function huffmanLengths(freq: Int32Array, maxBits: number): Uint8Array {
  const n = freq.length;
  const lengths = new Uint8Array(n);
  const used: number[] = [];
  for (let s = 0; s < n; s++) if (freq[s] > 0) used.push(s);
  for (let s = 0; used.length < 2; s++) if (freq[s] === 0) used.push(s);
  used.sort((a, b) => freq[a] - freq[b] || a - b);
  const m = used.length;

  // Two-queue Huffman: leaves in ascending weight, internal nodes are created in ascending weight.
  const weight = new Float64Array(2 * m);
  const parent = new Int32Array(2 * m).fill(-1);
  for (let k = 0; k < m; k++) weight[k] = Math.max(1, freq[used[k]]);
  let leaf = 0;
  let node = m;
  let next = m;
  const take = () => (leaf < m && (node >= next || weight[leaf] <= weight[node]) ? leaf++ : node++);
  while (next < 2 * m - 1) {
    const a = take();
    const b = take();
    weight[next] = weight[a] + weight[b];
    parent[a] = parent[b] = next;
    next++;
  }
  // Depth of each leaf; internal nodes were created after their children, so walk downwards.
  const depth = new Int32Array(2 * m);
  for (let k = 2 * m - 3; k >= 0; k--) depth[k] = depth[parent[k]] + 1;

  // Enforce the limit (miniz's method): clamp, then repay the Kraft excess by lengthening codes.
  const count = new Int32Array(Math.max(maxBits, 32) + 1);
  for (let k = 0; k < m; k++) count[Math.min(depth[k], maxBits)]++;
  let total = 0;
  for (let b = maxBits; b >= 1; b--) total += count[b] << (maxBits - b);
  while (total > 1 << maxBits) {
    count[maxBits]--;
    for (let b = maxBits - 1; b >= 1; b--) {
      if (count[b] > 0) {
        count[b]--;
        count[b + 1] += 2;
        break;
      }
    }
    total--;
  }
  // Hand lengths out again: the rarest symbols (start of `used`) get the longest codes.
  let k = 0;
  for (let b = maxBits; b >= 1; b--) {
    for (let c = count[b]; c > 0; c--) lengths[used[k++]] = b;
  }
  return lengths;
}

/** Canonical Huffman codes (RFC 1951 §3.2.2), bit-reversed for LSB-first output. */
function canonicalCodes(lengths: Uint8Array): Uint16Array {
  const blCount = new Uint16Array(16);
  for (const l of lengths) if (l) blCount[l]++;
  const nextCode = new Uint16Array(16);
  let code = 0;
  for (let b = 1; b < 16; b++) {
    code = (code + blCount[b - 1]) << 1;
    nextCode[b] = code;
  }
  const codes = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) {
    const l = lengths[s];
    if (l === 0) continue;
    let c = nextCode[l]++;
    let r = 0;
    for (let b = 0; b < l; b++) {
      r = (r << 1) | (c & 1);
      c >>= 1;
    }
    codes[s] = r;
  }
  return codes;
}

class BitWriter {
  buf: Uint8Array;
  pos = 0;
  /** Pending bits, least significant first; fewer than 8 between calls. */
  acc = 0;
  count = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  /** Appends the low `n` (≤ 24) bits of `value`, least significant first. */
  writeBits(value: number, n: number): void {
    this.acc |= value << this.count;
    this.count += n;
    while (this.count >= 8) {
      this.buf[this.pos++] = this.acc & 0xff;
      this.acc >>>= 8;
      this.count -= 8;
    }
  }

  alignToByte(): void {
    if (this.count > 0) this.writeBits(0, 8 - this.count);
  }

  /** Byte-aligned writes only. */
  writeByte(b: number): void {
    if (this.pos >= this.buf.length) this.reserve(1);
    this.buf[this.pos++] = b;
  }

  writeBytes(src: Uint8Array, from: number, to: number): void {
    this.reserve(to - from);
    this.buf.set(src.subarray(from, to), this.pos);
    this.pos += to - from;
  }

  /** Makes room for `bytes` more bytes. */
  reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + bytes));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  snapshot(): { pos: number; acc: number; count: number } {
    return { pos: this.pos, acc: this.acc, count: this.count };
  }

  /** Whole bytes written since the snapshot, counting pending bits as a byte. */
  bytesSince(mark: { pos: number; count: number }): number {
    return this.pos - mark.pos + (this.count > 0 ? 1 : 0);
  }

  restore(mark: { pos: number; acc: number; count: number }): void {
    this.pos = mark.pos;
    this.acc = mark.acc;
    this.count = mark.count;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

// ---- checksums and chunks ---------------------------------------------------------------------

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  const n = data.length;
  for (let i = 0; i < n; ) {
    const end = Math.min(n, i + 5552); // largest run that cannot overflow before the modulo
    for (; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

function crc32(data: Uint8Array, from: number, to: number): number {
  let c = -1;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** A whole chunk (length, type, payload, CRC) at the writer's byte-aligned position. */
function writeChunk(bits: BitWriter, type: string, payload: Uint8Array): void {
  bits.reserve(12 + payload.length);
  const o = bits.pos;
  writeU32(bits.buf, o, payload.length);
  for (let i = 0; i < 4; i++) bits.buf[o + 4 + i] = type.charCodeAt(i);
  bits.buf.set(payload, o + 8);
  writeU32(bits.buf, o + 8 + payload.length, crc32(bits.buf, o + 4, o + 8 + payload.length));
  bits.pos = o + 12 + payload.length;
}

function writeU32(out: Uint8Array, o: number, v: number): void {
  out[o] = v >>> 24;
  out[o + 1] = (v >>> 16) & 0xff;
  out[o + 2] = (v >>> 8) & 0xff;
  out[o + 3] = v & 0xff;
}
