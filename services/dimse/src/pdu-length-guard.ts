import { ASSOCIATE_RQ_FIXED_FIELDS_BYTES, associateRequestFault } from './associate-request-items';
import { PDataSequence } from './p-data-sequence';

/**
 * The limits this SCP holds peers to. P-DATA-TF: the Maximum Length Received that dcmjs-dimse announces in
 * its A-ASSOCIATE-AC (its default, 256 KiB; PS3.8 D.1 binds the sender to it). Other PDUs carry no pixel
 * data: an A-ASSOCIATE-RQ with 128 presentation contexts and user identity stays far below 1 MiB.
 */
export const MAX_P_DATA_TF_LENGTH = 262_144;
export const MAX_OTHER_PDU_LENGTH = 1 << 20;

/**
 * The Maximum Length Received to announce in an A-ASSOCIATE-AC. dcmjs-dimse announces the smaller of the peer's
 * value and its own; a peer announcing 0 ("no limit", PS3.8 D.1) would be told there is none here either, and
 * then have every P-DATA-TF longer than MAX_P_DATA_TF_LENGTH aborted by the guard below.
 */
export function maxPduLengthToAnnounce(peerMaximum: number): number {
  return peerMaximum === 0 ? MAX_P_DATA_TF_LENGTH : Math.min(peerMaximum, MAX_P_DATA_TF_LENGTH);
}

const PDU_HEADER_BYTES = 6; // PDU-type, reserved, PDU-length (PS3.8 9.3)
const A_ASSOCIATE_RQ = 0x01;
const A_ASSOCIATE_AC = 0x02;
const A_ASSOCIATE_RJ = 0x03;
const P_DATA_TF = 0x04;
/** A-ASSOCIATE-RQ (1) to A-ABORT (7): the PDU types of PS3.8 9.3.1. */
const LAST_PDU_TYPE = 0x07;

/** What the peer sent that this SCP will not take: a PDU longer than its limit, or bytes breaking PS3.8's rules. */
export interface PduRefusal {
  readonly pduType: number;
  /** For the log and the test: what was wrong. */
  readonly reason: string;
  readonly length?: number;
  readonly limit?: number;
  /** A PDU PS3.8's state machine does not allow in this state (AA-8): the A-ABORT gives reason 2, unexpected PDU. */
  readonly unexpected?: true;
}

/**
 * Follows the PDU boundaries of one connection's incoming bytes, ahead of dcmjs-dimse, and reports the first PDU it
 * will not take:
 * - one whose header announces more than the limit. dcmjs-dimse buffers a whole PDU before it parses it, copying what
 *   it holds on every chunk, so a peer announcing a 4 GiB PDU would otherwise grow this process's memory and CPU (and
 *   stall the gateway beside it) until the PDU timeout;
 * - one of a type PS3.8 does not have: dcmjs-dimse drops the chunk it came in and loses the PDU boundaries, so the
 *   length limit above would no longer hold;
 * - a P-DATA-TF whose PDVs break the rules dcmjs-dimse does not check (see PDataSequence);
 * - an A-ASSOCIATE-RQ whose items break PS3.8's rules (see associateRequestFault);
 * - an A-ASSOCIATE-RQ, -AC or -RJ after the connection's A-ASSOCIATE-RQ (see unexpectedPdu).
 */
export class PduLengthGuard {
  private header = Buffer.alloc(0);
  private bodyLeft = 0;
  private inPData = false;
  private readonly pData = new PDataSequence();
  /** The A-ASSOCIATE-RQ being received, whole (at most MAX_OTHER_PDU_LENGTH), checked at its end. */
  private associateRequest: Buffer[] | undefined;
  private associationRequested = false;
  private pdusReceived = 0;

  /**
   * PDUs received whole so far. Activity is counted by these, not by bytes: a peer sending a byte every few minutes
   * inside one PDU would otherwise hold its association (and one of DIMSE_MAX_ASSOCIATIONS) for ever.
   */
  get completedPdus(): number {
    return this.pdusReceived;
  }

