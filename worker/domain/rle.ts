/**
 * COCO run-length encoding of segment masks, bit for bit as pycocotools writes it.
 *
 * Order: a mask of `height × width` pixels is read in COLUMN-MAJOR (Fortran) order, top to bottom
 * within a column, columns left to right: pixel (x, y) is number `x·height + y`. `counts` are the
 * lengths of the alternating runs of 0s and 1s, always starting with a run of 0s (of length 0 when
 * the first pixel is set); consecutive columns join, so a run can wrap from the bottom of one column
 * to the top of the next. The last run is whatever the mask ends with; the counts add up to
 * `height·width`. An all-zero mask is `[height·width]`, an all-one mask `[0, height·width]`.
 * `size` is `[height, width]` (rows first, as numpy shapes are).
 *
 * Compressed counts (the `counts` string of a COCO RLE): pycocotools' `rleToString` in maskApi.c.
 * Each count `x` (from the fourth on, `x - counts[i-2]` instead, which is small and may be
 * negative) is written as 5-bit two's-complement chunks, least significant first; each chunk is a
 * character `48 + chunk`, plus 32 when another chunk follows. Writing stops once the rest is 0 (or
 * −1 for a negative value) and the sign bit (16) of the last chunk agrees with it. So 3 → "3",
 * −1 → "O" (48 + 31), 16 → "`0" (48 + 16 + 32, then 48 + 0), 20 → "d0".
 *
 * Pure: no I/O, runs anywhere.
 */

/** A COCO RLE with compressed counts, as in COCO JSON (`segmentation` of an `iscrowd` annotation). */
export interface CocoRle {
  /** `[height, width]`. */
  size: [number, number];
  counts: string;
}

/** A COCO RLE with the run lengths as numbers ("uncompressed RLE"). */
export interface UncompressedRle {
  size: [number, number];
  counts: number[];
}

/** What the encoders read: a row-major id map (see `PanopticMap` in imaging/panoptic.ts). */
export interface SegmentIdMap {
  width: number;
  height: number;
  /** Row-major segment ids, `width·height` of them. */
  ids: ArrayLike<number>;
}

const MAX_COUNT = 0xffffffff; // pycocotools keeps counts in a C `uint`

function checkMap(map: SegmentIdMap): void {
  const { width, height, ids } = map;
  if (!Number.isSafeInteger(width) || width < 0 || !Number.isSafeInteger(height) || height < 0) {
    throw new RangeError(`map size ${width}×${height} is not a pair of non-negative integers`);
  }
  if (ids.length !== width * height) throw new RangeError(`ids has ${ids.length} entries, expected ${width}×${height}`);
  if (width * height > MAX_COUNT) throw new RangeError(`a ${width}×${height} mask does not fit COCO RLE counts`);
}

/**
 * Uncompressed run lengths of every listed segment's mask (id === segmentId), in ONE column-major
 * pass over the map: each run of equal ids is looked up once, so the cost is the pixels plus the
 * runs, however many segments are asked for. A segment absent from the map gets `[height·width]`.
 */
export function encodeRleCountsForAll(map: SegmentIdMap, segmentIds: Iterable<number>): Map<number, number[]> {
  checkMap(map);
  const { width, height, ids } = map;
  const n = width * height;
  interface State {
    counts: number[];
    /** Column-major index just past the mask's last run of ones so far. */
    end: number;
  }
  const states = new Map<number, State>();
  for (const id of segmentIds) if (!states.has(id)) states.set(id, { counts: [], end: 0 });

  const close = (id: number, start: number, stop: number) => {
    const s = states.get(id);
    if (s === undefined) return;
    s.counts.push(start - s.end, stop - start);
    s.end = stop;
  };

  if (n > 0) {
    let runId = ids[0];
    let runStart = 0;
    let i = 0;
    for (let x = 0; x < width; x++) {
      for (let p = x; p < n; p += width, i++) {
        const id = ids[p];
        if (id !== runId) {
          close(runId, runStart, i);
          runId = id;
          runStart = i;
        }
      }
    }
    close(runId, runStart, n);
  }

  const out = new Map<number, number[]>();
  for (const [id, s] of states) {
    if (s.end < n || s.counts.length === 0) s.counts.push(n - s.end);
    out.set(id, s.counts);
  }
  return out;
}

