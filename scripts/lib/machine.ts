import { existsSync, readFileSync } from "node:fs";

const USER_HZ = 100;

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
