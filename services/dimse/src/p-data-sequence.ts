/**
 * Follows the PDVs of one association's P-DATA-TF PDUs (PS3.8 9.3.5.1, PS3.7 Annex E) and says where they break the
 * rules dcmjs-dimse does not check. A message is its command's fragments, up to the one marked last, then (unless its
 * CommandDataSetType says there is none) its data set's, up to the one marked last, all on one presentation context.
 * dcmjs-dimse writes every PDV that arrives during a C-STORE data set into that data set, whatever its context or
 * command bit (another message's bytes were stored inside Pixel Data and answered Success), and drops every message
 * after the first of a P-DATA-TF (the SCU then waits for an answer that never comes).
 */
export class PDataSequence {
  private pdvHeader = Buffer.alloc(0);
  private pdvLeft = 0;
  private pdv: { readonly command: boolean; readonly last: boolean } | undefined;
  /** The message under way: its presentation context, and whether its command is still arriving. */
  private message: { readonly contextId: number; phase: 'command' | 'data' } | undefined;
  private command: Buffer[] = [];
  private commandBytes = 0;
  /** A message ended in the P-DATA-TF being read. */
  private endedInThisPdu = false;

  /** A P-DATA-TF begins. */
  startPdu(): void {
    this.endedInThisPdu = false;
  }

  /** The next bytes of the P-DATA-TF's body; the rule they break, if any. */
  accept(body: Buffer): string | undefined {
    let offset = 0;
    while (offset < body.length) {
      if (this.pdvLeft > 0) {
        const taken = Math.min(this.pdvLeft, body.length - offset);
        if (this.pdv?.command) {
          this.commandBytes += taken;
          if (this.commandBytes > MAX_COMMAND_BYTES) return `a command set over ${MAX_COMMAND_BYTES} bytes`;
          this.command.push(Buffer.from(body.subarray(offset, offset + taken)));
        }
        this.pdvLeft -= taken;
        offset += taken;
        if (this.pdvLeft === 0) this.endPdv();
        continue;
      }
      const needed = PDV_HEADER_BYTES - this.pdvHeader.length;
      this.pdvHeader = Buffer.concat([this.pdvHeader, body.subarray(offset, offset + needed)]);
      offset += Math.min(needed, body.length - offset);
      if (this.pdvHeader.length < PDV_HEADER_BYTES) return undefined;
      const broken = this.startPdv(this.pdvHeader);
      this.pdvHeader = Buffer.alloc(0);
      if (broken) return broken;
    }
    return undefined;
  }

  /** The P-DATA-TF has ended: a PDV may not run past it. */
  endPdu(): string | undefined {
    return this.pdvHeader.length > 0 || this.pdvLeft > 0 ? 'a PDV running past the end of its P-DATA-TF' : undefined;
  }

  private startPdv(header: Buffer): string | undefined {
    const length = header.readUInt32BE(0);
    const contextId = header.readUInt8(4);
    const control = header.readUInt8(5);
    const command = (control & 0x01) !== 0;
    const last = (control & 0x02) !== 0;
    if (length < 2) return `a PDV of length ${length}`;
    if (this.endedInThisPdu) return 'a P-DATA-TF holding a second message: the operations window is one';
    const m = this.message;
    if (!m) {
      if (!command) return `a data set PDV (presentation context ${contextId}) with no command before it`;
      this.message = { contextId, phase: 'command' };
      this.command = [];
      this.commandBytes = 0;
    } else if (contextId !== m.contextId) {
      return `a PDV of presentation context ${contextId} inside a message on ${m.contextId}`;
    } else if (m.phase === 'command' && !command) {
      return 'a data set PDV before the last fragment of its command';
    } else if (m.phase === 'data' && command) {
      return 'a command PDV inside a data set';
    }
    this.pdv = { command, last };
    this.pdvLeft = length - 2;
    if (this.pdvLeft === 0) this.endPdv();
    return undefined;
  }

  private endPdv(): void {
    const { pdv, message } = this;
    this.pdv = undefined;
    if (!pdv?.last || !message) return;
    if (pdv.command && hasDataSet(Buffer.concat(this.command))) {
      message.phase = 'data';
      return;
    }
    this.message = undefined;
    this.endedInThisPdu = true;
  }
}

const PDV_HEADER_BYTES = 6; // Item-length (4), Presentation-context-ID, Message Control Header (PS3.8 9.3.5.1)
/** A command set is a few hundred bytes; a C-FIND's or an N-ACTION's a few kilobytes at most. */
const MAX_COMMAND_BYTES = 64 * 1024;
/** CommandDataSetType (0000,0800) when no data set follows (PS3.7 E.1). */
const NO_DATA_SET = 0x0101;

/**
 * Whether a command set (Implicit VR Little Endian, PS3.7 6.3.1) says a data set follows: CommandDataSetType other than
 * 0101H, or absent, as dcmjs-dimse reads it.
 */
function hasDataSet(command: Buffer): boolean {
  for (let at = 0; at + 8 <= command.length;) {
    const group = command.readUInt16LE(at);
    const element = command.readUInt16LE(at + 2);
    const length = command.readUInt32LE(at + 4);
    if (group === 0x0000 && element === 0x0800 && length === 2 && at + 10 <= command.length) {
      return command.readUInt16LE(at + 8) !== NO_DATA_SET;
    }
    at += 8 + length;
  }
  return true;
}
