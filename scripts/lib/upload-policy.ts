/**
 * How the ingest CLI reacts to each answer of the API. Kept apart from the HTTP code so the policy
 * (what is retried, what aborts the run, what counts against one image) is in one readable place.
 */

export type Verdict = "created" | "present" | "fatal" | "retry" | "rejected";

/**
 * 401/403/404 say the token or project is wrong, which no image can fix: the run stops rather than
 * piling up 118K identical rejections. 408/429/5xx are about the server's state, so they are retried.
 */
export function classifyStatus(status: number): Verdict {
  if (status === 201) return "created";
  if (status >= 200 && status < 300) return "present";
  if (status === 401 || status === 403 || status === 404) return "fatal";
  if (status === 408 || status === 429 || status >= 500) return "retry";
  return "rejected";
}

/** Waits before retry 1, 2, 3; after the last one the image counts as failed. */
export const RETRY_DELAYS_MS: readonly number[] = [500, 1000, 2000];
/** A Retry-After beyond this is not worth stalling a worker for; the image fails and a rerun resumes. */
export const MAX_RETRY_AFTER_MS = 30_000;

/**
 * `retry` is 0-based. Jitter (±20%) keeps a pool of workers that failed together from retrying in
 * lockstep against a server that is already struggling. Returns null when retries are used up.
 */
export function retryDelayMs(retry: number, retryAfter: string | null = null, random: () => number = Math.random): number | null {
  const base = RETRY_DELAYS_MS[retry];
  if (base === undefined) return null;
  const jittered = Math.round(base * (0.8 + 0.4 * random()));
  const after = parseRetryAfter(retryAfter);
  return after === null ? jittered : Math.max(jittered, Math.min(after, MAX_RETRY_AFTER_MS));
}

/** Retry-After in seconds (HTTP dates are not worth supporting for a local CLI). */
export function parseRetryAfter(value: string | null): number | null {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return null;
  return Number(value) * 1000;
}

const FATAL_HINTS: Record<number, string> = {
  401: "check --token (or GROUNDWORK_TOKEN): it is missing, expired or signed with another secret",
  403: "the token needs the lead or admin role and access to this project",
  404: "check --project (and that --api points at the Groundwork API)",
};

export function fatalMessage(status: number, title: string, detail: string): string {
  const hint = FATAL_HINTS[status];
  return `HTTP ${status} ${title}: ${detail}` + (hint ? `\n  ${hint}` : "");
}

/** fetch() hides the useful part (ECONNREFUSED, ENOTFOUND, a timeout) in `cause`. */
export function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === "TimeoutError") return "the request timed out";
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      return typeof code === "string" ? `${code} (${cause.message})` : cause.message;
    }
    return err.message;
  }
  return String(err);
}
