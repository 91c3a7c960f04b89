/**
 * A mock VLM: a real HTTP server on loopback speaking the OpenAI chat-completions protocol, for
 * tests and for running the pipeline offline against something that behaves like vLLM.
 *
 *   node scripts/mock-vlm.ts [--port 8788] [--host 127.0.0.1]
 *   → base URL http://127.0.0.1:8788/v1 (use it as the project's vlm.baseUrl, any model name)
 *
 * POST /v1/chat/completions validates the request like a strict server (JSON body; `model` a
 * non-empty string; `messages` an array whose user message carries an `image_url` data URL
 * `data:image/(png|jpeg);base64,…` whose bytes start with the PNG or JPEG signature matching the
 * declared type) and answers 400 with an OpenAI-style error body otherwise. Then it answers:
 *   - round-1 prompt (lines "- mark N: category (thing|stuff)" after "Marked regions:"):
 *     a JSON object {"N": "<a plausible sentence>", …} with every listed mark;
 *   - merge prompt (lines "- mark N: category (kind): "text"" after "Region descriptions:"):
 *     a caption with <N:phrase> tags, background first;
 *   - a study's describe prompt ("Describe this image in detail…"): a paragraph that names the
 *     size of the image it was sent, so that different images get different captions;
 *   - anything else: a one-sentence description.
 *
 * Behaviour control, over HTTP so that tests running inside workerd can drive it:
 *   POST /__control {mode, times?, retryAfterSeconds?, retryAfterFormat?, delayMs?, requireApiKey?}
 *     mode: "ok" | "429" | "500" | "slow" | "malformed" | "partial" | "unknown-mark" | "not-completion"
 *           | "disconnect"
 *     times: how many chat requests get this mode before it reverts to "ok" (default: unlimited)
 *     retryAfterSeconds: Retry-After sent with 429 (default 1) and with 500 (only when given)
 *     retryAfterFormat: "seconds" (default) or "http-date"
 *     delayMs: the wait of "slow" (default 5000), after which it answers as "ok"
 *     requireApiKey: when set, requests without `Authorization: Bearer <it>` get 401 (null clears)
 *   GET /__stats → {requests, byMode, last: {body, prompt, system, authorization, path} | null}
 *     (chat requests counted, by the mode that answered them, "invalid" and "unauthorized"
 *     included; in `last.body` every image data URL is replaced by {mediaType, bytes})
 *   POST /__reset → forget the mode and the counters
 * State is per tenant: the control endpoints take `?tenant=NAME` (or live under /t/NAME/), and
 * chat requests to /t/NAME/v1/chat/completions use tenant NAME's mode and counters; plain
 * /v1/... is tenant "default". Give every test file its own tenant: baseUrl
 * http://127.0.0.1:PORT/t/NAME/v1.
 *
 * Modes: 429 (with Retry-After), 500, slow, malformed (200 whose content is prose, not JSON),
 * partial (about half the marks / tags left out; a lone mark is kept), unknown-mark (a mark
 * number one above the highest listed is added), not-completion (200 JSON without choices),
 * disconnect (the connection is closed without an answer).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

export const MOCK_MODES = ["ok", "429", "500", "slow", "malformed", "partial", "unknown-mark", "not-completion", "disconnect"] as const;
export type MockMode = (typeof MOCK_MODES)[number];

interface TenantState {
  mode: MockMode;
  /** Requests left in `mode` before it reverts to "ok"; null = unlimited. */
  remaining: number | null;
  retryAfterSeconds: number | null;
  retryAfterFormat: "seconds" | "http-date";
  delayMs: number;
  requireApiKey: string | null;
  requests: number;
  byMode: Record<string, number>;
  last: { body: unknown; prompt: string; system: string; authorization: string | null; path: string } | null;
}

const MAX_BODY = 64 * 1024 * 1024;
const TENANT = /^[A-Za-z0-9._-]{1,80}$/;

function freshTenant(): TenantState {
  return { mode: "ok", remaining: null, retryAfterSeconds: null, retryAfterFormat: "seconds", delayMs: 5000, requireApiKey: null, requests: 0, byMode: {}, last: null };
}

