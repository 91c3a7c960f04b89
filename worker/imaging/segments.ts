/**
 * Per-segment geometry of a panoptic map: area, COCO bbox and the Set-of-Marks label point.
 *
 * The mark is the pixel farthest (exact Euclidean) from anything outside its segment, with the
 * image edge counting as outside, exactly as SoM computes it with
 * `cv2.distanceTransform(np.pad(mask, 1), DIST_L2, 0)` and breaks ties with
 * `coords[len(coords) // 2]` over the row-major list of maximal pixels.
 *
 * All segments are transformed in one O(N) pass over the whole image rather than one transform per
 * segment bbox, since bboxes of stuff segments overlap heavily. Distances stay squared integers so
 * ties are exact.
 */
import type { PanopticMap } from "./panoptic.ts";

export interface SegmentMeasure {
  id: number;
  area: number;
  bbox: [x: number, y: number, w: number, h: number];
  mark: { x: number; y: number };
  markDistance: number;
}

export function measureSegments(map: PanopticMap): SegmentMeasure[] {
  const { width: w, height: h, ids } = map;
  if (ids.length !== w * h) throw new RangeError(`ids has ${ids.length} entries, expected ${w}×${h}`);

  // Becomes the squared distance transform in place: each run reads its column distances into the
  // envelope before writing results back over them.
  const d2 = columnPass(ids, w, h);

  // Per-segment accumulators, indexed by order of first appearance (ids are sparse 24-bit values).
  // Plain arrays holding only small integers stay on V8's fast SMI path.
  const slot = new Map<number, number>();
  const segIds: number[] = [];
  const area: number[] = [];
  const minX: number[] = [];
  const maxX: number[] = [];
  const minY: number[] = [];
  const maxY: number[] = [];
  const best: number[] = []; // maximal squared distance
  const ties: number[] = []; // how many pixels reach it
  const firstAt: number[] = []; // first and last of them in row-major order
  const lastAt: number[] = [];

  // Felzenszwalb–Huttenlocher scratch, sized for the longest possible run plus two sentinels.
  // fv holds f(q) + q² for the parabola at v; breakpoints z are exact fractions zNum / zDen, zDen > 0.
  const v = new Int32Array(w + 2);
  const fv = new Float64Array(w + 2);
  const zNum = new Float64Array(w + 3);
  const zDen = new Float64Array(w + 3);

  let lastId = -1;
  let s = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let a = 0;
    while (a < w) {
      const id = ids[row + a];
      let b = a;
      while (b + 1 < w && ids[row + b + 1] === id) b++;
      const next = b + 1;
      if (id === 0) {
        a = next;
        continue;
      }
      if (id !== lastId) {
        let found = slot.get(id);
        if (found === undefined) {
          found = segIds.length;
          slot.set(id, found);
          segIds.push(id);
          area.push(0);
          minX.push(a);
          maxX.push(b);
          minY.push(y);
          maxY.push(y);
          best.push(0);
          ties.push(0);
          firstAt.push(-1);
          lastAt.push(-1);
        }
        s = found;
        lastId = id;
      }
      area[s] += next - a;
      if (a < minX[s]) minX[s] = a;
      if (b > maxX[s]) maxX[s] = b;
      maxY[s] = y;

      // Each pixel's distance is at most its column distance and its distance to the run's ends.
      // A run that cannot beat the segment's current maximum cannot hold its mark, so skip the
      // envelope and zero it out (0 never equals a maximum, which is at least 1).
      let top = best[s];
      let bound = 0;
      for (let x = a; x <= b; x++) {
        const ends = x - a + 1 < next - x ? x - a + 1 : next - x;
        const g = d2[row + x];
        const c = g < ends * ends ? g : ends * ends;
        if (c > bound) bound = c;
      }
      if (bound < top) {
        d2.fill(0, row + a, row + next);
        a = next;
        continue;
      }

      // 1-D lower envelope over [a-1, b+1]: the pixels just outside the run are not in the
      // segment (f = 0), and nothing farther along the row can be closer than them. Positions are
      // relative to a-1 to keep the cross-multiplied breakpoint comparisons exact in doubles
      // (they stay below 2^53 for runs and columns up to ~100k pixels).
      const len = next - a; // run length; relative positions go 0 (sentinel) .. len + 1 (sentinel)
      const base = row + a - 1;
      let k = 0;
      v[0] = 0;
      fv[0] = 0;
      zNum[0] = -Infinity;
      zDen[0] = 1;
      zNum[1] = Infinity;
      zDen[1] = 1;
      for (let q = 1; q <= len + 1; q++) {
        const fq = (q === len + 1 ? 0 : d2[base + q]) + q * q;
        let num = fq - fv[k];
        let den = 2 * (q - v[k]);
        while (num * zDen[k] <= zNum[k] * den) {
          k--;
          num = fq - fv[k];
          den = 2 * (q - v[k]);
        }
        k++;
        v[k] = q;
        fv[k] = fq;
        zNum[k] = num;
        zDen[k] = den;
        zNum[k + 1] = Infinity;
        zDen[k + 1] = 1;
      }
      k = 0;
      let count = ties[s];
      let first = firstAt[s];
      let last = lastAt[s];
      for (let x = 1; x <= len; x++) {
        while (zNum[k + 1] < x * zDen[k + 1]) k++;
        const vk = v[k];
        const dx = x - vk;
        const d = (dx * dx + fv[k] - vk * vk) | 0;
        const i = base + x;
        d2[i] = d;
        if (d > top) {
          top = d;
          count = 1;
          first = last = i;
        } else if (d === top) {
          count++;
          last = i;
        }
      }
      best[s] = top;
      ties[s] = count;
      firstAt[s] = first;
      lastAt[s] = last;
      a = next;
    }
  }

  const markAt = pickMarks(ids, d2, slot, best, ties, firstAt, lastAt);
  const order = segIds.map((_, i) => i).sort((p, q) => segIds[p] - segIds[q]);
  return order.map((i) => ({
    id: segIds[i],
    area: area[i],
    bbox: [minX[i], minY[i], maxX[i] - minX[i] + 1, maxY[i] - minY[i] + 1],
    mark: { x: markAt[i] % w, y: Math.floor(markAt[i] / w) },
    markDistance: Math.sqrt(best[i]),
  }));
}

