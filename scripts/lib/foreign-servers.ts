/**
 * `wrangler dev` / workerd processes that this process did not start (another bench, an end-to-end
 * test): on a 2-core machine they would share the cores with the one being measured. Linux /proc
 * only; elsewhere nothing is found.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";

export interface ForeignProcess {
  pid: number;
  cmd: string;
}

export function foreignServers(): ForeignProcess[] {
  if (!existsSync("/proc")) return [];
  const parent = new Map<number, number>();
  const found: ForeignProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      if (/workerd|wrangler/.test(cmd)) found.push({ pid, cmd });
    } catch {
      // gone
    }
  }
  const mine = (pid: number) => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = parent.get(p) ?? 0, hops++) if (p === process.pid) return true;
    return false;
  };
  return found.filter((f) => !mine(f.pid));
}

/** Waits (polling every `pollMs`) until no foreign server runs, at most `maxMs`; says what happened. Returns true when none is left. */
export async function waitForForeignServers(label: string, maxMs: number, pollMs = 30_000): Promise<boolean> {
  let others = foreignServers();
  if (others.length === 0) return true;
  const deadline = Date.now() + maxMs;
  console.log(`  (${label}: ${others.length} workerd/wrangler process(es) started by someone else, e.g. pid ${others[0].pid}: ${others[0].cmd.slice(0, 120)}; waiting up to ${Math.round(maxMs / 60_000)} min)`);
  const t0 = Date.now();
  while (others.length > 0 && Date.now() < deadline) {
    await new Promise((ok) => setTimeout(ok, pollMs));
    others = foreignServers();
  }
  if (others.length === 0) {
    console.log(`  (${label}: they are gone after ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    return true;
  }
  console.log(`  (${label}: still ${others.length} after ${Math.round(maxMs / 60_000)} min; going on: the figures below share the machine)`);
  return false;
}
