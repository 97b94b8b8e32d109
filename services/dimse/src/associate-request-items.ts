/** Protocol version, reserved, called and calling AE titles, reserved: the A-ASSOCIATE-RQ fields ahead of its items (PS3.8 9.3.2). */
export const ASSOCIATE_RQ_FIXED_FIELDS_BYTES = 68;
const ITEM_HEADER_BYTES = 4; // item-type, reserved, item-length
const PRESENTATION_CONTEXT_ITEM = 0x20;

/**
 * Checks the variable items of an A-ASSOCIATE-RQ body: each within the PDU, and each presentation context's ID odd and
 * proposed once (PS3.8 9.3.2.2; one byte, so at most 128 contexts). dcmjs-dimse gives a repeated ID the next free one
 * and keeps counting past 255: its A-ASSOCIATE-AC then answered a context the peer never proposed, or could not be
 * written at all, and the exception took the whole process down with the gateway beside it.
 * @returns what breaks the rules, for the log; undefined when nothing does.
 */
export function associateRequestFault(body: Buffer): string | undefined {
  if (body.length < ASSOCIATE_RQ_FIXED_FIELDS_BYTES) return `an A-ASSOCIATE-RQ of ${body.length} bytes, shorter than its fixed fields`;
  const ids = new Set<number>();
  for (let at = ASSOCIATE_RQ_FIXED_FIELDS_BYTES; at < body.length;) {
    if (at + ITEM_HEADER_BYTES > body.length) return 'an A-ASSOCIATE-RQ item header cut off by the end of the PDU';
    const type = body.readUInt8(at);
    const end = at + ITEM_HEADER_BYTES + body.readUInt16BE(at + 2);
    if (end > body.length) return `an A-ASSOCIATE-RQ item (type 0x${type.toString(16)}) running past the end of the PDU`;
    if (type === PRESENTATION_CONTEXT_ITEM) {
      const id = end > at + ITEM_HEADER_BYTES ? body.readUInt8(at + ITEM_HEADER_BYTES) : 0;
      if (id % 2 === 0) return `presentation context ID ${id}, which is not odd`;
      if (ids.has(id)) return `presentation context ID ${id} proposed twice`;
      ids.add(id);
    }
    at = end;
  }
  return undefined;
}
