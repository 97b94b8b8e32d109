import { isMipsegError } from '../errors';

/**
 * Bad data fails at once (retrying cannot fix a series with a missing slice); everything else — a full
 * disk, a peer that is down, a bug that might be transient — is retried with backoff.
 */
export function isUnrecoverable(err: unknown): boolean {
  return isMipsegError(err) && err.httpStatus < 500;
}

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
}

/** Exponential backoff: base, 2×base, 4×base … */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  return policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
}
