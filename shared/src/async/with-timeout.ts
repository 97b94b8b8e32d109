/**
 * `work`, or a rejection with `timedOut()` once `timeoutMs` has passed without it: for what is asked of parts the
 * caller does not own (a Redis that went away or stopped answering), which must not hold a request or a probe for ever.
 */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(timedOut()), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
