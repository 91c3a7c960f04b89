/**
 * A VLM provider speaking the OpenAI chat-completions protocol, which OpenAI, vLLM and SGLang
 * share: `POST {baseUrl}/chat/completions`, the image as an `image_url` data URL in the user
 * message. `baseUrl` is the API root including its version, e.g. "http://127.0.0.1:8000/v1".
 *
 * Failures become `VlmError`s: 429 → rate_limited and 5xx → server (both with `retryAfterMs`
 * from `Retry-After`, seconds or HTTP date, or `retry-after-ms`), 408 or our own timeout →
 * timeout, 401/403 → auth, other 4xx → bad_request, connection failure → network, and a 200 that
 * is not a chat completion → malformed_response. A completion whose content is not what the
 * prompt asked for is NOT an error here: parsing the answer is the caller's job.
 *
 * Note: OpenAI's newest reasoning models want `max_completion_tokens` instead of `max_tokens`;
 * vLLM, SGLang and the GPT-4o family take `max_tokens`, which is what is sent.
 */
import { z } from "zod";
import { VlmError, type VlmAnswer, type VlmProvider, type VlmRequest } from "./provider.ts";

export interface OpenAiConfig {
  /** API root with its version, e.g. "https://api.openai.com/v1" (a trailing slash is fine). */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** For a Service binding or a test; defaults to the global fetch. */
  fetch?: typeof fetch;
}

const Completion = z.object({
  model: z.string().optional(),
  choices: z
    .array(z.object({ message: z.object({ content: z.string() }), finish_reason: z.string().nullish() }))
    .min(1),
  usage: z
    .object({ prompt_tokens: z.number().nullish(), completion_tokens: z.number().nullish() })
    .nullish(),
});

/** Milliseconds to wait from a `Retry-After` (delta-seconds or HTTP date) or `retry-after-ms` header. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.round(Number(ms));
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function errorDetail(body: string): string {
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    const e = json.error;
    const msg = typeof e === "string" ? e : typeof e?.message === "string" ? e.message : typeof json.message === "string" ? json.message : typeof json.detail === "string" ? json.detail : null;
    if (msg) return msg.slice(0, 500);
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.replace(/\s+/g, " ").trim().slice(0, 300) || "(empty body)";
}

function isAbort(e: unknown, signal: AbortSignal): boolean {
  if (signal.aborted) return true;
  const name = (e as { name?: unknown } | null)?.name;
  return name === "TimeoutError" || name === "AbortError";
}

export function openAiProvider(config: OpenAiConfig): VlmProvider {
  const endpoint = `${config.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  // Call the global fetch unbound from its object only through a wrapper (workerd refuses an
  // unbound `fetch` reference: "Illegal invocation").
  const doFetch: typeof fetch = config.fetch ?? ((input, init) => fetch(input, init));

  return {
    id: "openai",
    model: config.model,
    async complete(request: VlmRequest): Promise<VlmAnswer> {
      const user: unknown[] = [{ type: "text", text: request.prompt }];
      if (request.image) {
        user.push({ type: "image_url", image_url: { url: `data:${request.image.mediaType};base64,${request.image.base64}` } });
      }
      const body: Record<string, unknown> = {
        model: config.model,
        messages: [
          { role: "system", content: request.system },
          { role: "user", content: user },
        ],
        temperature: request.temperature,
        max_tokens: request.maxTokens,
      };
      if (request.json) body.response_format = { type: "json_object" };
      const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
      if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;

      const signal = AbortSignal.timeout(request.timeoutMs);
      const started = Date.now();
      const timeout = () => new VlmError("timeout", `no answer from ${endpoint} within ${request.timeoutMs} ms`, undefined);

      let res: Response;
      try {
        res = await doFetch(endpoint, { method: "POST", headers, body: JSON.stringify(body), signal });
      } catch (e) {
        if (isAbort(e, signal)) throw timeout();
        throw new VlmError("network", `cannot reach ${endpoint}: ${(e as Error)?.message ?? String(e)}`);
      }
      let text: string;
      try {
        text = await res.text();
      } catch (e) {
        if (isAbort(e, signal)) throw timeout();
        throw new VlmError("network", `connection to ${endpoint} broke while reading the answer: ${(e as Error)?.message ?? String(e)}`, res.status);
      }
      const latencyMs = Date.now() - started;

      if (!res.ok) {
        const detail = `${endpoint} answered ${res.status}: ${errorDetail(text)}`;
        const s = res.status;
        if (s === 429) throw new VlmError("rate_limited", detail, s, retryAfterMs(res.headers));
        if (s >= 500) throw new VlmError("server", detail, s, retryAfterMs(res.headers));
        if (s === 408) throw new VlmError("timeout", detail, s);
        if (s === 401 || s === 403) throw new VlmError("auth", detail, s);
        if (s >= 400) throw new VlmError("bad_request", detail, s);
        throw new VlmError("malformed_response", `${endpoint} answered an unexpected ${s}`, s);
      }

      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new VlmError("malformed_response", `${endpoint} answered 200 with a body that is not JSON: ${text.slice(0, 200)}`, res.status);
      }
      const parsed = Completion.safeParse(json);
      if (!parsed.success) {
        throw new VlmError("malformed_response", `${endpoint} answered 200 with a body that is not a chat completion (no choices[0].message.content string)`, res.status);
      }
      const completion = parsed.data;
      return {
        text: completion.choices[0].message.content,
        tokensIn: completion.usage?.prompt_tokens ?? 0,
        tokensOut: completion.usage?.completion_tokens ?? 0,
        latencyMs,
        model: completion.model || config.model,
      };
    },
  };
}
