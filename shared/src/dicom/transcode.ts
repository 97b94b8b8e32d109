import { MipsegError } from '../errors';
import { encodeDataSet, LONG_LENGTH_VRS, type Encoded } from './explicit-vr-little-endian';
import { readImplicitDataSet } from './implicit-data-set';
import { TransferSyntax } from './transfer-syntaxes';

const PREAMBLE_AND_PREFIX = 132;
const FILE_META_GROUP_LENGTH = 0x00020000;
const TRANSFER_SYNTAX_UID = 0x00020010;

interface MetaElement {
  readonly tag: number;
  readonly bytes: Uint8Array;
}

function unparseable(detail: string): MipsegError {
  return new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `File Meta Information: ${detail}`);
}

/** The File Meta elements (always Explicit VR Little Endian, PS3.10 7.1), each as its whole encoded element. */
function readFileMeta(file: Uint8Array): { elements: MetaElement[]; end: number } {
  if (file.length < PREAMBLE_AND_PREFIX || Buffer.from(file.subarray(128, 132)).toString('latin1') !== 'DICM') {
    throw unparseable('no 128-byte preamble and "DICM"');
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const elements: MetaElement[] = [];
  let at = PREAMBLE_AND_PREFIX;
  while (at + 8 <= file.length && view.getUint16(at, true) === 0x0002) {
    const tag = ((view.getUint16(at, true) << 16) | view.getUint16(at + 2, true)) >>> 0;
    const vr = String.fromCharCode(file[at + 4] as number, file[at + 5] as number);
    const long = LONG_LENGTH_VRS.has(vr);
    const end = long ? at + 12 + view.getUint32(at + 8, true) : at + 8 + view.getUint16(at + 6, true);
    if (end > file.length) throw unparseable(`element (0002,${(tag & 0xffff).toString(16)}) runs past the end`);
    elements.push({ tag, bytes: file.subarray(at, end) });
    at = end;
  }
  return { elements, end: at };
}

function uiElement(tag: number, uid: string): Buffer {
  // UI values are padded to even length with a NUL (PS3.5 6.2).
  const value = uid.length % 2 === 0 ? uid : `${uid}\0`;
  const element = Buffer.alloc(8 + value.length);
  element.writeUInt16LE(tag >>> 16, 0);
  element.writeUInt16LE(tag & 0xffff, 2);
  element.write('UI', 4, 'latin1');
  element.writeUInt16LE(value.length, 6);
  element.write(value, 8, 'latin1');
  return element;
}

function storedTransferSyntax(elements: readonly MetaElement[]): string {
  const element = elements.find((e) => e.tag === TRANSFER_SYNTAX_UID);
  if (!element) throw unparseable('no TransferSyntaxUID');
  return Buffer.from(element.bytes.subarray(8)).toString('latin1').replace(/[\0 ]+$/, '');
}

/** The File Meta group with TransferSyntaxUID replaced and its group length recomputed; the rest as stored. */
function rewriteFileMeta(elements: readonly MetaElement[], transferSyntaxUid: string): Encoded {
  const kept = elements
    .filter((e) => e.tag !== FILE_META_GROUP_LENGTH)
    .map((e) => (e.tag === TRANSFER_SYNTAX_UID ? uiElement(TRANSFER_SYNTAX_UID, transferSyntaxUid) : e.bytes));
  const length = kept.reduce((n, e) => n + e.length, 0);
  const groupLength = Buffer.from([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00, 0, 0, 0, 0]);
  groupLength.writeUInt32LE(length, 8);
  return { chunks: [groupLength, ...kept], length: groupLength.length + length };
}

/** Pieces at least this long are sent as views of the stored file; shorter runs are joined into one buffer. */
const ZERO_COPY_MIN_BYTES = 1 << 16;

function coalesce(chunks: readonly Uint8Array[]): Buffer[] {
  const out: Buffer[] = [];
  let run: Uint8Array[] = [];
  const flush = (): void => {
    if (run.length > 0) out.push(Buffer.concat(run));
    run = [];
  };
  for (const chunk of chunks) {
    if (chunk.length < ZERO_COPY_MIN_BYTES) run.push(chunk);
    else {
      flush();
      out.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    }
  }
  flush();
  return out;
}

/** True where transcodeToExplicitVrLittleEndian can produce Explicit VR Little Endian from this transfer syntax. */
export function canTranscodeToExplicitVrLittleEndian(transferSyntaxUid: string): boolean {
  return transferSyntaxUid === TransferSyntax.ImplicitVrLittleEndian;
}

/**
 * A PS3.10 file stored in Implicit VR Little Endian, re-encoded in Explicit VR Little Endian without loss: the
 * same elements with the same value bytes, VRs from the data dictionary (private and unknown elements as UN),
 * sequences and items in the length form they were stored in, File Meta TransferSyntaxUID and group length
 * updated (the preamble and every other File Meta element as stored). Returned as pieces, large values as
 * views of `file`, so a large instance is not copied. Throws MIPSEG_DICOM_UNPARSEABLE where the data set
 * cannot be read, MIPSEG_NOT_ACCEPTABLE where the file is in another transfer syntax.
 */
export function transcodeToExplicitVrLittleEndian(file: Uint8Array): Buffer[] {
  const meta = readFileMeta(file);
  const stored = storedTransferSyntax(meta.elements);
  if (!canTranscodeToExplicitVrLittleEndian(stored)) {
    throw new MipsegError('MIPSEG_NOT_ACCEPTABLE', `${TransferSyntax.ExplicitVrLittleEndian} from ${stored}`);
  }
  const dataSet = encodeDataSet(readImplicitDataSet(file.subarray(meta.end)));
  const fileMeta = rewriteFileMeta(meta.elements, TransferSyntax.ExplicitVrLittleEndian);
  return coalesce([file.subarray(0, PREAMBLE_AND_PREFIX)].concat(fileMeta.chunks, dataSet.chunks));
}
