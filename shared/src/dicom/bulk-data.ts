import * as dicomParser from 'dicom-parser';
import { MipsegError } from '../errors';
import { parseErrorDetail, parseStoredDicom } from './parse-options';
import { TransferSyntax } from './transfer-syntaxes';

/** Media types of compressed bulk data by transfer syntax (PS3.18 Table 8.7.3-5). */
const COMPRESSED_MEDIA_TYPES: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.4.50': 'image/jpeg',
  '1.2.840.10008.1.2.4.51': 'image/jpeg',
  '1.2.840.10008.1.2.4.57': 'image/jpeg',
  '1.2.840.10008.1.2.4.70': 'image/jpeg',
  '1.2.840.10008.1.2.5': 'image/dicom-rle',
  '1.2.840.10008.1.2.4.80': 'image/jls',
  '1.2.840.10008.1.2.4.81': 'image/jls',
  '1.2.840.10008.1.2.4.90': 'image/jp2',
  '1.2.840.10008.1.2.4.91': 'image/jp2',
  '1.2.840.10008.1.2.4.92': 'image/jpx',
  '1.2.840.10008.1.2.4.93': 'image/jpx',
  '1.2.840.10008.1.2.4.201': 'image/jphc',
  '1.2.840.10008.1.2.4.202': 'image/jphc',
  '1.2.840.10008.1.2.4.203': 'image/jphc',
};

/**
 * The media type of a frame compressed in `transferSyntaxUid` (PS3.18 Table 8.7.3-5); application/octet-stream,
 * labelled with its transfer syntax by the caller, for one the table lacks.
 */
export function compressedBulkDataMediaType(transferSyntaxUid: string): string {
  return COMPRESSED_MEDIA_TYPES[transferSyntaxUid] ?? 'application/octet-stream';
}

/** Bytes per word of the binary VRs whose values a big-endian file stores byte-swapped. */
const WORD_BYTES: Readonly<Record<string, 2 | 4 | 8>> = { OW: 2, OF: 4, OL: 4, OD: 8, OV: 8 };

function parse(bytes: Uint8Array): { ds: dicomParser.DataSet; transferSyntaxUid: string } {
  const ds = parseStoredDicom(bytes);
  return { ds, transferSyntaxUid: (ds.string('x00020010') ?? '').replace(/\0/g, '').trim() };
}

/** Whether a value of `length` bytes can be given in little-endian words: not a big-endian one that is not whole words. */
export function inWholeWords(length: number, vr: string | undefined, transferSyntaxUid: string): boolean {
  const word = vr === undefined ? undefined : WORD_BYTES[vr];
  return transferSyntaxUid !== TransferSyntax.ExplicitVrBigEndian || word === undefined || length % word === 0;
}

/** `value` in little-endian byte order, as PS3.18 uncompressed bulk data is (a copy where it has to swap). */
export function littleEndian(value: Uint8Array, vr: string | undefined, transferSyntaxUid: string): Uint8Array {
  const word = vr === undefined ? undefined : WORD_BYTES[vr];
  if (transferSyntaxUid !== TransferSyntax.ExplicitVrBigEndian || word === undefined) return value;
  if (value.length % word !== 0) throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `${vr} value of ${value.length} bytes`);
  const copy = Buffer.from(value);
  return word === 2 ? copy.swap16() : word === 4 ? copy.swap32() : copy.swap64();
}

/**
 * The value of top-level element `tag` (8 hex digits) of a PS3.10 file as PS3.18 uncompressed bulk data: the
 * value's bytes, little endian. Throws MIPSEG_NOT_FOUND where the data set has no such element with a value of
 * its own (absent, a sequence, or encapsulated Pixel Data: see readEncapsulatedFrames).
 */
export function readBulkDataElement(bytes: Uint8Array, tag: string): Uint8Array {
  const { ds, transferSyntaxUid } = parse(bytes);
  const element = ds.elements[`x${tag.toLowerCase()}`];
  if (!element || element.items || element.encapsulatedPixelData || element.hadUndefinedLength) {
    throw new MipsegError('MIPSEG_NOT_FOUND', `bulk data ${tag}`);
  }
  const value = ds.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
  return littleEndian(value, element.vr, transferSyntaxUid);
}

/** Encapsulated Pixel Data cut into frames, and the transfer syntax they are compressed in. */
export interface EncapsulatedFrames {
  readonly transferSyntaxUid: string;
  readonly frames: readonly Uint8Array[];
}

/**
 * Where each frame starts among the fragments: the Basic Offset Table where there is one; else one fragment per
 * frame where the counts agree; else each frame's end found by its end-of-image marker (FFD9), with which JPEG,
 * JPEG-LS and JPEG 2000 streams all end (RLE has one fragment per frame by PS3.5 A.4.2).
 */
function frameOffsets(ds: dicomParser.DataSet, pixel: dicomParser.Element, numberOfFrames: number): number[] {
  const fragments = pixel.fragments ?? [];
  if (pixel.basicOffsetTable && pixel.basicOffsetTable.length > 0) return pixel.basicOffsetTable;
  if (fragments.length === numberOfFrames) return fragments.map((f) => f.offset);
  return dicomParser.createJPEGBasicOffsetTable(ds, pixel, fragments);
}

/**
 * Encapsulated Pixel Data as PS3.18 8.7.3.3.2 has compressed bulk data: each frame's compressed bitstream
 * without the item delimiters, one per frame (a frame spread over several fragments is joined). Throws
 * MIPSEG_NOT_FOUND where Pixel Data is absent or native, MIPSEG_DICOM_UNPARSEABLE where the fragments cannot
 * be cut into NumberOfFrames frames.
 */
export function readEncapsulatedFrames(bytes: Uint8Array): EncapsulatedFrames {
  const { ds, transferSyntaxUid } = parse(bytes);
  const pixel = ds.elements['x7fe00010'];
  if (!pixel?.encapsulatedPixelData) throw new MipsegError('MIPSEG_NOT_FOUND', 'encapsulated Pixel Data');
  const fragments = pixel.fragments ?? [];
  if (fragments.length === 0) return { transferSyntaxUid, frames: [new Uint8Array(0)] };
  const numberOfFrames = Math.max(1, Number(ds.intString('x00280008') ?? 1) || 1);
  try {
    if (numberOfFrames === 1) {
      return { transferSyntaxUid, frames: [dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, fragments.length)] };
    }
    const offsets = frameOffsets(ds, pixel, numberOfFrames);
    if (offsets.length !== numberOfFrames) throw new Error(`${offsets.length} frames found, NumberOfFrames is ${numberOfFrames}`);
    const frames = offsets.map((_, f) => dicomParser.readEncapsulatedImageFrame(ds, pixel, f, offsets, fragments));
    return { transferSyntaxUid, frames };
  } catch (err) {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `encapsulated Pixel Data: ${parseErrorDetail(err)}`);
  }
}