class HttpError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  constructor(status: number, message: string, param: string | null = null, type = "invalid_request_error") {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, e: HttpError, headers: Record<string, string> = {}) {
  send(res, e.status, { error: { message: e.message, type: e.type, param: e.param, code: null } }, headers);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

// ---------------------------------------------------------------------------------------------
// Request validation

interface ImageInfo {
  mediaType: string;
  bytes: number;
}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIG = [0xff, 0xd8, 0xff];

function checkImageUrl(url: unknown, param: string): ImageInfo {
  if (typeof url !== "string") throw new HttpError(400, "image_url.url must be a string", param);
  const m = /^data:(image\/(?:png|jpeg));base64,(.*)$/s.exec(url);
  if (!m) throw new HttpError(400, "image_url.url must be a data:image/png;base64 or data:image/jpeg;base64 URL", param);
  const b64 = m[2];
  if (b64.length === 0 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
    throw new HttpError(400, "image_url.url does not contain valid base64", param);
  }
  const bytes = Buffer.from(b64, "base64");
  const sig = m[1] === "image/png" ? PNG_SIG : JPEG_SIG;
  if (bytes.length < sig.length || sig.some((b, i) => bytes[i] !== b)) {
    throw new HttpError(400, `image_url.url: the decoded bytes are not a ${m[1] === "image/png" ? "PNG" : "JPEG"} image`, param);
  }
  return { mediaType: m[1], bytes: bytes.length };
}

interface ChatRequest {
  model: string;
  system: string;
  prompt: string;
  images: ImageInfo[];
  summary: unknown;
}

/** Validates a chat-completions body; returns what the answer needs and a loggable copy. */
function checkChatRequest(body: unknown): ChatRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "the request body must be a JSON object");
  const b = body as Record<string, unknown>;
  if (typeof b.model !== "string" || b.model.trim() === "") throw new HttpError(400, "you must provide a model parameter", "model");
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw new HttpError(400, "messages must be a non-empty array", "messages");
  if (b.stream === true) throw new HttpError(400, "streaming is not supported by the mock", "stream");
  if (b.temperature !== undefined && (typeof b.temperature !== "number" || b.temperature < 0 || b.temperature > 2)) {
    throw new HttpError(400, "temperature must be a number from 0 to 2", "temperature");
  }
  if (b.max_tokens !== undefined && (!Number.isInteger(b.max_tokens) || (b.max_tokens as number) < 1)) {
    throw new HttpError(400, "max_tokens must be a positive integer", "max_tokens");
  }
  if (b.response_format !== undefined) {
    const t = (b.response_format as { type?: unknown } | null)?.type;
    if (t !== "text" && t !== "json_object" && t !== "json_schema") throw new HttpError(400, "response_format.type must be text, json_object or json_schema", "response_format");
  }

  const images: ImageInfo[] = [];
  const system: string[] = [];
  const prompt: string[] = [];
  let userHasImage = false;
  const messages = b.messages.map((msg, i) => {
    const param = `messages[${i}]`;
    if (typeof msg !== "object" || msg === null) throw new HttpError(400, `${param} must be an object`, param);
    const { role, content } = msg as { role?: unknown; content?: unknown };
    if (role !== "system" && role !== "user" && role !== "assistant" && role !== "developer") {
      throw new HttpError(400, `${param}.role must be system, developer, user or assistant`, `${param}.role`);
    }
    const texts = role === "user" ? prompt : role === "assistant" ? null : system;
    if (typeof content === "string") {
      texts?.push(content);
      return msg;
    }
    if (!Array.isArray(content)) throw new HttpError(400, `${param}.content must be a string or an array of parts`, `${param}.content`);
    const parts = content.map((part, k) => {
      const pp = `${param}.content[${k}]`;
      const p = part as { type?: unknown; text?: unknown; image_url?: { url?: unknown } };
      if (p?.type === "text") {
        if (typeof p.text !== "string") throw new HttpError(400, `${pp}.text must be a string`, `${pp}.text`);
        texts?.push(p.text);
        return part;
      }
      if (p?.type === "image_url") {
        if (role !== "user") throw new HttpError(400, `${pp}: images are only allowed in user messages`, pp);
        const info = checkImageUrl(p.image_url?.url, `${pp}.image_url.url`);
        images.push(info);
        userHasImage = true;
        return { ...p, image_url: { ...p.image_url, url: info } };
      }
      throw new HttpError(400, `${pp}.type must be text or image_url`, `${pp}.type`);
    });
    return { ...(msg as object), content: parts };
  });
  if (!userHasImage) throw new HttpError(400, "a user message must contain an image_url part (this is a vision endpoint)", "messages");
  return { model: b.model, system: system.join("\n"), prompt: prompt.join("\n"), images, summary: { ...b, messages } };
}

// ---------------------------------------------------------------------------------------------
// Answers

interface PromptMark {
  number: number;
  category: string;
  isthing: boolean | null;
  text: string | null;
}

