/** How long the SCP waits on a peer; see AssociationTimers. */
export interface DimseTimeouts {
  /** From the connection to its A-ASSOCIATE-RQ: PS3.8 9.2's ARTIM timer in Sta2. */
  readonly associateRequestMs: number;
  /** An established association that completes no PDU for this long is aborted. */
  readonly idleMs: number;
}

/**
 * The idle limit also runs while the peer waits for us (a large instance being hashed and fsynced before its
 * C-STORE response), so it is generous.
 */
export const DEFAULT_DIMSE_TIMEOUTS: DimseTimeouts = Object.freeze({ associateRequestMs: 30_000, idleMs: 5 * 60_000 });

/**
 * One connection's timers, kept here rather than left to dcmjs-dimse, whose own send an A-ABORT on expiry with
 * whatever reason its caller then adds: PS3.8 Table 9-10 gives ARTIM's expiry before an A-ASSOCIATE-RQ (Sta2) AA-2,
 * closing the transport connection with no PDU, and an idle association is the SCP's decision, not a PDU at fault.
 */
export class AssociationTimers {
  private timer: NodeJS.Timeout;
  private watchingIdle = false;

  constructor(
    private readonly timeouts: DimseTimeouts,
    onNoAssociateRequest: () => void,
    private readonly onIdle: () => void,
  ) {
    this.timer = setTimeout(onNoAssociateRequest, timeouts.associateRequestMs).unref();
  }

  /** The A-ASSOCIATE-RQ has come: ARTIM stops (PS3.8 AE-6); if it was accepted, the idle limit starts. */
  associateRequestReceived(accepted: boolean): void {
    clearTimeout(this.timer);
    if (!accepted) return;
    this.watchingIdle = true;
    this.timer = setTimeout(this.onIdle, this.timeouts.idleMs).unref();
  }

  /** A whole PDU came from the peer: the association is not idle (bytes that never complete one do not count). */
  received(): void {
    if (this.watchingIdle) this.timer.refresh();
  }

  /** The association is over (released, aborted, closed): nothing more to time. */
  stop(): void {
    this.watchingIdle = false;
    clearTimeout(this.timer);
  }
}
