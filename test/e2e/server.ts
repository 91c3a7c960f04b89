/**
 * The local server as the README starts it (`npm start`: migrations, `wrangler dev`, the seeded
 * demo, the mock VLM), in a process group of its own, so a test can stop it, or kill it outright
 * (SIGKILL to npm, node, wrangler, workerd and the mock VLM at once) and start it again on the
 * same state folder.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..", "..");

export interface LocalServer {
  readonly base: string;
  readonly pgid: number;
  readonly child: ChildProcess;
  /** Everything the server printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first match of `pattern` in the output; rejects when the server exits or the time is up. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Resolves once GET /healthz answers 200. */
  healthy(timeoutMs: number): Promise<void>;
  /** SIGKILL to the whole process group, no warning; resolves when none of its processes is left running. */
  kill(): Promise<void>;
  /** SIGTERM to the group, then SIGKILL after `graceMs`; resolves when none of its processes is left running. */
  stop(graceMs?: number): Promise<void>;
}

/** `npm start` on `port` with GROUNDWORK_STATE_DIR=`stateDir` (a state folder that exists is used as it is). */
export function startLocalServer(opts: { port: number; stateDir: string; env?: Record<string, string> }): LocalServer {
  const base = `http://127.0.0.1:${opts.port}`;
  // npm is on PATH next to the Node running the tests (the pinned one, under `npm test`).
  const child = spawn("npm", ["start"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(opts.port),
      GROUNDWORK_STATE_DIR: opts.stateDir,
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const pgid = child.pid!;
  const exited = () => child.exitCode !== null || child.signalCode !== null;

  const waitFor = (pattern: RegExp, timeoutMs: number) =>
    new Promise<RegExpMatchArray>((ok, fail) => {
      const started = Date.now();
      const timer = setInterval(() => {
        const m = output.match(pattern);
        if (m) {
          clearInterval(timer);
          ok(m);
        } else if (exited() || Date.now() - started > timeoutMs) {
          clearInterval(timer);
          fail(new Error(`npm start did not print ${pattern} (exit ${child.exitCode ?? child.signalCode}); output:\n${output.slice(-4000)}`));
        }
      }, 100);
    });

  const healthy = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited()) throw new Error(`npm start exited (${child.exitCode ?? child.signalCode}) before the server was healthy; output:\n${output.slice(-4000)}`);
      try {
        if ((await fetch(`${base}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the server was not healthy at ${base} within ${timeoutMs / 1000}s; output:\n${output.slice(-4000)}`);
  };

  const gone = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (liveMembers(pgid).length > 0 || !exited()) {
      if (Date.now() > deadline) throw new Error(`processes of group ${pgid} still running: ${liveMembers(pgid).join(", ")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // the group is gone already
    }
  };

  return {
    base,
    pgid,
    child,
    output: () => output,
    waitFor,
    healthy,
    async kill() {
      signal("SIGKILL");
      await gone(10_000);
    },
    async stop(graceMs = 3000) {
      if (liveMembers(pgid).length === 0 && exited()) return;
      signal("SIGTERM");
      const deadline = Date.now() + graceMs;
      while (liveMembers(pgid).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      signal("SIGKILL");
      await gone(10_000);
    },
  };
}

/**
 * Pids of the group's processes that still run. Zombies do not count: a killed process whose
 * parent died with it is reparented to pid 1, which in some containers never reaps it.
 */
export function liveMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so split after the last ")".
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z" && state !== "X") pids.push(Number(name));
  }
  return pids;
}