function promptMarks(prompt: string, header: string): PromptMark[] {
  const at = prompt.indexOf(header);
  if (at < 0) return [];
  const marks: PromptMark[] = [];
  for (const line of prompt.slice(at + header.length).split("\n").slice(1)) {
    const m = /^- mark (\d+): (.*?)(?: \((thing|stuff)\))?(?:: ("(?:[^"\\]|\\.)*"))?$/.exec(line);
    if (!m) {
      if (marks.length > 0) break;
      continue;
    }
    let text: string | null = null;
    if (m[4] !== undefined) {
      try {
        text = JSON.parse(m[4]) as string;
      } catch {
        text = null;
      }
    }
    marks.push({ number: Number(m[1]), category: m[2], isthing: m[3] === undefined ? null : m[3] === "thing", text });
  }
  return marks;
}

const noun = (category: string) =>
  category
    .toLowerCase()
    .split(/[-_\s]+/)
    .filter((w) => w && w !== "other" && w !== "merged" && w !== "stuff")
    .join(" ") || "region";
const escapeTag = (s: string) => s.replace(/[\\<>]/g, (c) => "\\" + c);

function describeMark(m: PromptMark): string {
  const n = noun(m.category);
  if (m.isthing === false) return `The ${n} in the background, with an even texture and muted natural colours, fills this part of the scene behind the objects.`;
  return `A ${n} shown clearly in the scene, with natural colours and well-defined edges, placed close to the neighbouring objects.`;
}

/** Decides which marks a faulty mode keeps/adds. */
function markSet(marks: PromptMark[], mode: MockMode): { keep: PromptMark[]; extra: number | null } {
  const keep = mode === "partial" && marks.length > 1 ? marks.slice(0, Math.ceil(marks.length / 2)) : marks;
  const extra = mode === "unknown-mark" ? Math.max(0, ...marks.map((m) => m.number)) + 1 : null;
  return { keep, extra };
}

function answerRound1(marks: PromptMark[], mode: MockMode): string {
  if (mode === "malformed") {
    return `Sure! Here are the descriptions: ${marks.map((m) => `(${m.number}) ${describeMark(m)}`).join(" ")} Let me know if you need anything else.`;
  }
  const { keep, extra } = markSet(marks, mode);
  const out: Record<string, string> = {};
  for (const m of keep) out[String(m.number)] = describeMark(m);
  if (extra !== null) out[String(extra)] = "Another object that is partly hidden behind the others.";
  return JSON.stringify(out);
}

function answerMerge(marks: PromptMark[], mode: MockMode): string {
  if (mode === "malformed") return "Sure! Here is the caption: <1 a scene with several regions, described in detail.";
  const { keep, extra } = markSet(marks, mode);
  const tag = (m: PromptMark) => `<${m.number}:${m.isthing === false ? "the" : "a"} ${escapeTag(noun(m.category))}>`;
  const stuff = keep.filter((m) => m.isthing === false);
  const things = keep.filter((m) => m.isthing !== false);
  const list = (ms: PromptMark[]) => (ms.length <= 1 ? ms.map(tag).join("") : `${ms.slice(0, -1).map(tag).join(", ")} and ${tag(ms[ms.length - 1])}`);
  const sentences: string[] = [];
  if (stuff.length > 0) sentences.push(`In the background, ${list(stuff)} ${stuff.length === 1 ? "frames" : "frame"} the scene.`);
  if (things.length > 0) sentences.push(`In the foreground, ${list(things)} ${things.length === 1 ? "stands" : "stand"} out clearly against it.`);
  if (extra !== null) sentences.push(`<${extra}:Another object> is partly hidden at the edge.`);
  if (sentences.length === 0) sentences.push("An ordinary scene.");
  return sentences.join(" ");
}

function answerFor(chat: ChatRequest, mode: MockMode): string {
  const round1 = promptMarks(chat.prompt, "Marked regions:");
  if (round1.length > 0) return answerRound1(round1, mode);
  const merge = promptMarks(chat.prompt, "Region descriptions:");
  if (merge.length > 0) return answerMerge(merge, mode);
  if (mode === "malformed") return "Sure! I'd be happy to help with that.";
  // A study's detailed caption: made to differ per image (by the size of the image it was sent).
  if (chat.prompt.startsWith("Describe this image in detail")) {
    return `A detailed photograph of an everyday scene, ${chat.images.reduce((n, i) => n + i.bytes, 0)} bytes of it: a wide background fills the frame, and several objects stand in front of it, each clearly visible.`;
  }
  return "A photograph of an everyday scene with several objects.";
}

const tokens = (s: string) => Math.max(1, Math.ceil(s.length / 4));

