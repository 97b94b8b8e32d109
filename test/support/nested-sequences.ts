import { encodeFileMetaInformation } from '@mipseg/shared/dicom';
import { explicitElement, explicitItem, insertedBefore, SEQUENCE_END } from './explicit-elements';
import { implicitElement, implicitHeader } from './implicit-elements';

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

/** What a sequence of undefined length is nested as in Implicit VR: a standard one, or a private one with its creator. */
export type ImplicitSequenceTag = 'standard' | 'private';

const ITEM_START = implicitHeader(0xfffe, 0xe000, 0xffffffff);
const IMPLICIT_ITEM_END = implicitHeader(0xfffe, 0xe00d, 0);
const IMPLICIT_SEQUENCE_END = implicitHeader(0xfffe, 0xe0dd, 0);
/** A Private Creator (0009,0010) reserving (0009,10xx), in each item that holds the private sequence (0009,1010). */
const PRIVATE_CREATOR = implicitElement(0x0009, 0x0010, Buffer.from('ACME    ', 'latin1'));

/**
 * `depth` sequences of undefined length in Implicit VR, each the only one in its enclosing one's item (of undefined
 * length), the innermost item holding `innermost`: Referenced Series Sequences (0008,1115), or private (0009,1010)
 * ones (dicom-parser reads those and then keeps none of their items).
 */
export function implicitNestedSequences(depth: number, innermost: Buffer, tag: ImplicitSequenceTag): Buffer {
  let body = innermost;
  for (let level = 0; level < depth; level++) {
    const value = Buffer.concat([ITEM_START, body, IMPLICIT_ITEM_END, IMPLICIT_SEQUENCE_END]);
    body = tag === 'standard'
      ? Buffer.concat([implicitHeader(0x0008, 0x1115, 0xffffffff), value])
      : Buffer.concat([PRIVATE_CREATOR, implicitHeader(0x0009, 0x1010, 0xffffffff), value]);
  }
  return body;
}

const uidValue = (uid: string): Buffer => Buffer.from(uid.length % 2 ? `${uid}\0` : uid, 'latin1');

/**
 * A Secondary Capture instance in Implicit VR Little Endian with the attributes ingest requires (no Pixel Data), and
 * `nested` after its Modality (where (0008,1115) and group 0009 sort).
 */
export function implicitInstanceWith(sopInstanceUid: string, nested: Buffer): Buffer {
  const sopClass = '1.2.840.10008.5.1.4.1.1.7';
  const meta = encodeFileMetaInformation({ mediaStorageSopClassUid: sopClass, mediaStorageSopInstanceUid: sopInstanceUid,
    transferSyntaxUid: '1.2.840.10008.1.2' });
  return Buffer.concat([meta,
    implicitElement(0x0008, 0x0016, uidValue(sopClass)), implicitElement(0x0008, 0x0018, uidValue(sopInstanceUid)),
    implicitElement(0x0008, 0x0060, Buffer.from('OT', 'latin1')),
    nested,
    implicitElement(0x0010, 0x0010, Buffer.from('After^Nested', 'latin1')),
    implicitElement(0x0020, 0x000d, uidValue('2.25.5155.2')), implicitElement(0x0020, 0x000e, uidValue('2.25.5155.3')),
  ]);
}

/** A Code Value (0008,0100) in Implicit VR, for an innermost item. */
export const IMPLICIT_CODE_VALUE = implicitElement(0x0008, 0x0100, Buffer.from('DEEP  ', 'latin1'));
