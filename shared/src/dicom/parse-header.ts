import * as dicomParser from 'dicom-parser';
import { MipsegError } from '../errors';
import { dicomTextDecoder, specificCharacterSetOf, type DicomTextDecoder } from './character-sets';
import { INDEXED_ATTRIBUTES, type IndexedValues } from './attributes';
import { readFileMetaInformation } from './file-meta';
import { parseStoredDicom } from './parse-options';
import { assertSequenceDepthWithin } from './sequence-depth';
import { isValidUid } from './uid';

/** What ingest learns from an instance's header: the file meta and the indexed attributes. */
export interface InstanceHeader {
  readonly transferSyntaxUid: string;
  readonly mediaStorageSopClassUid: string;
  readonly mediaStorageSopInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
  readonly modality: string;
  /** Pixel Data of undefined length (a compressed transfer syntax): its completeness is checked on the file. */
  readonly encapsulated: boolean;
  /** Whether it has (7FE0,0010) Pixel Data, or Float or Double Float Pixel Data. */
  readonly hasPixelData: boolean;
  readonly values: IndexedValues;
}

function decoderFor(dataSet: dicomParser.DataSet): DicomTextDecoder {
  return dicomTextDecoder(specificCharacterSetOf(dataSet) ?? '');
}

/**
 * Empty trailing components and component groups say nothing (PS3.5 6.2.1.1): 'Doe^John^^^' is 'Doe^John', and
 * 'Wang^XiaoDong=王^小東=' is 'Wang^XiaoDong=王^小東'. One name, one form, so that a search for it finds it.
 */
export function withoutEmptyTrailingComponents(name: string): string {
  return name.split('\\').map((value) => value.split('=').map((group) => group.replace(/\^+$/, '')).join('=').replace(/=+$/, '')).join('\\');
}

function readText(dataSet: dicomParser.DataSet, tag: string, vr: string, decoder: DicomTextDecoder): string | null {
  const el = dataSet.elements[`x${tag.toLowerCase()}`];
  if (!el || el.length === 0 || el.length === 0xffffffff) return null;
  const bytes = dataSet.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
  const trimmed = decoder.decode(bytes, vr).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  const text = vr === 'PN' ? withoutEmptyTrailingComponents(trimmed) : trimmed;
  return text === '' ? null : text;
}

function readNumber(dataSet: dicomParser.DataSet, tag: string, vr: string): number | null {
  const key = `x${tag.toLowerCase()}`;
  const el = dataSet.elements[key];
  if (!el || el.length === 0) return null;
  if (vr === 'US') return el.length >= 2 ? dataSet.uint16(key) ?? null : null;
  const n = Number((dataSet.string(key) ?? '').trim());
  return Number.isFinite(n) && (dataSet.string(key) ?? '').trim() !== '' ? n : null;
}

/** Parses up to and including `untilTag` (Pixel Data unless told otherwise). */
function parse(bytes: Uint8Array, untilTag = 'x7fe00010'): dicomParser.DataSet {
  if (bytes.length < 132 || String.fromCharCode(...bytes.subarray(128, 132)) !== 'DICM') {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', 'no PS3.10 File Meta Information (128-byte preamble and "DICM")');
  }
  return parseStoredDicom(bytes, untilTag);
}

function requireUid(dataSet: dicomParser.DataSet, tag: string, keyword: string): string {
  const uid = (dataSet.string(`x${tag.toLowerCase()}`) ?? '').replace(/\0/g, '').trim();
  if (!isValidUid(uid)) {
    throw new MipsegError('MIPSEG_DICOM_MISSING_ATTRIBUTE', `${keyword} (${tag.slice(0, 4)},${tag.slice(4)})${uid ? ` "${uid.slice(0, 70)}"` : ''}`);
  }
  return uid;
}

const UNDEFINED_LENGTH = 0xffffffff;

function isEncapsulated(dataSet: dicomParser.DataSet): boolean {
  const pixel = dataSet.elements['x7fe00010'];
  return pixel !== undefined && (pixel.length === UNDEFINED_LENGTH || pixel.hadUndefinedLength === true);
}

/** A file cut short inside its pixel data parses fine up to Pixel Data; its declared length gives it away. */
function assertPixelDataComplete(dataSet: dicomParser.DataSet, fileSize: number): void {
  const pixel = dataSet.elements['x7fe00010'];
  if (!pixel || isEncapsulated(dataSet)) return;
  if (pixel.dataOffset + pixel.length > fileSize) {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `truncated: Pixel Data needs ${pixel.dataOffset + pixel.length} bytes, file has ${fileSize}`);
  }
}

/** The VRs of PS3.5 6.2. */
const VALID_VRS: ReadonlySet<string> = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD',
  'OF', 'OL', 'OV', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV']);

/**
 * Refuses an element whose (explicit) VR code PS3.5 does not have. Readers disagree on its length: dicom-parser and
 * dcmtk read a 2-byte length after it, dcmjs (which WADO-RS metadata is read with) a UN's 4-byte one, taking value
 * bytes for a length and the rest of the data set for the value, so the metadata of such a file would lose every
 * element after it.
 */
function assertKnownVrs(dataSet: dicomParser.DataSet): void {
  for (const [tag, el] of Object.entries(dataSet.elements)) {
    // Item and delimitation items (FFFE) have no VR; an implicit VR data set's are the dictionary's, or none.
    if (el.vr !== undefined && el.vr !== '' && !tag.startsWith('xfffe') && !VALID_VRS.has(el.vr)) {
      throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `(${tag.slice(1, 5)},${tag.slice(5)}) has VR "${el.vr.replace(/[^\x20-\x7e]/g, '?')}", `
        + 'which PS3.5 does not have');
    }
    for (const item of el.items ?? []) if (item.dataSet) assertKnownVrs(item.dataSet);
  }
}

