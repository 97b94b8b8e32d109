import { performance } from 'node:perf_hooks';

/** Runs `work`, saying the longest the event loop went without running a timer of `tickMs` meanwhile. */
export async function longestStallDuring<T>(work: () => Promise<T>, tickMs: number): Promise<{ result: T; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, tickMs);
  try {
    const result = await work();
    return { result, stallMs: Math.max(stallMs, performance.now() - last) };
  } finally {
    clearInterval(ticker);
  }
}
