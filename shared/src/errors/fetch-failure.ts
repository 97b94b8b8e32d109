/** Why a fetch failed, as its cause says it (fetch's own message is only "fetch failed"). */
export interface FetchFailureCause {
  /** The cause's code: ECONNREFUSED, ENOTFOUND, a TLS code such as SELF_SIGNED_CERT_IN_CHAIN; undefined without one. */
  readonly code: string | undefined;
  /** The cause's code and message ("ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9"), or '' where it has neither. */
  readonly detail: string;
}

/** The reason in a failed fetch's cause: the STOW-RS export and `mipseg send` both name it. */
export function fetchFailureCause(err: unknown): FetchFailureCause {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const detail = [code, typeof cause?.message === 'string' ? cause.message : undefined].filter(Boolean).join(': ');
  return { code, detail };
}
