/**
 * When and how long to wait before retrying a registry request.
 *
 * Retried: network failures, 408, 429 and 5xx gateway/server errors. Never retried: 401/403 (auth
 * problems do not heal by waiting: regclient learned this the hard way), 404, other 4xx.
 *
 * @module
 */

/** Retry tuning. */
export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  /** First back-off in milliseconds; doubles per attempt, with full jitter. */
  baseDelayMs: number;
  /** Longest single wait, including a server's `Retry-After`. */
  maxDelayMs: number;
}

/** Default policy: 5 retries, 250 ms doubling, at most 30 s per wait. */
export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 250, maxDelayMs: 30_000 };

/** Whether an HTTP status is worth retrying. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 500 || status === 502 ||
    status === 503 || status === 504;
}

/**
 * Milliseconds to wait before attempt `attempt` (1-based), honouring `Retry-After` (seconds or an
 * HTTP date) when the server sent one.
 */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  retryAfter?: string | null,
): number {
  if (retryAfter) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(ms) && ms >= 0) return Math.min(ms, policy.maxDelayMs);
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
}

/** Resolves after `ms`, or rejects early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
