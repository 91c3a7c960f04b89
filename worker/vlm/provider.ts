/**
 * One interface for every vision-language model the drafts may come from. A provider is told
 * what to ask and returns the raw answer text with its cost; parsing the answer is not its job.
 */
export interface VlmImage {
  mediaType: "image/png" | "image/jpeg";
  base64: string;
}

export interface VlmRequest {
  system: string;
  prompt: string;
  image?: VlmImage;
  temperature: number;
  maxTokens: number;
  timeoutMs: number;
  /** Ask for a JSON object answer where the provider supports it. */
  json?: boolean;
}

export interface VlmAnswer {
  text: string;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
  model: string;
}

export type VlmFailureKind = "rate_limited" | "server" | "timeout" | "network" | "bad_request" | "auth" | "malformed_response";

/** Failures a caller can act on: `retryable` ones are worth another attempt after `retryAfterMs`. */
export class VlmError extends Error {
  readonly kind: VlmFailureKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(kind: VlmFailureKind, message: string, status?: number, retryAfterMs?: number) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  get retryable(): boolean {
    return this.kind === "rate_limited" || this.kind === "server" || this.kind === "timeout" || this.kind === "network";
  }
}

export interface VlmProvider {
  /** "openai" or "workers-ai": recorded on every draft and part of its cache key. */
  readonly id: string;
  readonly model: string;
  complete(request: VlmRequest): Promise<VlmAnswer>;
}
