import { MipsegError } from '../errors';
import { explicitElement, LONG_LENGTH_VRS } from './explicit-vr-little-endian';
import { MIPSEG_IMPLEMENTATION_CLASS_UID, MIPSEG_IMPLEMENTATION_VERSION_NAME } from './implementation-uid';

const PREAMBLE_LENGTH = 128;
const GROUP_2_START = PREAMBLE_LENGTH + 4;
const FILE_META_GROUP = 0x0002;

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

/** A UI value padded to even length with a NUL (PS3.5 6.2). */
export function uidValue(uid: string): Buffer {
  return padded(uid, 0x00);
}

/** A File Meta element (group 0002) in Explicit VR Little Endian. */
function metaElement(element: number, vr: string, value: Buffer): Buffer {
  return explicitElement(((FILE_META_GROUP << 16) | element) >>> 0, vr, value);
}

/** (0002,0000) FileMetaInformationGroupLength for a group whose other elements take `length` bytes. */
export function fileMetaGroupLength(length: number): Buffer {
  const value = Buffer.alloc(4);
  value.writeUInt32LE(length, 0);
  return metaElement(0x0000, 'UL', value);
}

/**
 * The 128-byte preamble, "DICM" and the File Meta Information group (PS3.10 7.1), Explicit VR Little Endian.
 * The data set that follows is written unchanged, so TransferSyntaxUID must name the encoding it arrived in.
 */
export function encodeFileMetaInformation(meta: FileMetaInformation): Buffer {
  const text = (v: string) => padded(v, 0x20);
  const elements = [
    metaElement(0x0001, 'OB', Buffer.from([0x00, 0x01])),
    metaElement(0x0002, 'UI', uidValue(meta.mediaStorageSopClassUid)),
    metaElement(0x0003, 'UI', uidValue(meta.mediaStorageSopInstanceUid)),
    metaElement(0x0010, 'UI', uidValue(meta.transferSyntaxUid)),
    metaElement(0x0012, 'UI', uidValue(MIPSEG_IMPLEMENTATION_CLASS_UID)),
    metaElement(0x0013, 'SH', text(MIPSEG_IMPLEMENTATION_VERSION_NAME)),
  ];
  const ae = meta.sourceApplicationEntityTitle?.trim();
  if (ae) elements.push(metaElement(0x0016, 'AE', text(ae.slice(0, 16))));
  const body = Buffer.concat(elements);
  const prefix = Buffer.alloc(GROUP_2_START);
  prefix.write('DICM', PREAMBLE_LENGTH, 'latin1');
  return Buffer.concat([prefix, fileMetaGroupLength(body.length), body]);
}

/** What a reader needs from a PS3.10 file's meta group: where the data set starts and how it is encoded. */
export interface ParsedFileMeta extends FileMetaInformation {
  /** Byte offset of the first data set element, just after the File Meta Information. */
  readonly dataSetOffset: number;
}

/** One File Meta element as stored: its element number, VR, and where its bytes (header included) lie. */
export interface StoredMetaElement {
  readonly element: number;
  readonly vr: string;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
}

function unparseable(detail: string): MipsegError {
  return new MipsegError('MIPSEG_DICOM_UNPARSEABLE', detail);
}

/**
 * Walks the File Meta Information element by element (not trusting the group length, which some writers get
 * wrong): its elements and the offset of the data set. `bytes` may be just the file's start, but must reach
 * past the meta group.
 */
export function walkFileMeta(bytes: Uint8Array): { elements: StoredMetaElement[]; dataSetOffset: number } {
  const file = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (file.length < GROUP_2_START || file.toString('latin1', PREAMBLE_LENGTH, GROUP_2_START) !== 'DICM') {
    throw unparseable('no PS3.10 File Meta Information (128-byte preamble and "DICM")');
  }
  const elements: StoredMetaElement[] = [];
  let offset = GROUP_2_START;
  while (offset + 8 <= file.length && file.readUInt16LE(offset) === FILE_META_GROUP) {
    const element = file.readUInt16LE(offset + 2);
    const vr = file.toString('latin1', offset + 4, offset + 6);
    const long = LONG_LENGTH_VRS.has(vr);
    if (long && offset + 12 > file.length) throw unparseable('File Meta Information truncated');
    const length = long ? file.readUInt32LE(offset + 8) : file.readUInt16LE(offset + 6);
    const valueStart = offset + (long ? 12 : 8);
    if (length === 0xffffffff || valueStart + length > file.length) throw unparseable('File Meta Information truncated');
    elements.push({ element, vr, start: offset, valueStart, end: valueStart + length });
    offset = valueStart + length;
  }
  if (offset + 8 > file.length) throw unparseable('File Meta Information truncated');
  return { elements, dataSetOffset: offset };
}

/** The value of the UI element (0002,`element`) found by walkFileMeta, without its padding. */
export function metaUid(bytes: Uint8Array, elements: readonly StoredMetaElement[], element: number): string | undefined {
  const e = elements.find((m) => m.element === element && m.vr === 'UI');
  return e && Buffer.from(bytes.buffer, bytes.byteOffset + e.valueStart, e.end - e.valueStart).toString('latin1').replace(/[\0 ]+$/, '');
}

/** The UIDs of the File Meta Information and the offset of the data set. `bytes` may be just the file's start. */
export function readFileMetaInformation(bytes: Uint8Array): ParsedFileMeta {
  const { elements, dataSetOffset } = walkFileMeta(bytes);
  const uid = (element: number): string | undefined => metaUid(bytes, elements, element);
  const transferSyntaxUid = uid(0x0010);
  if (!transferSyntaxUid) throw unparseable('File Meta Information has no TransferSyntaxUID');
  return {
    mediaStorageSopClassUid: uid(0x0002) ?? '',
    mediaStorageSopInstanceUid: uid(0x0003) ?? '',
    transferSyntaxUid,
    dataSetOffset,
  };
}

/**
 * The SOP Class and Instance UIDs the File Meta Information names, as far as `head` (a file's first bytes) holds
 * them; none where it cannot be read. For a failure to name its instance when the data set was not read
 * (FailedSOPSequence's UIDs are Type 1, and they tell the sender which one it was).
 */
export function fileMetaUids(head: Uint8Array): { sopClassUid?: string; sopInstanceUid?: string } {
  try {
    const meta = readFileMetaInformation(head);
    return { sopClassUid: meta.mediaStorageSopClassUid || undefined, sopInstanceUid: meta.mediaStorageSopInstanceUid || undefined };
  } catch {
    return {};
  }
}