  /** Feeds the next chunk; returns the first PDU it will not take, if any. */
  accept(chunk: Buffer): PduRefusal | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.bodyLeft > 0) {
        const taken = Math.min(this.bodyLeft, chunk.length - offset);
        const body = chunk.subarray(offset, offset + taken);
        this.bodyLeft -= taken;
        offset += taken;
        if (this.bodyLeft === 0) this.pdusReceived += 1;
        const broken = this.inPData ? this.pData.accept(body) ?? (this.bodyLeft === 0 ? this.pData.endPdu() : undefined) : undefined;
        if (broken) return { pduType: P_DATA_TF, reason: broken };
        const faulty = this.takeAssociateRequest(body);
        if (faulty) return { pduType: A_ASSOCIATE_RQ, reason: faulty };
        continue;
      }
      const needed = PDU_HEADER_BYTES - this.header.length;
      this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + needed)]);
      offset += Math.min(needed, chunk.length - offset);
      if (this.header.length < PDU_HEADER_BYTES) return undefined;
      const pduType = this.header.readUInt8(0);
      const length = this.header.readUInt32BE(2);
      this.header = Buffer.alloc(0);
      if (pduType < 1 || pduType > LAST_PDU_TYPE) return { pduType, reason: `PDU type ${pduType}, which PS3.8 does not have` };
      const unexpected = this.unexpectedPdu(pduType);
      if (unexpected) return { pduType, reason: unexpected, unexpected: true };
      const limit = pduType === P_DATA_TF ? MAX_P_DATA_TF_LENGTH : MAX_OTHER_PDU_LENGTH;
      if (length > limit) return { pduType, reason: `a PDU of ${length} bytes, over the ${limit} taken`, length, limit };
      this.bodyLeft = length;
      if (length === 0) this.pdusReceived += 1;
      this.inPData = pduType === P_DATA_TF;
      this.associateRequest = pduType === A_ASSOCIATE_RQ ? [] : undefined;
      if (this.associateRequest && length < ASSOCIATE_RQ_FIXED_FIELDS_BYTES) {
        return { pduType, reason: `an A-ASSOCIATE-RQ of ${length} bytes, shorter than its fixed fields` };
      }
      if (this.inPData) {
        this.pData.startPdu();
        if (length === 0) return { pduType, reason: 'a P-DATA-TF with no PDV' };
      }
    }
    return undefined;
  }

  /**
   * An acceptor never sends an A-ASSOCIATE-RQ, so an A-ASSOCIATE-AC or -RJ never answers one, and a connection carries
   * one association: once the peer's A-ASSOCIATE-RQ is in, PS3.8 9.2 (Table 9-10) gives AA-8 for all three while it is
   * answered and while the association is established or being released. dcmjs-dimse would read a second
   * A-ASSOCIATE-RQ as a new association on the same connection, and an A-ASSOCIATE-AC into the one under way,
   * overwriting the presentation contexts it had accepted. Ahead of the A-ASSOCIATE-RQ (Sta2) PS3.8 has AA-1 instead.
   */
  private unexpectedPdu(pduType: number): string | undefined {
    if (pduType !== A_ASSOCIATE_RQ && pduType !== A_ASSOCIATE_AC && pduType !== A_ASSOCIATE_RJ) return undefined;
    if (!this.associationRequested) {
      this.associationRequested = pduType === A_ASSOCIATE_RQ;
      return undefined;
    }
    const name = { [A_ASSOCIATE_RQ]: 'A-ASSOCIATE-RQ', [A_ASSOCIATE_AC]: 'A-ASSOCIATE-AC', [A_ASSOCIATE_RJ]: 'A-ASSOCIATE-RJ' }[pduType];
    return `an ${name} after the connection's A-ASSOCIATE-RQ (PS3.8 AA-8, unexpected PDU)`;
  }

  /** Collects an A-ASSOCIATE-RQ's body; at its end, what breaks the rules in it. */
  private takeAssociateRequest(body: Buffer): string | undefined {
    if (!this.associateRequest) return undefined;
    this.associateRequest.push(body);
    if (this.bodyLeft > 0) return undefined;
    const whole = Buffer.concat(this.associateRequest);
    this.associateRequest = undefined;
    return associateRequestFault(whole);
  }
}

/** A-ABORT (PS3.8 9.3.8): source 2, service provider; reason 2, unexpected PDU. */
export const A_ABORT_UNEXPECTED_PDU = Buffer.from([0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x02]);

/** A-ABORT (PS3.8 9.3.8): source 2, service provider; reason 6, invalid PDU parameter value. */
export const A_ABORT_INVALID_PDU_PARAMETER = Buffer.from([0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x06]);

/** A-ABORT (PS3.8 9.3.8): source 0, the service user (mipseg: shutting down, or an association idle too long); reason not significant. */
export const A_ABORT_BY_USER = Buffer.from([0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]);
