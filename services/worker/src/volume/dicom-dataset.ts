import * as dicomParser from 'dicom-parser';
import { dicomTextDecoder, parseStoredDicom } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';

/** A parsed PS3.10 instance; element values still point into the caller's bytes (nothing is copied). */
export type DataSet = dicomParser.DataSet;

/**
 * Tags as dicom-parser keys them: `x` + 8 lower-case hex digits. Memoised because every attribute read of every
 * instance asks for a key (267 instances x ~40 reads per GE job); the tags are the code's own, so the map stays small.
 */
const KEYS = new Map<string, string>();
function key(tag: string): string {
  let k = KEYS.get(tag);
  if (k === undefined) {
    k = `x${tag.toLowerCase()}`;
    KEYS.set(tag, k);
  }
  return k;
}

/**
 * The element's bytes as text, up to the first NUL, one byte per character (ISO 8859-1), as dicom-parser's
 * string() reads them. Why not string(): it builds the text one character at a time, a new string per byte, and
 * those strings were the largest share of what our attribute reads allocated (4 of the 60 MB of a GE job).
 */
function decodeText(ds: DataSet, el: dicomParser.Element): string {
  const bytes = ds.byteArray;
  const start = el.dataOffset;
  const stop = start + el.length;
  if (stop > bytes.length) {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `element ${el.tag} runs past the end of the data set`);
  }
  let end = start;
  while (end < stop && bytes[end] !== 0) end++;
  // Files read from disk arrive as Buffers, which decode a range in place; other arrays get a Buffer view.
  return Buffer.isBuffer(bytes)
    ? bytes.toString('latin1', start, end)
    : Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** The attribute's whole text, or null when it is absent, empty or of undefined length. */
function readText(ds: DataSet, k: string): string | null {
  const el = ds.elements[k];
  if (!el || el.length === 0 || el.length === 0xffffffff) return null;
  return decodeText(ds, el);
}

/**
 * The attribute's whole value as text (every value, backslashes kept), trimmed; null when it is absent or empty.
 * What ds.string(tag) gives, without its per-character strings.
 */
export function readValueText(ds: DataSet, tag: string): string | null {
  return readText(ds, key(tag))?.trim() ?? null;
}

/**
 * The first value of a text attribute (VR `vr`) decoded under `specificCharacterSet` (UTF-8, ISO 2022, …), where
 * readString reads Latin-1: for the few free-text values compared with words, such as a tracer's name, which a
 * UTF-8 file would otherwise spell "FludÃ©soxyglucose".
 */
export function readDecodedString(ds: DataSet, tag: string, specificCharacterSet: string | null, vr: string): string | null {
  const el = ds.elements[key(tag)];
  if (specificCharacterSet === null || !el || el.length === 0 || el.length === 0xffffffff) return readString(ds, tag);
  const text = dicomTextDecoder(specificCharacterSet).decode(ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length), vr);
  const first = (text.split('\\')[0] ?? '').replace(/\0[\s\S]*$/, '').trim();
  return first === '' ? null : first;
}

function parse(bytes: Uint8Array, untilPixelData: boolean): DataSet {
  return parseStoredDicom(bytes, untilPixelData ? 'x7fe00010' : undefined);
}

/** Parses a whole PS3.10 file (Pixel Data included); refuses files without File Meta, as ingest does. */
export function parseInstance(bytes: Uint8Array): DataSet {
  return parse(bytes, false);
}

/** Parses a PS3.10 file up to Pixel Data: the cheap read for header-only work. */
export function parseInstanceHeaderOnly(bytes: Uint8Array): DataSet {
  return parse(bytes, true);
}

/** A multi-valued text split at its backslashes, each value trimmed. */
const splitValues = (text: string): string[] => text.split('\\').map((v) => v.trim());

/** All values of a string attribute (backslash-separated), trimmed; empty when absent. */
export function readStrings(ds: DataSet, tag: string): string[] {
  const text = readText(ds, key(tag));
  return text === null ? [] : splitValues(text);
}