/** Throws MIPSEG_DICOM_UNPARSEABLE where a stored file's data set has an element readers would read differently. */
export function assertReadableEncoding(bytes: Uint8Array): void {
  assertKnownVrs(parse(bytes));
}

/**
 * dicom-parser reads an element whose value runs past the end of the bytes without a word: a data set cut short
 * before its Pixel Data would pass for whole. Every element (in items too) must end within the bytes parsed;
 * Pixel Data is held to the file's size, as the header is parsed from its first bytes only. Where the bytes are
 * just that probe, the caller parses the whole file again.
 */
function assertElementsWithin(dataSet: dicomParser.DataSet, available: number): void {
  for (const [tag, el] of Object.entries(dataSet.elements)) {
    if (tag === 'x7fe00010' || el.length === UNDEFINED_LENGTH || el.hadUndefinedLength) continue;
    if (el.dataOffset + el.length > available) {
      throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `truncated: (${tag.slice(1, 5)},${tag.slice(5)}) needs ${el.dataOffset + el.length} bytes, `
        + `there are ${available}`);
    }
    for (const item of el.items ?? []) if (item.dataSet) assertElementsWithin(item.dataSet, available);
  }
}

const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';

/**
 * Deflated Explicit VR Little Endian is not stored: WADO-RS, the analysis and the C-STORE export read data sets in
 * place, and none inflates one. Said as such, before the data set is parsed: the parse and the length checks
 * would otherwise call a whole file unparseable or truncated.
 */
function assertNotDeflated(bytes: Uint8Array): void {
  let transferSyntaxUid: string | undefined;
  try {
    transferSyntaxUid = readFileMetaInformation(bytes).transferSyntaxUid;
  } catch {
    return; // what is wrong with the File Meta is the parse's to say
  }
  if (transferSyntaxUid === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) {
    throw new MipsegError('MIPSEG_TRANSFER_SYNTAX_NOT_SUPPORTED',
      `Deflated Explicit VR Little Endian (${DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN}) is not accepted: nothing here inflates it; send the instance uncompressed`);
  }
}

/**
 * Where the bytes are only the file's first part, the header must end inside them. dicom-parser stops at the end of
 * the bytes without a word, even inside a sequence of undefined length (an enhanced multi-frame's Per-frame Functional
 * Groups can run past the probe): what it read would pass for a whole header without Pixel Data, and a valid image
 * would be refused. Only Pixel Data stops the parse before the end of the bytes, so a probe parse that did not reach
 * it ran out; the caller then parses the whole file.
 */
function assertHeaderWithin(dataSet: dicomParser.DataSet, parsed: number, fileSize: number): void {
  if (parsed < fileSize && dataSet.elements['x7fe00010'] === undefined) {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `truncated: the header runs past the ${parsed} bytes parsed, the file has ${fileSize}`);
  }
}

/**
 * Parses a PS3.10 file's header (stops before Pixel Data) and extracts what ingest and QIDO need. `bytes` may be the
 * file's first `bytes.length` of `fileSize` bytes; where they do not hold the whole header, it throws
 * MIPSEG_DICOM_UNPARSEABLE and the caller parses the whole file.
 * Throws MIPSEG_DICOM_UNPARSEABLE / MIPSEG_DICOM_MISSING_ATTRIBUTE with a reason a sender can act on.
 */
export function parseInstanceHeader(bytes: Uint8Array, fileSize = bytes.length): InstanceHeader {
  assertNotDeflated(bytes);
  const dataSet = parse(bytes);
  // First: the checks below walk the items by recursion.
  assertSequenceDepthWithin(dataSet);
  assertHeaderWithin(dataSet, bytes.length, fileSize);
  assertElementsWithin(dataSet, bytes.length);
  assertKnownVrs(dataSet);
  assertPixelDataComplete(dataSet, fileSize);
  const decoder = decoderFor(dataSet);
  const values: Record<string, string | number | null> = {};
  for (const attr of INDEXED_ATTRIBUTES) {
    values[attr.column] =
      attr.kind === 'number' ? readNumber(dataSet, attr.tag, attr.vr) : readText(dataSet, attr.tag, attr.vr, decoder);
  }
  return {
    transferSyntaxUid: requireUid(dataSet, '00020010', 'TransferSyntaxUID'),
    mediaStorageSopClassUid: requireUid(dataSet, '00020002', 'MediaStorageSOPClassUID'),
    mediaStorageSopInstanceUid: requireUid(dataSet, '00020003', 'MediaStorageSOPInstanceUID'),
    studyInstanceUid: requireUid(dataSet, '0020000D', 'StudyInstanceUID'),
    seriesInstanceUid: requireUid(dataSet, '0020000E', 'SeriesInstanceUID'),
    sopInstanceUid: requireUid(dataSet, '00080018', 'SOPInstanceUID'),
    sopClassUid: requireUid(dataSet, '00080016', 'SOPClassUID'),
    modality: String(values['modality'] ?? ''),
    encapsulated: isEncapsulated(dataSet),
    hasPixelData: ['x7fe00010', 'x7fe00008', 'x7fe00009'].some((tag) => dataSet.elements[tag] !== undefined),
    values,
  };
}

/**
 * The SOP Instance UID of a PS3.10 file, read by parsing only as far as (0008,0018): a few elements instead
 * of the whole header, for a caller that sorts a series' instances by UID and parses each one in full later.
 */
export function readSopInstanceUid(bytes: Uint8Array): string {
  return requireUid(parse(bytes, 'x00080018'), '00080018', 'SOPInstanceUID');
}
