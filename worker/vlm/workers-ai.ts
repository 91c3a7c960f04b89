/**
 * A VLM provider on the Workers AI binding (`[ai] binding = "AI"`, production only: the binding
 * needs a Cloudflare account, so local development uses the template or an OpenAI-compatible
 * server).
 *
 * `@cf/meta/llama-3.2-11b-vision-instruct` takes chat `messages` plus the image as a top-level
 * `image` (an array of byte values 0–255). Through the binding that is the form that works for
 * this model; `image_url` content parts are only honoured by newer vision models. The account
 * must have accepted Meta's licence once (a request with `{ "prompt": "agree" }`); until then
 * every call fails with error 5016, mapped to "auth" with that hint.
 *
 * Binding failures are Errors whose message carries a Workers AI error code
 * (https://developers.cloudflare.com/workers-ai/platform/errors/), mapped to `VlmError` kinds.
 */
import { VlmError, type VlmAnswer, type VlmFailureKind, type VlmProvider, type VlmRequest } from "./provider.ts";

/** The part of the `Ai` binding used here (the real binding satisfies it). */
export interface AiBinding {
  run(model: string, inputs: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<unknown>;
}

export const DEFAULT_WORKERS_AI_MODEL = "@cf/meta/llama-3.2-11b-vision-instruct";

/** Workers AI internal error codes → failure kinds. Unlisted codes count as "server". */
const CODES: Record<number, VlmFailureKind> = {
  5007: "bad_request", // no such model or task
  5004: "bad_request", // invalid data
  3039: "bad_request", // finetune missing files
  3003: "bad_request", // incomplete request
  3006: "bad_request", // request too large
  5005: "bad_request", // LoRA unsupported
  5019: "bad_request", // deprecated SDK
  3042: "bad_request", // invalid model id
  5018: "auth", // account not allowed for private model
  5016: "auth", // model agreement not accepted
  3023: "auth", // account blocked
  3041: "auth", // account not allowed for private model
  3007: "timeout",
  3008: "timeout",
  3036: "rate_limited", // daily free allocation used up
  3040: "rate_limited", // out of capacity
};

function base64ToBytes(b64: string): number[] {
  const bin = atob(b64);
  const bytes = new Array<number>(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** Maps whatever the binding threw to a VlmError. */
export function workersAiError(e: unknown, model: string): VlmError {
  if (e instanceof VlmError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const name = (e as { name?: unknown } | null)?.name;
  if (name === "TimeoutError" || name === "AbortError") return new VlmError("timeout", `Workers AI ${model}: ${message}`);
  const code = /\b([35]\d{3})\b/.exec(message);
  if (code) {
    const kind = CODES[Number(code[1])] ?? "server";
    const hint = code[1] === "5016" ? ` (accept Meta's licence once: run ${model} with {"prompt":"agree"})` : "";
    return new VlmError(kind, `Workers AI ${model}: ${message}${hint}`);
  }
  if (/network|connection|fetch failed/i.test(message)) return new VlmError("network", `Workers AI ${model}: ${message}`);
  return new VlmError("server", `Workers AI ${model}: ${message}`);
}

/** The answer text of a text-generation output: `{ response }` or the OpenAI-style `{ choices }`. */
function answerText(out: unknown): string | null {
  if (typeof out !== "object" || out === null) return null;
  const o = out as { response?: unknown; choices?: { message?: { content?: unknown } }[] };
  if (typeof o.response === "string") return o.response;
  // JSON-mode models may hand back the parsed object.
  if (typeof o.response === "object" && o.response !== null) return JSON.stringify(o.response);
  const content = Array.isArray(o.choices) ? o.choices[0]?.message?.content : undefined;
  return typeof content === "string" ? content : null;
}

export function workersAiProvider(ai: AiBinding, model: string = DEFAULT_WORKERS_AI_MODEL): VlmProvider {
  return {
    id: "workers-ai",
    model,
    async complete(request: VlmRequest): Promise<VlmAnswer> {
      const inputs: Record<string, unknown> = {
        messages: [
          { role: "system", content: request.system },
          { role: "user", content: request.prompt },
        ],
        max_tokens: request.maxTokens,
        temperature: request.temperature,
      };
      if (request.image) inputs.image = base64ToBytes(request.image.base64);

      const signal = AbortSignal.timeout(request.timeoutMs);
      const started = Date.now();
      let out: unknown;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        // The signal is passed on, and raced as well in case the binding does not honour it.
        out = await Promise.race([
          ai.run(model, inputs, { signal }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new VlmError("timeout", `Workers AI ${model}: no answer within ${request.timeoutMs} ms`)), request.timeoutMs);
          }),
        ]);
      } catch (e) {
        if (signal.aborted && !(e instanceof VlmError)) throw new VlmError("timeout", `Workers AI ${model}: no answer within ${request.timeoutMs} ms`);
        throw workersAiError(e, model);
      } finally {
        clearTimeout(timer);
      }
      const latencyMs = Date.now() - started;

      const text = answerText(out);
      if (text === null) throw new VlmError("malformed_response", `Workers AI ${model} returned no text response`);
      const usage = (out as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } }).usage;
      const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
      return { text, tokensIn: num(usage?.prompt_tokens), tokensOut: num(usage?.completion_tokens), latencyMs, model };
    },
  };
}
