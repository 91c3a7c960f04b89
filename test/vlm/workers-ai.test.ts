import { describe, expect, it } from "vitest";
import { VlmError, type VlmRequest } from "../../worker/vlm/provider.ts";
import { DEFAULT_WORKERS_AI_MODEL, workersAiError, workersAiProvider, type AiBinding } from "../../worker/vlm/workers-ai.ts";

// The AI binding needs a Cloudflare account, so it is the one thing faked here.
function fakeAi(answer: (model: string, inputs: Record<string, unknown>) => Promise<unknown>) {
  const calls: { model: string; inputs: Record<string, unknown>; options: unknown }[] = [];
  const ai: AiBinding = {
    run(model, inputs, options) {
      calls.push({ model, inputs, options });
      return answer(model, inputs);
    },
  };
  return { ai, calls };
}

// The real binding type fits the provider's parameter.
const acceptsRealBinding = (ai: Ai) => workersAiProvider(ai);
void acceptsRealBinding;

const request: VlmRequest = {
  system: "sys",
  prompt: "describe",
  image: { mediaType: "image/png", base64: btoa(String.fromCharCode(0x89, 0x50, 0x4e, 0x47, 0, 255)) },
  temperature: 0.2,
  maxTokens: 300,
  timeoutMs: 5000,
  json: true,
};

describe("workersAiProvider", () => {
  it("sends messages and the image bytes, and reads response and usage", async () => {
    const { ai, calls } = fakeAi(async () => ({ response: '{"1": "a dog"}', usage: { prompt_tokens: 120, completion_tokens: 9, total_tokens: 129 } }));
    const provider = workersAiProvider(ai);
    expect(provider.id).toBe("workers-ai");
    expect(provider.model).toBe(DEFAULT_WORKERS_AI_MODEL);
    const answer = await provider.complete(request);
    expect(answer).toMatchObject({ text: '{"1": "a dog"}', tokensIn: 120, tokensOut: 9, model: "@cf/meta/llama-3.2-11b-vision-instruct" });
    expect(answer.latencyMs).toBeGreaterThanOrEqual(0);
    expect(calls).toHaveLength(1);
    expect(calls[0].model).toBe("@cf/meta/llama-3.2-11b-vision-instruct");
    expect(calls[0].inputs).toEqual({
      messages: [
        { role: "system", content: "sys" },
        { role: "user", content: "describe" },
      ],
      image: [0x89, 0x50, 0x4e, 0x47, 0, 255],
      max_tokens: 300,
      temperature: 0.2,
    });
    expect((calls[0].options as { signal?: unknown }).signal).toBeInstanceOf(AbortSignal);
  });

  it("sends no image when there is none, takes another model, and tolerates missing usage", async () => {
    const { ai, calls } = fakeAi(async () => ({ response: "text" }));
    const answer = await workersAiProvider(ai, "@cf/meta/llama-4-scout-17b-16e-instruct").complete({ ...request, image: undefined });
    expect(answer).toMatchObject({ text: "text", tokensIn: 0, tokensOut: 0, model: "@cf/meta/llama-4-scout-17b-16e-instruct" });
    expect(calls[0].inputs.image).toBeUndefined();
  });

  it("reads OpenAI-style outputs and object responses", async () => {
    const chat = fakeAi(async () => ({ choices: [{ message: { content: "from choices" } }], usage: { prompt_tokens: 3, completion_tokens: 4 } }));
    expect(await workersAiProvider(chat.ai).complete(request)).toMatchObject({ text: "from choices", tokensIn: 3, tokensOut: 4 });
    const obj = fakeAi(async () => ({ response: { 1: "a dog" } }));
    expect((await workersAiProvider(obj.ai).complete(request)).text).toBe('{"1":"a dog"}');
  });

  it("malformed_response when the output has no text", async () => {
    for (const out of [null, "plain string", {}, { response: 42 }, { choices: [] }]) {
      const { ai } = fakeAi(async () => out);
      await expect(workersAiProvider(ai).complete(request)).rejects.toMatchObject({ kind: "malformed_response" });
    }
  });

  it("maps binding errors by their Workers AI code", async () => {
    const cases: [string, string, boolean][] = [
      ["InferenceUpstreamError: 3040: Capacity temporarily exceeded, please try again.", "rate_limited", true],
      ["AiError: 3036: You have used up your daily free allocation of 10,000 neurons.", "rate_limited", true],
      ["5016: User has not agreed to Llama3.2 model terms", "auth", false],
      ["3023: Service unavailable for account", "auth", false],
      ["5007: No such model @cf/nope or task", "bad_request", false],
      ["3006: Request is too large", "bad_request", false],
      ["3007: Request timeout", "timeout", true],
      ["3043: Internal server error", "server", true],
      ["Network connection lost.", "network", true],
      ["something odd", "server", true],
    ];
    for (const [message, kind, retryable] of cases) {
      const { ai } = fakeAi(async () => {
        throw new Error(message);
      });
      const err = await workersAiProvider(ai).complete(request).catch((e: unknown) => e);
      expect(err, message).toBeInstanceOf(VlmError);
      expect((err as VlmError).kind, message).toBe(kind);
      expect((err as VlmError).retryable, message).toBe(retryable);
      expect((err as VlmError).message).toContain(message);
    }
    expect(workersAiError(new Error("5016: terms"), "m").message).toContain('{"prompt":"agree"}');
  });

  it("times out when the binding does not answer in time", async () => {
    const { ai } = fakeAi(() => new Promise(() => {}));
    const started = Date.now();
    const err = await workersAiProvider(ai).complete({ ...request, timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VlmError);
    expect((err as VlmError).kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
