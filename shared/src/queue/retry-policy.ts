import { isMipsegError } from '../errors';

/**
 * Bad data fails at once (retrying cannot fix a series with a missing slice); everything else — a full
 * disk, a peer that is down, a bug that might be transient — is retried with backoff.
 */
export function isUnrecoverable(err: unknown): boolean {
  return isMipsegError(err) && err.httpStatus < 500;
}

/**
 * How long after a failed study check (the index or Redis unavailable, a file unreadable) it runs again. Study
 * checks are retried without limit, in both modes: dropping one would leave a received study unanalysed.
 */
export const STUDY_CHECK_RETRY_MS = 10_000;

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
}

/** Exponential backoff: base, 2×base, 4×base … */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  return policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
}
