import type { MinimalJob } from 'bullmq';
import { cappedBackoff } from './bullmq-job-queue';
import { backoffDelay, MAX_BACKOFF_MS } from './retry-policy';

const CAPPED = 'capped-exponential';

describe('backoffDelay', () => {
  test('doubles from the base after each failed attempt', () => {
    const policy = { attempts: 5, baseDelayMs: 5000 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(policy, n))).toEqual([5000, 10_000, 20_000, 40_000]);
  });

  test('never waits longer than 15 minutes, however many attempts are configured', () => {
    const policy = { attempts: 100, baseDelayMs: 5000 };
    expect(MAX_BACKOFF_MS).toBe(15 * 60_000);
    expect(backoffDelay(policy, 8)).toBe(640_000); // still doubling
    expect(backoffDelay(policy, 9)).toBe(MAX_BACKOFF_MS); // 1 280 000 ms, capped
    expect([10, 50, 99, 100, 5000].map((n) => backoffDelay(policy, n))).toEqual(Array(5).fill(MAX_BACKOFF_MS));
  });

  test('100 attempts at the default 5 s base wait about a day in all, not 10^25 days', () => {
    const policy = { attempts: 100, baseDelayMs: 5000 };
    const total = Array.from({ length: 99 }, (_, i) => backoffDelay(policy, i + 1)).reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(25 * 3_600_000);
  });

  test('keeps a base longer than the cap as configured, without doubling it', () => {
    const policy = { attempts: 3, baseDelayMs: 3_600_000 };
    expect([1, 2, 3].map((n) => backoffDelay(policy, n))).toEqual([3_600_000, 3_600_000, 3_600_000]);
  });

  test('a base of 0 retries at once on every attempt (no NaN)', () => {
    expect([1, 2, 1100].map((n) => backoffDelay({ attempts: 5, baseDelayMs: 0 }, n))).toEqual([0, 0, 0]);
  });
});

describe('the backoff BullMQ workers use', () => {
  const job = (backoff: unknown) => ({ opts: { backoff } }) as unknown as MinimalJob;

  test('doubles from the job\'s own base and stops at the same cap as the embedded runner', () => {
    expect(cappedBackoff(1, CAPPED, undefined, job({ type: CAPPED, delay: 5000 }))).toBe(5000);
    expect(cappedBackoff(3, CAPPED, undefined, job({ type: CAPPED, delay: 5000 }))).toBe(20_000);
    expect(cappedBackoff(40, CAPPED, undefined, job({ type: CAPPED, delay: 5000 }))).toBe(MAX_BACKOFF_MS);
    expect(cappedBackoff(2, CAPPED, undefined, job(1000))).toBe(2000);
  });
});
