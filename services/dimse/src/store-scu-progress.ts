/** How far a C-STORE SCU association has got: connecting, waiting for the A-ASSOCIATE-AC, then storing. */
export type StoreScuPhase = 'connecting' | 'negotiating' | 'storing';

/** A limit as a reader of an export's detail would write it: "60 s", "10 min", "1.5 s", "500 ms". */
export function formatLimit(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * Says why an association brought no C-STORE response, for the export's detail (jobs API, worklist): which
 * destination, in which phase, waiting for which instance's response, and which limit expired. A bare "Connection
 * timeout" could not tell a PACS that hangs on the association request from one that takes minutes per instance.
 */
export class StoreScuProgress {
  phase: StoreScuPhase = 'connecting';

  /**
   * @param destination the called AE title, host and port, as EXPORT_DESTINATIONS writes them (`AE@host:port`).
   * @param awaitedInstance the SOP Instance UID whose C-STORE response is awaited; undefined once all are answered.
   */
  constructor(
    readonly destination: string,
    private readonly awaitedInstance: () => string | undefined,
  ) {}

  private waitingFor(): string {
    if (this.phase === 'connecting') return 'connecting';
    if (this.phase === 'negotiating') return 'waiting for the answer to the association request (A-ASSOCIATE-RQ)';
    const instance = this.awaitedInstance();
    return instance === undefined ? 'releasing the association' : `waiting for the C-STORE response for instance ${instance}`;
  }

  /** The peer sent nothing for `limitMs` (PeerTimeoutMs). */
  silentFor(limitMs: number): string {
    const limit = formatLimit(limitMs);
    if (this.phase === 'connecting') return `no TCP connection to ${this.destination} within ${limit}`;
    if (this.phase === 'negotiating') {
      return `${this.destination} took the connection but did not answer the association request (A-ASSOCIATE-RQ) within ${limit}`;
    }
    const instance = this.awaitedInstance();
    return instance === undefined ? `${this.destination} did not answer the release request within ${limit}`
      : `no C-STORE response from ${this.destination} within ${limit} for instance ${instance}`;
  }

  /** The whole association's limit (timeoutMs) passed. */
  gaveUpAfter(limitMs: number): string {
    return `gave up on ${this.destination} after ${formatLimit(limitMs)} (the association's limit), ${this.waitingFor()}`;
  }

  connectionFailed(message: string): string {
    return this.phase === 'connecting' ? `could not connect to ${this.destination}: ${message}`
      : `the connection to ${this.destination} failed while ${this.waitingFor()}: ${message}`;
  }

  aborted(source: number, reason: number): string {
    return `${this.destination} aborted the association (source ${source}, reason ${reason}) while ${this.waitingFor()}`;
  }

  closedEarly(): string {
    return `${this.destination} closed the connection while ${this.waitingFor()}`;
  }
}