// ---------------------------------------------------------------------------------------------
// Server

export interface MockVlm {
  /** Base URL ending in /v1 (tenant "default"); for a tenant use `${origin}/t/NAME/v1`. */
  url: string;
  /** http://host:port */
  origin: string;
  server: Server;
  close(): Promise<void>;
}

export async function startMockVlm(opts: { port?: number; host?: "127.0.0.1"; keepAlive?: boolean } = {}): Promise<MockVlm> {
  const tenants = new Map<string, TenantState>();
  const tenant = (name: string) => {
    let t = tenants.get(name);
    if (!t) {
      t = freshTenant();
      tenants.set(name, t);
    }
    return t;
  };

  const retryHeaders = (t: TenantState, fallbackSeconds: number | null): Record<string, string> => {
    const seconds = t.retryAfterSeconds ?? fallbackSeconds;
    if (seconds === null) return {};
    return { "retry-after": t.retryAfterFormat === "http-date" ? new Date(Date.now() + seconds * 1000).toUTCString() : String(seconds) };
  };

  async function chat(req: IncomingMessage, res: ServerResponse, t: TenantState, path: string) {
    t.requests++;
    const count = (what: string) => (t.byMode[what] = (t.byMode[what] ?? 0) + 1);
    let raw: string;
    try {
      raw = await readBody(req);
    } catch (e) {
      count("invalid");
      return sendError(res, e instanceof HttpError ? e : new HttpError(400, String(e)));
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      count("invalid");
      return sendError(res, new HttpError(400, "the request body is not valid JSON"));
    }
    const authorization = req.headers.authorization ?? null;
    let parsed: ChatRequest;
    try {
      parsed = checkChatRequest(body);
    } catch (e) {
      count("invalid");
      t.last = { body: redactImages(body), prompt: "", system: "", authorization, path };
      if (e instanceof HttpError) return sendError(res, e);
      throw e;
    }
    t.last = { body: parsed.summary, prompt: parsed.prompt, system: parsed.system, authorization, path };
    if (t.requireApiKey !== null && authorization !== `Bearer ${t.requireApiKey}`) {
      count("unauthorized");
      return sendError(res, new HttpError(401, "Incorrect API key provided.", null, "authentication_error"));
    }

    const mode = t.mode;
    if (t.remaining !== null) {
      t.remaining--;
      if (t.remaining <= 0) {
        t.mode = "ok";
        t.remaining = null;
      }
    }
    count(mode);

    if (mode === "429") {
      return send(res, 429, { error: { message: "Rate limit reached for requests. Please try again later.", type: "requests", param: null, code: "rate_limit_exceeded" } }, retryHeaders(t, 1));
    }
    if (mode === "500") {
      return send(res, 500, { error: { message: "The server had an error while processing your request.", type: "server_error", param: null, code: null } }, retryHeaders(t, null));
    }
    if (mode === "slow") {
      const closed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), t.delayMs);
        timer.unref();
        res.once("close", () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (closed) return;
    }
    if (mode === "disconnect") {
      req.socket.destroy();
      return;
    }
    if (mode === "not-completion") {
      return send(res, 200, { id: "chatcmpl-mock", object: "chat.completion", created: Math.floor(Date.now() / 1000), model: parsed.model, choices: [] });
    }
    const content = answerFor(parsed, mode);
    const promptTokens = tokens(parsed.system) + tokens(parsed.prompt) + 85 * parsed.images.length;
    const completionTokens = tokens(content);
    send(res, 200, {
      id: `chatcmpl-mock-${t.requests}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: parsed.model,
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    });
  }

  async function control(req: IncomingMessage, res: ServerResponse, name: string) {
    let body: unknown;
    try {
      const raw = await readBody(req);
      body = raw.trim() === "" ? {} : JSON.parse(raw);
    } catch {
      return sendError(res, new HttpError(400, "the control body is not valid JSON"));
    }
    const b = (body ?? {}) as Record<string, unknown>;
    if (!MOCK_MODES.includes(b.mode as MockMode)) return sendError(res, new HttpError(400, `mode must be one of ${MOCK_MODES.join(", ")}`, "mode"));
    const nonNegInt = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 0);
    if (!nonNegInt(b.times) || b.times === 0) return sendError(res, new HttpError(400, "times must be a positive integer", "times"));
    if (!nonNegInt(b.retryAfterSeconds)) return sendError(res, new HttpError(400, "retryAfterSeconds must be a non-negative integer", "retryAfterSeconds"));
    if (!nonNegInt(b.delayMs)) return sendError(res, new HttpError(400, "delayMs must be a non-negative integer", "delayMs"));
    if (b.retryAfterFormat !== undefined && b.retryAfterFormat !== "seconds" && b.retryAfterFormat !== "http-date") {
      return sendError(res, new HttpError(400, "retryAfterFormat must be seconds or http-date", "retryAfterFormat"));
    }
    if (b.requireApiKey !== undefined && b.requireApiKey !== null && typeof b.requireApiKey !== "string") {
      return sendError(res, new HttpError(400, "requireApiKey must be a string or null", "requireApiKey"));
    }
    const t = tenant(name);
    t.mode = b.mode as MockMode;
    t.remaining = (b.times as number | undefined) ?? null;
    if (b.retryAfterSeconds !== undefined) t.retryAfterSeconds = b.retryAfterSeconds as number;
    if (b.retryAfterFormat !== undefined) t.retryAfterFormat = b.retryAfterFormat as "seconds" | "http-date";
    if (b.delayMs !== undefined) t.delayMs = b.delayMs as number;
    if (b.requireApiKey !== undefined) t.requireApiKey = b.requireApiKey as string | null;
    send(res, 200, { tenant: name, mode: t.mode, times: t.remaining, retryAfterSeconds: t.retryAfterSeconds, retryAfterFormat: t.retryAfterFormat, delayMs: t.delayMs, requireApiKey: t.requireApiKey });
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://mock");
    let path = url.pathname;
    let name = url.searchParams.get("tenant") ?? "default";
    const scoped = /^\/t\/([^/]+)(\/.*)$/.exec(path);
    if (scoped) {
      name = decodeURIComponent(scoped[1]);
      path = scoped[2];
    }
    if (!TENANT.test(name)) return sendError(res, new HttpError(400, "tenant names are 1-80 letters, digits, '.', '_' or '-'", "tenant"));
    const method = req.method ?? "GET";
    const only = (m: string) => {
      if (method === m) return true;
      sendError(res, new HttpError(405, `use ${m} for ${path}`), { allow: m });
      return false;
    };

    if (path === "/v1/chat/completions") return only("POST") && chat(req, res, tenant(name), url.pathname);
    if (path === "/v1/models") return only("GET") && send(res, 200, { object: "list", data: [{ id: "mock-vlm", object: "model", owned_by: "groundwork" }] });
    if (path === "/__control") return only("POST") && control(req, res, name);
    if (path === "/__stats") {
      if (!only("GET")) return;
      const t = tenant(name);
      return send(res, 200, { tenant: name, mode: t.mode, remaining: t.remaining, requests: t.requests, byMode: t.byMode, last: t.last });
    }
    if (path === "/__reset") {
      if (!only("POST")) return;
      tenants.set(name, freshTenant());
      return send(res, 200, { tenant: name, reset: true });
    }
    sendError(res, new HttpError(404, `no route ${method} ${url.pathname}`, null, "not_found_error"));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      sendError(res, new HttpError(500, `mock VLM bug: ${(e as Error)?.stack ?? String(e)}`, null, "server_error"));
    });
  });
  server.keepAliveTimeout = 2000;
  if (!opts.keepAlive) {
    // Started from vitest.config.ts: neither the server nor its connections may keep Node alive.
    server.on("connection", (socket: Socket) => socket.unref());
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  if (!opts.keepAlive) server.unref();
  const address = server.address() as AddressInfo;
  const origin = `http://${address.address}:${address.port}`;
  return {
    url: `${origin}/v1`,
    origin,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function redactImages(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(redactImages);
  if (typeof body === "string") {
    const m = /^data:([^;,]+);base64,(.*)$/s.exec(body);
    return m ? { mediaType: m[1], bytes: Buffer.from(m[2], "base64").length } : body;
  }
  if (typeof body !== "object" || body === null) return body;
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, redactImages(v)]));
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "8788" },
      host: { type: "string", default: "127.0.0.1" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log("usage: node scripts/mock-vlm.ts [--port 8788] [--host 127.0.0.1]");
    return;
  }
  if (values.host !== "127.0.0.1") throw new Error("the mock VLM listens on loopback only (--host 127.0.0.1)");
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${values.port} is not a port number`);
  const mock = await startMockVlm({ port, host: "127.0.0.1", keepAlive: true });
  console.log(`mock VLM (OpenAI chat completions) on ${mock.url}`);
  console.log(`  control: POST ${mock.origin}/__control {"mode":"429","times":2}   stats: GET ${mock.origin}/__stats   reset: POST ${mock.origin}/__reset`);
  const stop = () => {
    mock.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error((e as Error)?.message ?? e);
    process.exit(1);
  });
}