/** The COCO RLE (compressed counts) of every listed segment, from one pass over the map. */
export function encodeRleForAll(map: SegmentIdMap, segmentIds: Iterable<number>): Map<number, CocoRle> {
  const out = new Map<number, CocoRle>();
  for (const [id, counts] of encodeRleCountsForAll(map, segmentIds)) {
    out.set(id, { size: [map.height, map.width], counts: rleToString(counts) });
  }
  return out;
}

/** The COCO RLE of one segment's mask (pixels whose id is `segmentId`). */
export function encodeRle(map: SegmentIdMap, segmentId: number): CocoRle {
  return encodeRleForAll(map, [segmentId]).get(segmentId)!;
}

/** pycocotools' compressed form of run lengths (see the module comment). */
export function rleToString(counts: ArrayLike<number>): string {
  const codes: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i];
    if (!Number.isInteger(count) || count < 0 || count > MAX_COUNT) {
      throw new RangeError(`count ${i} (${count}) is not an integer in 0..${MAX_COUNT}`);
    }
    let x = i > 2 ? count - counts[i - 2] : count;
    let more = true;
    while (more) {
      // x & 0x1f and x >>= 5 on a signed 64-bit value, without 32-bit JS bit operators.
      let c = ((x % 32) + 32) % 32;
      x = Math.floor(x / 32);
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      codes.push(c + 48);
    }
  }
  let s = "";
  for (let k = 0; k < codes.length; k += 8192) s += String.fromCharCode(...codes.slice(k, k + 8192));
  return s;
}

/** Run lengths of pycocotools' compressed counts; RangeError on a character outside '0'..'o', a truncated value or a negative count. */
export function rleFromString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    const first = p;
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new RangeError(`RLE counts string ends inside the value that starts at character ${first}`);
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new RangeError(`RLE counts string has ${JSON.stringify(s[p])} at character ${p}; only '0'..'o' are used`);
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x -= 2 ** (5 * k); // sign-extend
    }
    const m = counts.length;
    if (m > 2) x += counts[m - 2];
    if (!Number.isSafeInteger(x) || x < 0 || x > MAX_COUNT) {
      throw new RangeError(`RLE count ${m} (decoded from character ${first}) is ${x}, outside 0..${MAX_COUNT}`);
    }
    counts.push(x);
  }
  return counts;
}

/** Run lengths of an RLE, compressed or not. */
export function rleCounts(rle: CocoRle | UncompressedRle): number[] {
  return typeof rle.counts === "string" ? rleFromString(rle.counts) : rle.counts;
}

/** Number of set pixels (the sum of the runs of ones), as pycocotools' `area`. */
export function rleArea(rle: CocoRle | UncompressedRle): number {
  const counts = rleCounts(rle);
  let area = 0;
  for (let j = 1; j < counts.length; j += 2) area += counts[j];
  return area;
}

/**
 * The mask of an RLE as `height·width` bytes (1 = set) in ROW-MAJOR order, like the id maps.
 * RangeError when the runs do not add up to `height·width`.
 */
export function decodeRle(rle: CocoRle | UncompressedRle): Uint8Array {
  const [height, width] = rle.size;
  const n = height * width;
  if (!Number.isSafeInteger(n) || height < 0 || width < 0) throw new RangeError(`RLE size [${height}, ${width}] is not a pair of non-negative integers`);
  const counts = rleCounts(rle);
  let total = 0;
  for (const c of counts) total += c;
  if (total !== n) throw new RangeError(`RLE runs add up to ${total} pixels, but size [${height}, ${width}] has ${n}`);
  const mask = new Uint8Array(n);
  let j = 0;
  for (let r = 0; r < counts.length; r++) {
    const stop = j + counts[r];
    if (r % 2 === 1) {
      for (; j < stop; j++) {
        const x = Math.floor(j / height);
        mask[(j - x * height) * width + x] = 1;
      }
    }
    j = stop;
  }
  return mask;
}
