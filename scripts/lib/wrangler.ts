import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { writeDocsAssets } from "../docs-assets.ts";
import { ROOT } from "./dev-vars.ts";

const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** Wrangler runs on this Node (the pinned 22), offline, with telemetry off. */
export function wranglerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", ...extra };
}

export function persistArgs(stateDir: string | undefined): string[] {
  return stateDir ? ["--persist-to", stateDir] : [];
}

export function applyLocalMigrations(stateDir?: string, quiet = false): void {
  const r = spawnSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", ...persistArgs(stateDir)], {
    cwd: ROOT,
    env: wranglerEnv({ CI: "true" }),
    stdio: ["ignore", quiet ? "ignore" : "inherit", "inherit"],
  });
  if (r.status !== 0) throw new Error(`applying D1 migrations failed (exit ${r.status})`);
}

/**
 * `wrangler dev` on a loopback port. Benchmarks pass `devTracing: false`: wrangler's local
 * observability collector (the dev tool's log and trace view, not part of the Worker and absent in
 * production) receives every span of every request, and its cost grows with the D1 calls a
 * request makes, so it would weigh on the figures of the Worker itself. `vars` override wrangler.toml's [vars].
 */
export function startDevServer(port: number, stateDir?: string, quiet = false, { devTracing = true, vars = {} as Record<string, string> } = {}): ChildProcess {
  // wrangler refuses to start without the [assets] folder, and /docs needs its files.
  writeDocsAssets();
  return spawn(
    process.execPath,
    [
      WRANGLER, "dev", "--ip", "127.0.0.1", "--port", String(port), "--show-interactive-dev-session=false", ...persistArgs(stateDir),
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    {
      cwd: ROOT,
      env: wranglerEnv(devTracing ? {} : { X_LOCAL_OBSERVABILITY: "false" }),
      stdio: quiet ? ["ignore", "ignore", "pipe"] : ["ignore", "inherit", "inherit"],
      detached: false,
    },
  );
}

export async function waitForHealthy(base: string, child: ChildProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the local server did not become healthy at ${base} within ${timeoutMs / 1000}s`);
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Ctrl-C during a benchmark: run `cleanup` (stop the server, delete its state folder) once, then
 * exit 130. The returned function tells the benchmark's loops that they should stop.
 */
export function cleanUpOnInterrupt(cleanup: () => Promise<void>): () => boolean {
  let interrupted = false;
  process.on("SIGINT", () => {
    if (interrupted) return;
    interrupted = true;
    console.error("\ninterrupted: stopping the server and deleting the state folder");
    cleanup().finally(() => process.exit(130));
  });
  return () => interrupted;
}
