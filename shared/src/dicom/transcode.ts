import { MipsegError } from '../errors';
import { encodeDataSet, explicitElement, type Encoded } from './explicit-vr-little-endian';
import { fileMetaGroupLength, metaUid, uidValue, walkFileMeta, type StoredMetaElement } from './file-meta';
import { readImplicitDataSet } from './implicit-data-set';
import { TransferSyntax } from './transfer-syntaxes';

const PREAMBLE_AND_PREFIX = 132;
const FILE_META_GROUP_LENGTH = 0x0000;
const TRANSFER_SYNTAX_UID = 0x0010;

function storedTransferSyntax(file: Uint8Array, elements: readonly StoredMetaElement[]): string {
  const uid = metaUid(file, elements, TRANSFER_SYNTAX_UID);
  if (!uid) throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', 'File Meta Information has no TransferSyntaxUID');
  return uid;
}

/** The File Meta group with TransferSyntaxUID replaced and its group length recomputed; the rest as stored. */
function rewriteFileMeta(file: Uint8Array, elements: readonly StoredMetaElement[], transferSyntaxUid: string): Encoded {
  const kept = elements
    .filter((e) => e.element !== FILE_META_GROUP_LENGTH)
    .map((e) => (e.element === TRANSFER_SYNTAX_UID
      ? explicitElement(0x00020000 | TRANSFER_SYNTAX_UID, 'UI', uidValue(transferSyntaxUid))
      : file.subarray(e.start, e.end)));
  const length = kept.reduce((n, e) => n + e.length, 0);
  const groupLength = fileMetaGroupLength(length);
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
  const meta = walkFileMeta(file);
  const stored = storedTransferSyntax(file, meta.elements);
  if (!canTranscodeToExplicitVrLittleEndian(stored)) {
    throw new MipsegError('MIPSEG_NOT_ACCEPTABLE', `${TransferSyntax.ExplicitVrLittleEndian} from ${stored}`);
  }
  const dataSet = encodeDataSet(readImplicitDataSet(file.subarray(meta.dataSetOffset)));
  const fileMeta = rewriteFileMeta(file, meta.elements, TransferSyntax.ExplicitVrLittleEndian);
  return coalesce([file.subarray(0, PREAMBLE_AND_PREFIX)].concat(fileMeta.chunks, dataSet.chunks));
}
