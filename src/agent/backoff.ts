/**
 * Retry timing of the agent (pure). A fleet that lost its server must not come back as one wave:
 * every delay is jittered, grows exponentially with the failures in a row, and is capped, so a
 * server back after an hour sees its agents spread over the cap rather than all at once.
 */
export interface BackoffPolicy {
  /** First delay (default 1 s). */
  baseMs: number;
  /** Largest delay (default 60 s). */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 60_000 };

/**
 * backoffDelay is the wait after the `failures`-th failure in a row (1 = first): "equal jitter",
 * half of the exponential step plus a random half, so a delay is never near zero (no hot retry
 * loop) and never above the cap.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(failures));
  // 2^(n-1) overflows to Infinity past ~1,000 failures; min() keeps the cap.
  const step = Math.min(policy.capMs, policy.baseMs * Math.pow(2, Math.min(n - 1, 60)));
  return Math.round(step / 2 + clamp01(random()) * (step / 2));
}

/** jittered spreads `ms` by ±fraction (long-poll waits, drift checks), so agents started together drift apart. */
export function jittered(ms: number, fraction: number, random: () => number = Math.random): number {
  const f = Math.min(1, Math.max(0, fraction));
  return Math.max(0, Math.round(ms * (1 - f + 2 * f * clamp01(random()))));
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0.5;
}

/**
 * retryDelay is the wait after a failure: the backoff, or the server's Retry-After when it asked
 * for longer, spread up to half as much again so that agents told the same number do not come
 * back together (never sooner than the server asked).
 */
export function retryDelay(failures: number, retryAfterMs: number | undefined, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const backoff = backoffDelay(failures, policy, random);
  if (retryAfterMs === undefined || retryAfterMs <= 0) return backoff;
  return Math.max(backoff, Math.round(retryAfterMs * (1 + 0.5 * clamp01(random()))));
}
