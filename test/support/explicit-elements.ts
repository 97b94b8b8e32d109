/** Explicit VR Little Endian elements and items, whole, for tests that build data sets no writer here makes. */

/** An element: a 2-byte length or (`long`: OB, SQ, OV, SV, UV, …) two reserved bytes and a 4-byte one; `length` may lie. */
export function explicitElement(group: number, element: number, vr: string, value: Buffer, long = false, length = value.length): Buffer {
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(length, 8);
  else header.writeUInt16LE(length, 6);
  return Buffer.concat([header, value]);
}

/** An item holding `body`, of defined length or of undefined length with its Item Delimitation Item. */
export function explicitItem(body: Buffer, undefinedLength = false): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0xfffe, 0);
  header.writeUInt16LE(0xe000, 2);
  header.writeUInt32LE(undefinedLength ? 0xffffffff : body.length, 4);
  return Buffer.concat([header, body, undefinedLength ? ITEM_END : Buffer.alloc(0)]);
}

const ITEM_END = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
/** The Sequence Delimitation Item that ends a sequence of undefined length. */
export const SEQUENCE_END = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);

/** `file` with `inserted` before its first element (group, element), found in its data set (past the preamble). */
export function insertedBefore(file: Buffer, group: number, element: number, inserted: Buffer): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16LE(group, 0);
  tag.writeUInt16LE(element, 2);
  const at = file.indexOf(tag, 132);
  if (at < 0) throw new Error(`no element (${group.toString(16)},${element.toString(16)})`);
  return Buffer.concat([file.subarray(0, at), inserted, file.subarray(at)]);
}
