import type { DicomJsonDict, DicomJsonElement } from 'dcmjs';
import { MipsegError } from '@mipseg/shared/errors';
import { ByteSink } from './byte-sink';

/*
 * Explicit VR Little Endian encoding (PS3.5 7.1.2) of a data set in the form dcmjs's denaturalizeDataset
 * gives: tag keys of 8 hex digits, each element its VR and Value array. It writes the bytes dcmjs's own
 * writer would (sequences and items of undefined length, padding, UTF-8 text; see part10.test.ts), about
 * a hundred times faster where a data set has many sequence items: dcmjs builds a stream object per element,
 * and a MIP references every source slice in two sequences (over 2,000 elements for 267 slices).
 */

const ITEM = 0xe000;
const ITEM_DELIMITATION = 0xe00d;
const SEQUENCE_DELIMITATION = 0xe0dd;
const UNDEFINED_LENGTH = 0xffffffff;

/** VRs with a 32-bit value length after two reserved bytes (as dcmjs writes them). */
const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'UV']);
/** Text VRs whose values dcmjs writes as UTF-8; the other text VRs hold ASCII only. */
const UTF8_TEXT_VRS = new Set(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);
const ASCII_TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'TM', 'UI', 'UR']);
const BYTE_VRS = new Set(['OB', 'OD', 'OF', 'OW', 'UN']);
/** The longest value (bytes) of the VRs PS3.5 6.2 limits by length, where dcmjs refuses a longer one. */
const MAX_VALUE_LENGTH: Readonly<Record<string, number>> = { AE: 16, AS: 4, CS: 16, DA: 8, DS: 16, DT: 26, IS: 12, TM: 16, UI: 64 };

type NumberWriter = (sink: ByteSink, value: number) => void;
const NUMBER_VRS: Readonly<Record<string, { parse: (text: string) => number; write: NumberWriter }>> = {
  US: { parse: (t) => parseInt(t, 10), write: (s, v) => s.uint16(v) },
  SS: { parse: (t) => parseInt(t, 10), write: (s, v) => s.int16(v) },
  UL: { parse: (t) => parseInt(t, 10), write: (s, v) => s.uint32(v) },
  SL: { parse: (t) => parseInt(t, 10), write: (s, v) => s.int32(v) },
  FL: { parse: parseFloat, write: (s, v) => s.float32(v) },
  FD: { parse: parseFloat, write: (s, v) => s.float64(v) },
  // An attribute tag as one number (gggg << 16 | eeee), written as group then element.
  AT: { parse: Number, write: (s, v) => { s.uint16(v >>> 16); s.uint16(v & 0xffff); } },
};

const invalid = (tag: string, detail: string): MipsegError =>
  new MipsegError('MIPSEG_DICOM_OUTPUT_INVALID', `(${tag.slice(0, 4)},${tag.slice(4)}) ${detail}`);

/**
 * PN values as dcmjs joins them: a string as it is (dcmjs boxes PN strings as String objects), an object's
 * component groups joined by '=' without trailing empty groups; empty values skipped.
 */
function personNameText(values: readonly unknown[]): string {
  return values.filter(Boolean).map((v) => {
    if (typeof v === 'string' || v instanceof String) return v.toString();
    const pn = v as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
    return [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=*$/, '');
  }).join('\\');
}

function textOf(tag: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string' || value instanceof String) return value.toString();
  if (typeof value === 'number') return String(value);
  throw invalid(tag, `text value of type ${typeof value}`);
}

/** Text values joined by backslashes (PS3.5 6.4), after refusing any longer than its VR allows. */
function joinedText(tag: string, vr: string, values: readonly unknown[]): string {
  if (vr === 'PN') return personNameText(values);
  const texts = values.map((v) => textOf(tag, v));
  const limit = MAX_VALUE_LENGTH[vr];
  const tooLong = limit === undefined ? undefined : texts.find((t) => t.length > limit);
  if (tooLong !== undefined) throw invalid(tag, `${vr} value "${tooLong.slice(0, 80)}" is longer than ${limit}`);
  return texts.join('\\');
}

