import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { openAiProvider, retryAfterMs } from "../../worker/vlm/openai.ts";
import { parseMergeAnswer, parseRegionsAnswer } from "../../worker/vlm/parse.ts";
import { mergeMessages, round1Messages } from "../../worker/vlm/prompts.ts";
import { VlmError, type VlmRequest } from "../../worker/vlm/provider.ts";

// The mock VLM (scripts/mock-vlm.ts) is a real HTTP server started by vitest.config.ts; this file
// uses its own tenant so that other test files sharing the server do not disturb it.
const tenant = `openai-${crypto.randomUUID().slice(0, 8)}`;
const origin = env.MOCK_VLM_URL.replace(/\/v1\/?$/, "");
const baseUrl = `${origin}/t/${tenant}/v1`;

async function control(body: Record<string, unknown>) {
  const res = await fetch(`${origin}/__control?tenant=${tenant}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}
async function stats() {
  const res = await fetch(`${origin}/__stats?tenant=${tenant}`);
  return (await res.json()) as {
    requests: number;
    byMode: Record<string, number>;
    last: { body: Record<string, unknown> & { messages: { role: string; content: unknown }[] }; prompt: string; system: string; authorization: string | null; path: string } | null;
  };
}

// A 1×1 PNG.
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const PNG_BYTES = atob(PNG).length;

const marks = [
  { number: 1, category: "sky-other-merged", isthing: false },
  { number: 2, category: "dog", isthing: true },
  { number: 4, category: "person", isthing: true },
  { number: 7, category: "grass-merged", isthing: false },
];
const markNumbers = marks.map((m) => m.number);

function round1Request(extra: Partial<VlmRequest> = {}): VlmRequest {
  return { ...round1Messages(marks), image: { mediaType: "image/png", base64: PNG }, temperature: 0.2, maxTokens: 512, timeoutMs: 10_000, json: true, ...extra };
}

const provider = (extra: { apiKey?: string; base?: string } = {}) => openAiProvider({ baseUrl: extra.base ?? baseUrl, model: "qwen2-vl-7b", apiKey: extra.apiKey ?? "sk-test" });

async function failure(p: Promise<unknown>): Promise<VlmError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(VlmError);
  return e as VlmError;
}

beforeEach(async () => {
  const res = await fetch(`${origin}/__reset?tenant=${tenant}`, { method: "POST" });
  expect(res.status).toBe(200);
});

describe("openAiProvider against the mock VLM", () => {
  it("sends a well-formed chat completion with the image and the prompt", async () => {
    const req = round1Request();
    const answer = await provider().complete(req);
    expect(answer.model).toBe("qwen2-vl-7b");
    expect(answer.tokensIn).toBeGreaterThan(100);
    expect(answer.tokensOut).toBeGreaterThan(0);
    expect(answer.latencyMs).toBeGreaterThanOrEqual(0);
    const parsed = parseRegionsAnswer(answer.text, markNumbers);
    expect(parsed.status).toBe("ready");
    expect(Object.keys(parsed.regions).map(Number)).toEqual(markNumbers);

    const s = await stats();
    expect(s.requests).toBe(1);
    expect(s.byMode).toEqual({ ok: 1 });
    expect(s.last?.path).toBe(`/t/${tenant}/v1/chat/completions`);
    expect(s.last?.authorization).toBe("Bearer sk-test");
    expect(s.last?.prompt).toBe(req.prompt);
    expect(s.last?.system).toBe(req.system);
    expect(s.last?.body).toMatchObject({
      model: "qwen2-vl-7b",
      temperature: 0.2,
      max_tokens: 512,
      response_format: { type: "json_object" },
      messages: [
        { role: "system", content: req.system },
        {
          role: "user",
          content: [
            { type: "text", text: req.prompt },
            { type: "image_url", image_url: { url: { mediaType: "image/png", bytes: PNG_BYTES } } },
          ],
        },
      ],
    });
  });

  it("sends no Authorization without a key and no response_format without json; a trailing slash in baseUrl is fine", async () => {
    const p = openAiProvider({ baseUrl: `${baseUrl}/`, model: "m" });
    await p.complete(round1Request({ json: false }));
    const s = await stats();
    expect(s.last?.authorization).toBeNull();
    expect(s.last?.body.response_format).toBeUndefined();
  });

  it("round-trips the merge prompt into a grounded caption", async () => {
    const regions = marks.map((m) => ({ ...m, text: `Text of ${m.number}.` }));
    const answer = await provider().complete({ ...mergeMessages(regions), image: { mediaType: "image/png", base64: PNG }, temperature: 0.2, maxTokens: 512, timeoutMs: 10_000 });
    const parsed = parseMergeAnswer(answer.text, markNumbers);
    expect(parsed.status).toBe("ready");
    expect(parsed.unreferencedMarks).toEqual([]);
    expect(parsed.caption?.spans.map((s) => s.marks[0])).toEqual([1, 7, 2, 4]); // background first
  });

  it("429 → rate_limited with retryAfterMs from Retry-After (seconds and HTTP date)", async () => {
    await control({ mode: "429", times: 2, retryAfterSeconds: 7 });
    const e = await failure(provider().complete(round1Request()));
    expect(e).toMatchObject({ kind: "rate_limited", status: 429, retryAfterMs: 7000 });
    expect(e.retryable).toBe(true);
    expect(e.message).toContain("Rate limit reached");

    await control({ mode: "429", times: 1, retryAfterSeconds: 30, retryAfterFormat: "http-date" });
    const dated = await failure(provider().complete(round1Request()));
    expect(dated.kind).toBe("rate_limited");
    expect(dated.retryAfterMs).toBeGreaterThan(25_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(30_000);

    // `times` ran out: back to ok
    expect(parseRegionsAnswer((await provider().complete(round1Request())).text, markNumbers).status).toBe("ready");
    expect((await stats()).byMode).toEqual({ "429": 2, ok: 1 });
  });

  it("500 → server (retryable), honouring Retry-After when sent", async () => {
    await control({ mode: "500", times: 1 });
    const e = await failure(provider().complete(round1Request()));
    expect(e).toMatchObject({ kind: "server", status: 500, retryAfterMs: undefined });
    expect(e.retryable).toBe(true);
    await control({ mode: "500", times: 1, retryAfterSeconds: 2 });
    expect(await failure(provider().complete(round1Request()))).toMatchObject({ kind: "server", retryAfterMs: 2000 });
  });

  it("slow answer with a short timeout → timeout", async () => {
    await control({ mode: "slow", delayMs: 3000, times: 1 });
    const started = Date.now();
    const e = await failure(provider().complete(round1Request({ timeoutMs: 300 })));
    expect(e.kind).toBe("timeout");
    expect(e.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("slow but within the timeout → answered", async () => {
    await control({ mode: "slow", delayMs: 200 });
    const answer = await provider().complete(round1Request({ timeoutMs: 5000 }));
    expect(parseRegionsAnswer(answer.text, markNumbers).status).toBe("ready");
    expect((await stats()).byMode).toEqual({ slow: 1 });
  });

  it("malformed content is returned as text: the parser's job", async () => {
    await control({ mode: "malformed" });
    const answer = await provider().complete(round1Request());
    expect(answer.text).toMatch(/^Sure! Here are the descriptions/);
    expect(parseRegionsAnswer(answer.text, markNumbers)).toMatchObject({ status: "failed", reason: expect.stringMatching(/^answer is not a JSON object/) });
  });

  it("partial and unknown-mark answers parse as partial", async () => {
    await control({ mode: "partial", times: 1 });
    const partial = parseRegionsAnswer((await provider().complete(round1Request())).text, markNumbers);
    expect(partial.status).toBe("partial");
    expect(partial.missing).toEqual([4, 7]);
    await control({ mode: "unknown-mark", times: 1 });
    const unknown = parseRegionsAnswer((await provider().complete(round1Request())).text, markNumbers);
    expect(unknown.status).toBe("partial");
    expect(unknown.unknown).toEqual(["8"]);
  });

  it("a 200 that is not a chat completion → malformed_response", async () => {
    await control({ mode: "not-completion", times: 1 });
    expect(await failure(provider().complete(round1Request()))).toMatchObject({ kind: "malformed_response", status: 200 });
  });

  it("the mock refuses a request without a real image → bad_request with its message", async () => {
    const e = await failure(provider().complete(round1Request({ image: { mediaType: "image/png", base64: btoa("not a png at all") } })));
    expect(e).toMatchObject({ kind: "bad_request", status: 400 });
    expect(e.message).toContain("not a PNG image");
    const jpegAsPng = await failure(provider().complete(round1Request({ image: { mediaType: "image/jpeg", base64: PNG } })));
    expect(jpegAsPng.message).toContain("not a JPEG image");
    const noImage = await failure(provider().complete(round1Request({ image: undefined })));
    expect(noImage.message).toContain("image_url");
    expect((await stats()).byMode).toEqual({ invalid: 3 });
  });

  it("wrong key → auth; unknown path → bad_request; connection dropped → network", async () => {
    await control({ mode: "ok", requireApiKey: "sk-right" });
    expect(await failure(provider({ apiKey: "sk-wrong" }).complete(round1Request()))).toMatchObject({ kind: "auth", status: 401 });
    expect((await provider({ apiKey: "sk-right" }).complete(round1Request())).text).toContain('"1"');
    expect(await failure(provider({ base: `${origin}/t/${tenant}/nope` }).complete(round1Request()))).toMatchObject({ kind: "bad_request", status: 404 });
    await control({ mode: "disconnect", times: 1, requireApiKey: null });
    const e = await failure(provider().complete(round1Request({ timeoutMs: 5000 })));
    expect(e.kind).toBe("network");
    expect(e.retryable).toBe(true);
  });
});

describe("retryAfterMs", () => {
  it("reads seconds, HTTP dates and retry-after-ms", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs(new Headers({ "retry-after": "3" }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:10 GMT" }), now)).toBe(10_000);
    expect(retryAfterMs(new Headers({ "retry-after": "Wed, 31 Dec 2025 00:00:00 GMT" }), now)).toBe(0);
    expect(retryAfterMs(new Headers({ "retry-after-ms": "250", "retry-after": "3" }), now)).toBe(250);
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
  });
});
