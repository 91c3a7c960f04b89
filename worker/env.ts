/**
 * Everything the Worker is given by its environment. Vars come from wrangler.toml, secrets from
 * `.dev.vars` locally and `wrangler secret put` in production.
 */
export interface Env {
  DB: D1Database;
  BLOBS: R2Bucket;
  /** Draft generation work; its consumer retries with backoff. */
  DRAFT_QUEUE: Queue<DraftQueueMessage>;
  /** Where draft messages go after their last attempt. */
  DRAFT_DLQ: Queue<DeadDraftMessage>;
  /** Workers AI, declared only in the production environment. */
  AI?: { run(model: string, input: unknown): Promise<unknown> };
  DRAFT_MAX_ATTEMPTS?: string;
  DRAFT_RETRY_BASE_MS?: string;
  DRAFT_CONCURRENCY?: string;

  /** HS256 key for self-issued tokens (≥ 32 bytes). */
  JWT_SECRET?: string;
  /** An identity provider's JWKS URL for RS256/ES256 tokens. */
  JWT_JWKS_URL?: string;
  /** A JWKS document inline (JSON), for providers whose keys are pinned in config. */
  JWT_JWKS?: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;

  /** HMAC key for short-lived signed file URLs; falls back to JWT_SECRET. */
  URL_SIGNING_SECRET?: string;
  SIGNED_URL_TTL_SECONDS?: string;
  /** HMAC key that keyed claims derive lease tokens with; falls back to URL_SIGNING_SECRET, then JWT_SECRET. */
  LEASE_SECRET?: string;

  /** Comma-separated origins allowed to call the API from a browser. */
  CORS_ORIGINS?: string;
  /**
   * The most D1 statements one invocation may send (1000 on the paid plan, 50 on the free one).
   * Set for tests and `wrangler dev`, where nothing else enforces it; production D1 does itself.
   */
  D1_STATEMENT_LIMIT?: string;
  /** Images per D1 page of an export (1–1000; default 250): a page costs five statements whatever its size. */
  EXPORT_PAGE_IMAGES?: string;
  /** Most seconds one export job message writes before it leaves a checkpoint (default 20). */
  EXPORT_MESSAGE_SECONDS?: string;
  MAX_UPLOAD_BYTES?: string;

  /** Rate-limiting bindings, one per tier of the project settings' `rateLimits` (absent: no limit). */
  RATE_LIMIT_STRICT?: RateLimiter;
  RATE_LIMIT_STANDARD?: RateLimiter;
  RATE_LIMIT_GENEROUS?: RateLimiter;
}

/** Workers' rate-limiting binding: counts a request under `key` and says whether it is within the limit. */
export interface RateLimiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

export type DraftQueueMessage =
  | { kind: "draft"; key: string; token: string; jobId: string | null }
  | { kind: "plan"; jobId: string; projectId: string; round: 1; after: string | null }
  /** `seq`: the checkpoint the message continues from (absent in messages queued before checkpoints: the job's own). */
  | { kind: "export"; jobId: string; seq?: number }
  /** A page of a study's model captions to ask for: images `offset` onwards of its selection. */
  | { kind: "describe"; studyId: string; offset: number };

export type DeadDraftMessage = DraftQueueMessage & { reason: string };

export interface Principal {
  subject: string;
  role: Role;
  /** Project ids this principal may act on; "*" means every project. */
  projects: readonly string[];
  /** Study ids a voter may vote in without access to their project (crowd participants from an invite link). */
  studies?: readonly string[];
}

export const ROLES = ["admin", "lead", "annotator", "reviewer", "voter"] as const;
export type Role = (typeof ROLES)[number];

export interface AppEnv {
  Bindings: Env;
  Variables: { principal: Principal; requestId: string };
}
