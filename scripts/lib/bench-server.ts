/**
 * `wrangler dev` for a benchmark: a temporary state folder with the migrations applied, a server on
 * a free loopback port (restartable on the same folder: a new Worker isolate, the same database),
 * and clean-up of everything started, also on error and on Ctrl-C.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loopbackClient, type LoopbackClient } from "./loopback-client.ts";
import { findD1File } from "./seed-tasks.ts";
import { applyLocalMigrations, cleanUpOnInterrupt, freePort, startDevServer, stopServer, waitForHealthy } from "./wrangler.ts";

export interface BenchServer {
  child: ChildProcess;
  http: LoopbackClient;
  base: string;
  port: number;
}

/** Everything a benchmark started, to undo: servers, state folders, other closers (a mock VLM). */
const live = { servers: new Set<BenchServer>(), dirs: new Set<string>(), closers: new Set<() => Promise<void>>() };

export async function cleanupBench(): Promise<void> {
  for (const s of [...live.servers]) await stopBenchServer(s);
  for (const close of [...live.closers]) {
    live.closers.delete(close);
    await close().catch(() => undefined);
  }
  for (const dir of [...live.dirs]) {
    live.dirs.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True once Ctrl-C was pressed (clean-up then runs, and the process exits 130). */
export const interrupted = cleanUpOnInterrupt(cleanupBench);

/** Runs `close` at clean-up (unless it was called and forgotten before). */
export function atCleanup(close: () => Promise<void>): () => Promise<void> {
  live.closers.add(close);
  return async () => {
    if (live.closers.delete(close)) await close();
  };
}

/** A fresh temporary state folder with the D1 migrations applied; returns it and its SQLite file. */
export function freshState(prefix: string): { stateDir: string; file: string } {
  const stateDir = mkdtempSync(join(tmpdir(), prefix));
  live.dirs.add(stateDir);
  applyLocalMigrations(stateDir, true);
  return { stateDir, file: findD1File(stateDir) };
}

export function removeState(stateDir: string): void {
  live.dirs.delete(stateDir);
  rmSync(stateDir, { recursive: true, force: true });
}

/** The tail of wrangler's stderr of the servers started so far, for error reports. */
let serverLog = "";
export const serverLogTail = () => serverLog;

/** `wrangler dev` on a free loopback port over `stateDir`, healthy, with a client of `sockets` keep-alive sockets. */
export async function startBenchServer(stateDir: string, sockets: number): Promise<BenchServer> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = startDevServer(port, stateDir, true, { devTracing: false });
  const server: BenchServer = { child, http: loopbackClient(port, sockets), base, port };
  live.servers.add(server);
  // Drain wrangler's stderr (a full pipe would stall it) and keep the tail for error reports.
  child.stderr?.on("data", (d: Buffer) => (serverLog = (serverLog + d.toString()).slice(-4000)));
  const t0 = performance.now();
  await waitForHealthy(base, child);
  console.log(`wrangler dev healthy on ${base} after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return server;
}

export async function stopBenchServer(s: BenchServer): Promise<void> {
  live.servers.delete(s);
  s.http.close();
  await stopServer(s.child);
}
