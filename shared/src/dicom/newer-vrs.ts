import * as dicomParser from 'dicom-parser';
import { LONG_LENGTH_VRS } from './explicit-vr-little-endian';
import { metaUid, walkFileMeta } from './file-meta';
import { TransferSyntax } from './transfer-syntaxes';

/**
 * The VRs that dicom-parser 1.8 does not know, added to PS3.5 in 2019 (64-bit values): it reads their reserved bytes
 * as a 2-byte length and loses its place. An Extended Offset Table (7FE0,0001) is OV, written by pydicom, GDCM and
 * dcmtk for large multi-frame images.
 */
const NEWER_VRS: ReadonlySet<string> = new Set(['OV', 'SV', 'UV']);
const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xe000;
const ITEM_DELIMITATION = 0xe00d;
const SEQUENCE_DELIMITATION = 0xe0dd;

interface Walk {
  readonly bytes: Buffer;
  readonly bigEndian: boolean;
  /** Where each newer VR code stands, with the code. */
  readonly found: Map<number, string>;
}

const u16 = (w: Walk, at: number): number => (w.bigEndian ? w.bytes.readUInt16BE(at) : w.bytes.readUInt16LE(at));
const u32 = (w: Walk, at: number): number => (w.bigEndian ? w.bytes.readUInt32BE(at) : w.bytes.readUInt32LE(at));

/**
 * Walks Explicit VR elements from `start` to `end`, into sequences; returns where it met an item or delimitation tag
 * (FFFE,xxxx), or undefined where it reached the end, the data set's Pixel Data, or something it cannot follow: it then
 * stops, rather than read on from a place it is not sure of.
 */
function walkElements(w: Walk, start: number, end: number, depth: number): number | undefined {
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
    if (NEWER_VRS.has(vr)) w.found.set(at + 4, vr);
    if (group === 0x7fe0 && element === 0x0010 && depth === 0) return undefined;
    let next: number | undefined;
    if (vr === 'SQ') next = walkItems(w, valueStart, length, end, depth + 1);
    else if (length === UNDEFINED_LENGTH) next = skipImplicitItems(w, valueStart, end); // encapsulated (an icon's), or a UN sequence
    else next = valueStart + length;
    if (next === undefined || next > end) return undefined;
    at = next;
  }
  return undefined;
}

/** Walks a sequence's items; returns where the sequence ends, or undefined where it cannot follow it exactly. */
function walkItems(w: Walk, start: number, length: number, end: number, depth: number): number | undefined {
  const sequenceEnd = length === UNDEFINED_LENGTH ? end : start + length;
  if (sequenceEnd > end) return undefined;
  let at = start;
  while (at + 8 <= sequenceEnd) {
    if (u16(w, at) !== 0xfffe) return undefined;
    const tag = u16(w, at + 2);
    const itemLength = u32(w, at + 4);
    if (tag === SEQUENCE_DELIMITATION) return length === UNDEFINED_LENGTH ? at + 8 : undefined;
    if (tag !== ITEM) return undefined;
    if (itemLength === UNDEFINED_LENGTH) {
      const stop = walkElements(w, at + 8, sequenceEnd, depth);
      if (stop === undefined || u16(w, stop + 2) !== ITEM_DELIMITATION) return undefined;
      at = stop + 8;
    } else {
      const itemEnd = at + 8 + itemLength;
      if (itemEnd > sequenceEnd) return undefined; // an item running past its sequence: readers part ways here
      const stop = walkElements(w, at + 8, itemEnd, depth);
      if (stop !== undefined) return undefined; // an item or delimiter tag inside an item of defined length
      at = itemEnd;
    }
  }
  // A sequence of defined length ends exactly where its items do, else readers part ways here.
  return length !== UNDEFINED_LENGTH && at === sequenceEnd ? at : undefined;
}

/**
 * Skips the items of a value of undefined length that is no SQ (encapsulated pixel data, or a UN holding an Implicit VR
 * sequence, PS3.5 6.2.2), up to its Sequence Delimitation Item: they hold no VR codes. Returns where it ends.
 */
