import { backoffDelayMs } from './backoff';

describe('the delay before retrying', () => {
  test('starts at 1 s and doubles up to 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelayMs(n))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  test('takes its own first delay and ceiling', () => {
    expect([0, 1, 2, 3].map((n) => backoffDelayMs(n, 250, 1000))).toEqual([250, 500, 1000, 1000]);
  });
});
