import type { Logger } from '@mipseg/shared/log';

/**
 * How long shutdown waits for a part that may never close: a job queue whose Redis is unreachable waits for
 * it forever. Leaving is safe: jobs in hand stay in Redis and are taken again once their locks lapse.
 */
export const CLOSE_TIMEOUT_MS = 15_000;

/**
 * Closes one part of the process, waiting at most `timeoutMs`. Resolves true if it closed; otherwise logs
 * which part did not and resolves false, so that the process can exit non-zero without it.
 */
export async function closeWithin(part: string, close: () => Promise<void>, log: Logger, timeoutMs = CLOSE_TIMEOUT_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    const closed = await Promise.race([close().then(() => true as const), timedOut]);
    if (!closed) log.error({ part, timeoutMs }, `${part} did not close within ${timeoutMs} ms; exiting without it`);
    return closed;
  } finally {
    clearTimeout(timer);
  }
}