function skipImplicitItems(w: Walk, start: number, end: number): number | undefined {
  for (let at = start; at + 8 <= end;) {
    if (u16(w, at) !== 0xfffe) return undefined;
    const tag = u16(w, at + 2);
    const length = u32(w, at + 4);
    if (tag === SEQUENCE_DELIMITATION) return at + 8;
    if (tag !== ITEM) return undefined;
    if (length !== UNDEFINED_LENGTH) {
      at += 8 + length;
      continue;
    }
    const itemEnd = skipImplicitElements(w, at + 8, end);
    if (itemEnd === undefined) return undefined;
    at = itemEnd;
  }
  return undefined;
}

/** Skips Implicit VR elements up to an Item Delimitation Item; returns where the item ends. */
function skipImplicitElements(w: Walk, start: number, end: number): number | undefined {
  for (let at = start; at + 8 <= end;) {
    const group = u16(w, at);
    const length = u32(w, at + 4);
    if (group === 0xfffe) return u16(w, at + 2) === ITEM_DELIMITATION ? at + 8 : undefined;
    const next = length === UNDEFINED_LENGTH ? skipImplicitItems(w, at + 8, end) : at + 8 + length;
    if (next === undefined) return undefined;
    at = next;
  }
  return undefined;
}

/** Where each OV, SV or UV code stands in an Explicit VR file's data set, up to its Pixel Data (none where it cannot tell). */
function newerVrCodes(bytes: Uint8Array): Map<number, string> {
  const found = new Map<number, string>();
  let transferSyntaxUid: string | undefined;
  let dataSetOffset: number;
  try {
    const meta = walkFileMeta(bytes);
    dataSetOffset = meta.dataSetOffset;
    transferSyntaxUid = metaUid(bytes, meta.elements, 0x0010);
  } catch {
    return found; // the parse says what is wrong
  }
  if (transferSyntaxUid === TransferSyntax.ImplicitVrLittleEndian || transferSyntaxUid === TransferSyntax.DeflatedExplicitVrLittleEndian) {
    return found;
  }
  const walk: Walk = {
    bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    bigEndian: transferSyntaxUid === TransferSyntax.ExplicitVrBigEndian,
    found,
  };
  try {
    walkElements(walk, dataSetOffset, walk.bytes.length, 0);
  } catch {
    // a read past the end: what was found before it stands
  }
  return found;
}

/** Sets back the VR of each element whose code was given to dicom-parser as UN. */
function restoreVrs(dataSet: dicomParser.DataSet, codes: ReadonlyMap<number, string>): void {
  for (const element of Object.values(dataSet.elements)) {
    const vr = codes.get(element.dataOffset - 8);
    if (vr !== undefined && element.vr === 'UN') element.vr = vr;
    for (const item of element.items ?? []) if (item.dataSet) restoreVrs(item.dataSet, codes);
  }
}

/**
 * dicom-parser's parseDicom, reading OV, SV and UV elements too: their VR codes are given to it as UN (the same layout,
 * a 4-byte length after two reserved bytes) for the time of the parse, in place, then written back, and the elements'
 * VRs set back. The parse is synchronous, so nothing else sees the bytes meanwhile, and nothing is copied: these VRs
 * come in large multi-frame files.
 */
export function parseDicomReadingNewerVrs(bytes: Uint8Array, options: dicomParser.ParseDicomOptions): dicomParser.DataSet {
  const codes = newerVrCodes(bytes);
  if (codes.size === 0) return dicomParser.parseDicom(bytes, options);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    for (const at of codes.keys()) buffer.write('UN', at, 'latin1');
    const dataSet = dicomParser.parseDicom(bytes, options);
    restoreVrs(dataSet, codes);
    return dataSet;
  } finally {
    for (const [at, vr] of codes) buffer.write(vr, at, 'latin1');
  }
}
