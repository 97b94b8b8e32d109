import { LONG_LENGTH_VRS } from './explicit-vr-little-endian';
import { metaUid, walkFileMeta } from './file-meta';
import { TransferSyntax } from './transfer-syntaxes';

/**
 * Those that dicom-parser 1.8 does not know, added to PS3.5 in 2019 (64-bit values): it reads their reserved bytes
 * as a 2-byte length and loses its place. An Extended Offset Table (7FE0,0001) is OV, written by pydicom, GDCM and
 * dcmtk for large multi-frame images.
 */
const NEWER_VRS: ReadonlySet<string> = new Set(['OV', 'SV', 'UV']);
const UNDEFINED_LENGTH = 0xffffffff;

interface Walk {
  readonly bytes: Buffer;
  readonly bigEndian: boolean;
  /** Where each newer VR code stands. */
  readonly found: number[];
}

const u16 = (w: Walk, at: number): number => (w.bigEndian ? w.bytes.readUInt16BE(at) : w.bytes.readUInt16LE(at));
const u32 = (w: Walk, at: number): number => (w.bigEndian ? w.bytes.readUInt32BE(at) : w.bytes.readUInt32LE(at));

/**
 * Walks Explicit VR elements from `at` to `end`, into sequences; returns where it met an item or delimitation tag
 * (FFFE,xxxx), or undefined where it reached the end, Pixel Data, or something it cannot walk (it then stops).
 */
function walkElements(w: Walk, start: number, end: number): number | undefined {
  for (let at = start; at + 8 <= end;) {
    const group = u16(w, at);
    if (group === 0xfffe) return at;
    const element = u16(w, at + 2);
    const vr = w.bytes.toString('latin1', at + 4, at + 6);
    if (!/^[A-Z]{2}$/.test(vr)) return undefined;
    const long = LONG_LENGTH_VRS.has(vr);
    if (long && at + 12 > end) return undefined;
    const length = long ? u32(w, at + 8) : u16(w, at + 6);
    const valueStart = at + (long ? 12 : 8);
    if (NEWER_VRS.has(vr)) w.found.push(at + 4);
    if (group === 0x7fe0 && element === 0x0010) return undefined;
    if (vr === 'SQ') {
      const next = walkItems(w, valueStart, length, end);
      if (next === undefined) return undefined;
      at = next;
      continue;
    }
    if (length === UNDEFINED_LENGTH) return undefined;
    at = valueStart + length;
  }
  return undefined;
}

/** Walks a sequence's items; returns where the sequence ends, or undefined where it cannot follow it. */
function walkItems(w: Walk, start: number, length: number, end: number): number | undefined {
  const sequenceEnd = length === UNDEFINED_LENGTH ? end : Math.min(end, start + length);
  for (let at = start; at + 8 <= sequenceEnd;) {
    if (u16(w, at) !== 0xfffe) return undefined;
    const tag = u16(w, at + 2);
    const itemLength = u32(w, at + 4);
    if (tag === 0xe0dd) return at + 8;
    if (tag !== 0xe000) return undefined;
    if (itemLength === UNDEFINED_LENGTH) {
      const stop = walkElements(w, at + 8, sequenceEnd);
      if (stop === undefined || u16(w, stop + 2) !== 0xe00d) return undefined;
      at = stop + 8;
    } else {
      walkElements(w, at + 8, Math.min(sequenceEnd, at + 8 + itemLength));
      at += 8 + itemLength;
    }
  }
  return length === UNDEFINED_LENGTH ? undefined : sequenceEnd;
}

/**
 * `bytes`, or where its Explicit VR data set has OV, SV or UV elements, a copy with those VR codes written as UN: the
 * same layout (a 4-byte length after two reserved bytes), which dicom-parser reads. Values and offsets are unchanged,
 * so what is read of the copy is what the file holds; only those elements' VR reads as UN.
 */
export function withVrsDicomParserReads(bytes: Uint8Array): Uint8Array {
  // Walked element by element up to Pixel Data: a few hundred headers, where a search of the bytes for "OV" would
  // read every slice's pixel data.
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let transferSyntaxUid: string | undefined;
  let dataSetOffset: number;
  try {
    const meta = walkFileMeta(bytes);
    dataSetOffset = meta.dataSetOffset;
    transferSyntaxUid = metaUid(bytes, meta.elements, 0x0010);
  } catch {
    return bytes; // the parse says what is wrong
  }
  if (transferSyntaxUid === TransferSyntax.ImplicitVrLittleEndian) return bytes;
  const walk: Walk = { bytes: buffer, bigEndian: transferSyntaxUid === TransferSyntax.ExplicitVrBigEndian, found: [] };
  try {
    walkElements(walk, dataSetOffset, buffer.length);
  } catch {
    return bytes;
  }
  if (walk.found.length === 0) return bytes;
  const copy = Buffer.from(buffer);
  for (const at of walk.found) copy.write('UN', at, 'latin1');
  return copy;
}
