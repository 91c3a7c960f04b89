/**
 * The load generators' HTTP client, and what they read from the server's `Server-Timing`.
 */
import { Agent, request as httpRequest } from "node:http";

export const REQUEST_TIMEOUT_MS = 30_000;

export interface Answer {
  status: number;
  text: string;
  serverTiming: string;
}

export interface LoopbackClient {
  request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer>;
  close(): void;
}

/**
 * Keep-alive HTTP/1.1 over node:http, one socket per simulated annotator. The client shares the
 * 2 cores with the server, so it should cost as little as it can: `fetch` (undici's WHATWG layer
 * of Request, Headers and streams) spent ~1 ms of CPU per claim here, which the server then did
 * not get. Every phase of every benchmark uses this same client. Loopback only.
 */
export function loopbackClient(port: number, sockets: number): LoopbackClient {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  return {
    request(method, path, headers, body) {
      return new Promise((ok, fail) => {
        const req = httpRequest(
          { host: "127.0.0.1", port, method, path, agent, headers: body === undefined ? headers : { ...headers, "content-length": Buffer.byteLength(body) }, timeout: REQUEST_TIMEOUT_MS },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => ok({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), serverTiming: String(res.headers["server-timing"] ?? "") }));
            res.on("error", fail);
          },
        );
        req.on("timeout", () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
        req.on("error", fail);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** What a response's `Server-Timing` says: D1 statements and calls, and the group-commit batch size. */
export interface ServerTiming {
  statements: number | null;
  calls: number | null;
  /** How many statements shared this request's D1 batch (claims, `/healthz?via=group-commit`). */
  batch: number | null;
}

/**
 * Reads `d1;desc="N statements in M calls"` and a `…;desc="batch of K"` entry, wherever they are in
 * the header (one header with both entries, comma-separated, or either alone).
 */
export function parseServerTiming(header: string): ServerTiming {
  const d1 = /(?:^|,)\s*d1;desc="(\d+) statements in (\d+) calls"/.exec(header);
  const batch = /(?:^|,)\s*[\w-]+;desc="batch of (\d+)"/.exec(header);
  return { statements: d1 ? Number(d1[1]) : null, calls: d1 ? Number(d1[2]) : null, batch: batch ? Number(batch[1]) : null };
}

/** Per-request D1 costs and batch sizes collected over a phase. */
export class TimingTally {
  statements: number[] = [];
  calls: number[] = [];
  batches: number[] = [];

  add(header: string): ServerTiming {
    const t = parseServerTiming(header);
    if (t.statements !== null) this.statements.push(t.statements);
    if (t.calls !== null) this.calls.push(t.calls);
    if (t.batch !== null) this.batches.push(t.batch);
    return t;
  }

  reset(): void {
    this.statements = [];
    this.calls = [];
    this.batches = [];
  }
}
