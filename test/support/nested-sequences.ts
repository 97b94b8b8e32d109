import { explicitElement, explicitItem, insertedBefore, SEQUENCE_END } from './explicit-elements';

/**
 * `depth` Referenced Series Sequences (0008,1115), each the only element of its enclosing one's item, the innermost
 * item holding `innermost`: of undefined length (items and sequences, as the reviewer's crafted file) or of defined.
 */
export function nestedSequences(depth: number, innermost: Buffer, undefinedLength = true): Buffer {
  let body = innermost;
  for (let level = 0; level < depth; level++) {
    const item = explicitItem(body, undefinedLength);
    body = undefinedLength
      ? explicitElement(0x0008, 0x1115, 'SQ', Buffer.concat([item, SEQUENCE_END]), true, 0xffffffff)
      : explicitElement(0x0008, 0x1115, 'SQ', item, true);
  }
  return body;
}

/** `file` (Explicit VR Little Endian) with nestedSequences(depth, …) before its Patient's Name, where (0008,1115) sorts. */
export function withNestedSequences(file: Buffer, depth: number, innermost: Buffer, undefinedLength = true): Buffer {
  return insertedBefore(file, 0x0010, 0x0010, nestedSequences(depth, innermost, undefinedLength));
}

/** A Code Value (0008,0100), for an innermost item. */
export const CODE_VALUE = explicitElement(0x0008, 0x0100, 'SH', Buffer.from('DEEP  ', 'latin1'));
