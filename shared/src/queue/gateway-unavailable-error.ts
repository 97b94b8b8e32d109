/**
 * Statuses by which the gateway, or a reverse proxy in front of it, says it is away for now rather than that it
 * refused: a proxy answers 502 or 504 while the gateway behind it restarts, and a gateway starting or stopping 503.
 */
const GATEWAY_AWAY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/**
 * The cause of a queue-mode worker's failure to read from or store to GATEWAY_URL because the gateway answered that it
 * is away: waited for as a connection refused is, using no attempt (a restart behind a proxy failed jobs for good).
 */
export class GatewayUnavailableError extends Error {
  override readonly name = 'GatewayUnavailableError';

  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** The cause to give a failed request to the gateway that answered `status`, where that status says it is away. */
export function gatewayAwayCause(status: number): { cause: GatewayUnavailableError } | Record<string, never> {
  return GATEWAY_AWAY_STATUSES.has(status) ? { cause: new GatewayUnavailableError(status) } : {};
}