/**
 * SoM's tie-break: the floor(count / 2)-th maximal pixel of each segment in row-major order. With
 * one or two maximal pixels that is the first or the last, already known; only segments with more
 * need a scan, and one shared scan over the span where they lie keeps that O(N).
 */
function pickMarks(
  ids: Uint32Array,
  d2: Int32Array,
  slot: Map<number, number>,
  best: number[],
  ties: number[],
  firstAt: number[],
  lastAt: number[],
): number[] {
  const markAt = ties.map((count, s) => (count === 1 ? firstAt[s] : count === 2 ? lastAt[s] : -1));
  const skip = ties.map((count) => count >> 1);
  let pending = 0;
  let from = ids.length;
  let to = 0;
  for (let s = 0; s < ties.length; s++) {
    if (markAt[s] >= 0) continue;
    pending++;
    if (firstAt[s] < from) from = firstAt[s];
    if (lastAt[s] > to) to = lastAt[s];
  }
  let lastId = -1;
  let s = -1;
  for (let i = from; i <= to && pending > 0; i++) {
    const id = ids[i];
    if (id === 0) continue;
    if (id !== lastId) {
      s = slot.get(id)!;
      lastId = id;
    }
    if (d2[i] === best[s] && markAt[s] < 0 && skip[s]-- === 0) {
      markAt[s] = i;
      pending--;
    }
  }
  return markAt;
}

/**
 * Squared distance along each column to the nearest pixel of another id or the padded edge, i.e.
 * min(y - start + 1, end - y + 1) over the vertical run of equal ids holding the pixel. Walked
 * column by column: strided, but one compare and one write per pixel beat two row-order sweeps.
 */
function columnPass(ids: Uint32Array, w: number, h: number): Int32Array {
  const n = w * h;
  const g2 = new Int32Array(n);
  for (let x = 0; x < w; x++) {
    let start = x;
    while (start < n) {
      const id = ids[start];
      let end = start;
      let len = 1;
      while (end + w < n && ids[end + w] === id) {
        end += w;
        len++;
      }
      for (let t = 0, i = start; t < len; t++, i += w) {
        const fromTop = t + 1;
        const fromBottom = len - t;
        const g = fromTop < fromBottom ? fromTop : fromBottom;
        g2[i] = g * g;
      }
      start = end + w;
    }
  }
  return g2;
}
