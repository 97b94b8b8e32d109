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

/**
 * The longest wait between two attempts. Once a PACS is back from maintenance or a network outage, its results
 * should follow within minutes, not hours: a radiologist reading the study waits for them. Past this the attempts
 * are a steady poll, so EXPORT_ATTEMPTS=100 (at a 5 s base) spans about a day instead of days to 10^25 days; an
 * uncapped wait also ran past the runner's "never due" mark, leaving an export shown as retrying for ever.
 */
export const MAX_BACKOFF_MS = 15 * 60_000;

/**
 * Past this exponent any base of 1 ms or more has reached MAX_BACKOFF_MS; stopping there also keeps
 * 2 ** attempt finite, so that a base of 0 never gives 0 × Infinity (NaN).
 */
const MAX_DOUBLINGS = 30;

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
}

/**
 * The wait after failed attempt `attempt` (1 = the first): base, 2×base, 4×base … up to MAX_BACKOFF_MS. A base
 * set longer than that is kept as it is: the cap stops the doubling, it does not overrule the operator.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  const doubled = policy.baseDelayMs * 2 ** Math.min(MAX_DOUBLINGS, Math.max(0, attempt - 1));
  return Math.min(doubled, Math.max(MAX_BACKOFF_MS, policy.baseDelayMs));
}

/**
 * Exports sent at once to one destination by each process (the embedded runner, a BullMQ worker): a PACS answers a
 * handful of associations well, and six results finishing together must not become six simultaneous associations
 * (and, where it limits them, rejections) at one PACS.
 */
export const EXPORTS_PER_DESTINATION = 2;
