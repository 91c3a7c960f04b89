/** A counter whose kept value differs from a recount from the source rows. */
export interface Drift<K> {
  key: K;
  kept: number;
  recounted: number;
}

/** Where kept counters differ from a recount: a row missing on one side counts as 0 there. */
export function counterDrift<R extends { value: number }, K>(kept: readonly R[], recounted: readonly R[], keyOf: (r: R) => K, id: (k: K) => string): Drift<K>[] {
  const a = new Map(kept.map((r) => [id(keyOf(r)), r]));
  const b = new Map(recounted.map((r) => [id(keyOf(r)), r]));
  const out: Drift<K>[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k)?.value ?? 0;
    const y = b.get(k)?.value ?? 0;
    if (Math.abs(x - y) > 1e-9 * Math.max(1, Math.abs(y))) out.push({ key: keyOf((a.get(k) ?? b.get(k))!), kept: x, recounted: y });
  }
  return out.sort((p, q) => id(p.key).localeCompare(id(q.key)));
}
