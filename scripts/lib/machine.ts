import { existsSync, readFileSync } from "node:fs";

/** Clock ticks per second in /proc on Linux. */
export const USER_HZ = 100;

/** Machine-wide busy cores over the next second (Linux), or null: benches wait for a quiet machine. */
export async function busyCores(): Promise<number | null> {
  if (!existsSync("/proc/stat")) return null;
  const read = () => {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / USER_HZ;
  };
  const a = read();
  await new Promise((ok) => setTimeout(ok, 1000));
  return read() - a;
}

/**
 * The machine is shared (2 cores; tests and other benches may be running): before a measured phase,
 * wait at most `maxWaitMs` until fewer than `quietCores` cores are busy, and say what happened.
 */
export async function awaitQuiet(label: string, o: { quietCores: number; maxWaitMs: number; stop?: () => boolean }): Promise<void> {
  const deadline = Date.now() + o.maxWaitMs;
  let busy = await busyCores();
  if (busy === null || busy < o.quietCores) return;
  const first = busy;
  while (busy !== null && busy >= o.quietCores && Date.now() < deadline && !o.stop?.()) busy = await busyCores();
  console.log(
    busy !== null && busy < o.quietCores
      ? `  (${label}: waited for other processes to quiet down: ${first.toFixed(2)} → ${busy.toFixed(2)} busy cores)`
      : `  (${label}: other processes keep ${busy?.toFixed(2)} cores busy; measuring anyway after ${o.maxWaitMs / 1000} s)`,
  );
}
