/**
 * Leasing rules that need no storage: how many edit slots an image gets, and lease arithmetic.
 */
export interface RedundancySettings {
  round1: number;
  round2: number;
  overlapShare: number;
  overlapRound1: number;
}

/**
 * Whether an image is in the overlap sample (annotated by more people, for agreement). Decided by
 * its content hash, so the choice is stable, uniform and needs no coordination.
 */
export function inOverlapSample(imageSha256: string, share: number): boolean {
  if (share <= 0) return false;
  if (share >= 1) return true;
  return parseInt(imageSha256.slice(0, 8), 16) / 0x1_0000_0000 < share;
}

export function editSlots(round: 1 | 2, imageSha256: string, r: RedundancySettings): number {
  if (round === 2) return r.round2;
  return inOverlapSample(imageSha256, r.overlapShare) ? Math.max(r.round1, r.overlapRound1) : r.round1;
}

/** Rework jumps the queue: a rejected image should not wait behind the whole backlog. */
export const REWORK_PRIORITY = -10;
export const NORMAL_PRIORITY = 0;
