/** Why a new association cannot have a slot. */
export type SlotRefusal = 'limit' | 'closing';

/**
 * Counts open associations against DIMSE_MAX_ASSOCIATIONS. Counted per association rather than per TCP
 * connection, so that a peer over the limit still gets a proper A-ASSOCIATE-RJ instead of a reset.
 */
export class AssociationSlots {
  private open = 0;
  private closing = false;

  constructor(readonly max: number) {}

  get count(): number {
    return this.open;
  }

  /** Takes a slot, or says why none is given. */
  acquire(): SlotRefusal | undefined {
    if (this.closing) return 'closing';
    if (this.open >= this.max) return 'limit';
    this.open += 1;
    return undefined;
  }

  release(): void {
    this.open = Math.max(0, this.open - 1);
  }

  /** From now on every new association is refused (the server is shutting down). */
  refuseNew(): void {
    this.closing = true;
  }
}