function writeText(sink: ByteSink, tag: string, vr: string, values: readonly unknown[]): void {
  const text = joinedText(tag, vr, values);
  const start = sink.length;
  if (UTF8_TEXT_VRS.has(vr)) sink.utf8(text);
  else sink.latin1(text);
  if ((sink.length - start) % 2 === 1) sink.latin1(vr === 'UI' ? '\0' : ' ');
}

function writeNumbers(sink: ByteSink, tag: string, vr: string, values: readonly unknown[]): void {
  const { parse, write } = NUMBER_VRS[vr] as (typeof NUMBER_VRS)[string];
  for (const v of values) {
    const n = typeof v === 'number' ? v : parse(textOf(tag, v));
    if (Number.isNaN(n)) throw invalid(tag, `${vr} value "${String(v)}" is not a number`);
    write(sink, n);
  }
}

/** OB, OW and the other byte VRs: the first value's bytes (an ArrayBuffer or a view), padded to even length. */
function writeBytes(sink: ByteSink, tag: string, values: readonly unknown[]): void {
  const value = values[0];
  if (value === undefined || value === null) return;
  let bytes: Uint8Array;
  if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
  else if (ArrayBuffer.isView(value)) bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  else throw invalid(tag, `binary value of type ${typeof value}`);
  sink.bytes(bytes);
  if (bytes.length % 2 === 1) sink.latin1('\0');
}

function writeSequence(sink: ByteSink, items: readonly unknown[]): void {
  for (const item of items) {
    sink.uint16(0xfffe);
    sink.uint16(ITEM);
    sink.uint32(UNDEFINED_LENGTH);
    writeDataSet(sink, item as DicomJsonDict);
    sink.uint16(0xfffe);
    sink.uint16(ITEM_DELIMITATION);
    sink.uint32(0);
  }
  sink.uint16(0xfffe);
  sink.uint16(SEQUENCE_DELIMITATION);
  sink.uint32(0);
}

function writeValue(sink: ByteSink, tag: string, vr: string, values: readonly unknown[]): void {
  if (ASCII_TEXT_VRS.has(vr) || UTF8_TEXT_VRS.has(vr)) writeText(sink, tag, vr, values);
  else if (vr in NUMBER_VRS) writeNumbers(sink, tag, vr, values);
  else if (BYTE_VRS.has(vr)) writeBytes(sink, tag, values);
  else throw invalid(tag, `VR ${vr} is not written by mipseg`);
}

function writeElement(sink: ByteSink, tag: string, element: DicomJsonElement): void {
  const vr = element.vr ?? '';
  const values = element.Value ?? [];
  sink.uint16(parseInt(tag.slice(0, 4), 16));
  sink.uint16(parseInt(tag.slice(4, 8), 16));
  sink.latin1(vr);
  if (vr === 'SQ') {
    sink.uint16(0);
    sink.uint32(UNDEFINED_LENGTH);
    writeSequence(sink, values);
    return;
  }
  const long = LONG_LENGTH_VRS.has(vr);
  if (long) sink.uint16(0);
  const lengthAt = sink.length;
  if (long) sink.uint32(0);
  else sink.uint16(0);
  const start = sink.length;
  writeValue(sink, tag, vr, values);
  const length = sink.length - start;
  if (long) sink.patchUint32(lengthAt, length);
  else if (length <= 0xffff) sink.patchUint16(lengthAt, length);
  else throw invalid(tag, `${vr} value of ${length} bytes does not fit a 16-bit length`);
}

/** Writes every element of `dataSet` in ascending tag order. */
export function writeDataSet(sink: ByteSink, dataSet: DicomJsonDict): void {
  for (const tag of Object.keys(dataSet).sort()) writeElement(sink, tag, dataSet[tag] as DicomJsonElement);
}

/** The encoded data set on its own (File Meta Information group, or a data set to append to a file). */
export function encodeDataSet(dataSet: DicomJsonDict): Uint8Array {
  const sink = new ByteSink();
  writeDataSet(sink, dataSet);
  return sink.written();
}
