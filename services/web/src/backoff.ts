/** How long to wait before retry number `attempt` (0 for the first): `firstMs`, doubling, at most `maxMs`. */
export function backoffDelayMs(attempt: number, firstMs = 1000, maxMs = 30_000): number {
  return Math.min(maxMs, firstMs * 2 ** Math.max(0, attempt));
}

/** HTTP statuses of an answer that asking again will not change (a refused query, no such study); others may pass. */
export const FINAL_STATUSES: ReadonlySet<number> = new Set([400, 403, 404]);