/** The first value of a string attribute, or null when absent or empty. */
export function readString(ds: DataSet, tag: string): string | null {
  const text = readText(ds, key(tag));
  if (text === null) return null;
  // Most attributes hold one value: no split, and no array, for those.
  const end = text.indexOf('\\');
  const first = (end < 0 ? text : text.slice(0, end)).trim();
  return first === '' ? null : first;
}

/** A DS/IS value as a number: NaN when it is empty or not a number. */
const dsNumber = (value: string): number => (value === '' ? NaN : Number(value));

/** DS/IS values as numbers; null when there are none or when any is not a number. */
function numbersOf(values: readonly string[]): number[] | null {
  if (values.length === 0) return null;
  const numbers = values.map(dsNumber);
  return numbers.every(Number.isFinite) ? numbers : null;
}

/** All values of a DS/IS attribute as numbers; null when absent or when any value is not a number. */
export function readNumbers(ds: DataSet, tag: string): number[] | null {
  return numbersOf(readStrings(ds, tag));
}

/** The first value of a DS/IS attribute; null when absent or when any value is not a number (as readNumbers). */
export function readNumber(ds: DataSet, tag: string): number | null {
  const text = readText(ds, key(tag));
  if (text === null) return null;
  if (text.includes('\\')) return numbersOf(splitValues(text))?.[0] ?? null;
  // One value, as most attributes hold: no split and no arrays.
  const number = dsNumber(text.trim());
  return Number.isFinite(number) ? number : null;
}

/** An unsigned short (US) attribute, or null. */
export function readUint16(ds: DataSet, tag: string): number | null {
  const el = ds.elements[key(tag)];
  return el && el.length >= 2 ? ds.uint16(key(tag)) ?? null : null;
}

/** The data set of the first item of a sequence, or null. */
export function readFirstItem(ds: DataSet, tag: string): DataSet | null {
  return ds.elements[key(tag)]?.items?.[0]?.dataSet ?? null;
}

/**
 * The tag of a private element: `group`, the private creator that reserves a block, and the element's
 * low byte (PS3.5 7.8.1). The block is wherever the creator was put, so it is looked up, never assumed.
 */
export function findPrivateTag(ds: DataSet, group: string, creator: string, elementByte: string): string | null {
  const block = privateBlocks(ds).get(`${group.toLowerCase()}:${creator.toUpperCase()}`);
  return block === undefined ? null : `${group}${block}${elementByte}`;
}

/**
 * Every private creator of a data set, "gggg:CREATOR" → its block (the lowest, where one is written twice),
 * found in one pass over the data set the first time it is asked and kept with it: a PET instance is asked for
 * several private values (GE and Philips SUV factors), and each asking scanned the data set again.
 */
const PRIVATE_BLOCKS = new WeakMap<DataSet, ReadonlyMap<string, string>>();
function privateBlocks(ds: DataSet): ReadonlyMap<string, string> {
  let blocks = PRIVATE_BLOCKS.get(ds);
  if (blocks === undefined) {
    const found = new Map<string, string>();
    // for...in, not Object.keys: no array of the ~100-200 keys per data set. Keys come in file (tag) order.
    for (const k in ds.elements) {
      // Private creators are (gggg,0010)-(gggg,00FF) in odd groups; the last two digits are the block they reserve.
      if (k.length !== 9 || k[5] !== '0' || k[6] !== '0' || k[7] === '0' || !isOddHexDigit(k[4])) continue;
      const name = readText(ds, k)?.trim().toUpperCase();
      const id = `${k.slice(1, 5)}:${name ?? ''}`;
      if (name && !found.has(id)) found.set(id, k.slice(7));
    }
    blocks = found;
    PRIVATE_BLOCKS.set(ds, blocks);
  }
  return blocks;
}

const isOddHexDigit = (c: string | undefined): boolean => c !== undefined && (parseInt(c, 16) & 1) === 1;
