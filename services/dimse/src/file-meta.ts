import { MipsegError } from '@mipseg/shared/errors';

/**
 * mipseg's Implementation Class UID (PS3.7 D.3.3.2): a UUID-derived UID under 2.25 (PS3.5 B.2), so it needs
 * no registered org root. Fixed forever: receivers use it to recognise files and associations from mipseg.
 */
export const MIPSEG_IMPLEMENTATION_CLASS_UID = '2.25.223437429600400466821254929987824980855';
/** Implementation Version Name (SH, at most 16 characters). */
export const MIPSEG_IMPLEMENTATION_VERSION_NAME = 'MIPSEG_0.1';

const PREAMBLE_LENGTH = 128;
const GROUP_2_START = PREAMBLE_LENGTH + 4;
// PS3.5 7.1.2: these VRs carry two reserved bytes and a 32-bit length in Explicit VR.
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

export interface FileMetaInformation {
  readonly mediaStorageSopClassUid: string;
  readonly mediaStorageSopInstanceUid: string;
  readonly transferSyntaxUid: string;
  /** The calling AE title the instance came from, when known. */
  readonly sourceApplicationEntityTitle?: string;
}

function padded(value: string, pad: number): Buffer {
  const bytes = Buffer.from(value, 'latin1');
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.from([pad])]);
}

function explicitElement(element: number, vr: string, value: Buffer): Buffer {
  const long = LONG_VRS.has(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(0x0002, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(value.length, 8);
  else header.writeUInt16LE(value.length, 6);
  return Buffer.concat([header, value]);
}

/**
 * The 128-byte preamble, "DICM" and the File Meta Information group (PS3.10 7.1), Explicit VR Little Endian.
 * The data set that follows is written unchanged, so TransferSyntaxUID must name the encoding it arrived in.
 */
export function encodeFileMetaInformation(meta: FileMetaInformation): Buffer {
  const uid = (v: string) => padded(v, 0x00);
  const text = (v: string) => padded(v, 0x20);
  const elements = [
    explicitElement(0x0001, 'OB', Buffer.from([0x00, 0x01])),
    explicitElement(0x0002, 'UI', uid(meta.mediaStorageSopClassUid)),
    explicitElement(0x0003, 'UI', uid(meta.mediaStorageSopInstanceUid)),
    explicitElement(0x0010, 'UI', uid(meta.transferSyntaxUid)),
    explicitElement(0x0012, 'UI', uid(MIPSEG_IMPLEMENTATION_CLASS_UID)),
    explicitElement(0x0013, 'SH', text(MIPSEG_IMPLEMENTATION_VERSION_NAME)),
  ];
  const ae = meta.sourceApplicationEntityTitle?.trim();
  if (ae) elements.push(explicitElement(0x0016, 'AE', text(ae.slice(0, 16))));
  const body = Buffer.concat(elements);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length, 0);
  const prefix = Buffer.alloc(GROUP_2_START);
  prefix.write('DICM', PREAMBLE_LENGTH, 'latin1');
  return Buffer.concat([prefix, explicitElement(0x0000, 'UL', groupLength), body]);
}

/** What a reader needs from a PS3.10 file's meta group: where the data set starts and how it is encoded. */
export interface ParsedFileMeta extends FileMetaInformation {
  /** Byte offset of the first data set element, just after the File Meta Information. */
  readonly dataSetOffset: number;
}

function unparseable(detail: string): MipsegError {
  return new MipsegError('MIPSEG_DICOM_UNPARSEABLE', detail);
}

/**
 * Walks the File Meta Information element by element (not trusting the group length, which some writers
 * get wrong) and returns the UIDs and the offset of the data set. `bytes` may be just the file's start.
 */
export function readFileMetaInformation(bytes: Buffer): ParsedFileMeta {
  if (bytes.length < GROUP_2_START || bytes.toString('latin1', PREAMBLE_LENGTH, GROUP_2_START) !== 'DICM') {
    throw unparseable('no PS3.10 File Meta Information (128-byte preamble and "DICM")');
  }
  const values = new Map<number, string>();
  let offset = GROUP_2_START;
  while (offset + 8 <= bytes.length && bytes.readUInt16LE(offset) === 0x0002) {
    const element = bytes.readUInt16LE(offset + 2);
    const vr = bytes.toString('latin1', offset + 4, offset + 6);
    const long = LONG_VRS.has(vr);
    const length = long ? bytes.readUInt32LE(offset + 8) : bytes.readUInt16LE(offset + 6);
    const start = offset + (long ? 12 : 8);
    if (length === 0xffffffff || start + length > bytes.length) throw unparseable('File Meta Information truncated');
    if (vr === 'UI') values.set(element, bytes.toString('latin1', start, start + length).replace(/[\0 ]+$/, ''));
    offset = start + length;
  }
  if (offset + 8 > bytes.length) throw unparseable('File Meta Information truncated');
  const transferSyntaxUid = values.get(0x0010);
  if (!transferSyntaxUid) throw unparseable('File Meta Information has no TransferSyntaxUID');
  return {
    mediaStorageSopClassUid: values.get(0x0002) ?? '',
    mediaStorageSopInstanceUid: values.get(0x0003) ?? '',
    transferSyntaxUid,
    dataSetOffset: offset,
  };
}
