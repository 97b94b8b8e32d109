/**
 * Polls `fn` until it returns a value (not undefined) and returns it; fails naming `what` after `timeoutMs`.
 * For state that changes on its own schedule (a job runner, a queue), where there is no event to await.
 */
export async function until<T>(
  fn: () => Promise<T | undefined>, what: string, { timeoutMs = 20_000, pollMs = 50 }: { timeoutMs?: number; pollMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
