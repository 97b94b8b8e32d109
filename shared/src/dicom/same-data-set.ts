import type * as dicomParser from 'dicom-parser';
import { implicitVr, parseStoredDicom } from './parse-options';
import { samePixelValues } from './same-pixel-values';
import { TransferSyntax } from './transfer-syntaxes';

/**
 * Group 0002 (File Meta Information), group lengths, which an encoding may or may not write, and the delimiters
 * of undefined-length items, which dicom-parser lists among an item's elements.
 */
function isEncodingOnly(tag: string): boolean {
  return tag.startsWith('x0002') || tag.startsWith('xfffe') || tag.endsWith('0000');
}

const PIXEL_DATA = 'x7fe00010';

/**
 * What a copy re-encoded in another lossless transfer syntax may differ in besides its File Meta: Pixel Data (its
 * values are compared instead), and Derivation Description, which dcmcjpeg writes to record the compression
 * ("Lossless JPEG compression, selection value 1, point transform 0, compression ratio 3.08492", any description
 * already there after it in brackets; dcmcjpls and dcmcrle write none). PS3.3 C.12.4.1.1 has a Derivation
 * Description describe an image whose pixel data is not significantly changed and whose SOP Instance UID is kept;
 * lossless compression changes no value. Derivation Code Sequence is still compared: dcmtk adds an item to it only
 * for lossy compression.
 */
const LOSSLESS_RE_ENCODING = new Set([PIXEL_DATA, 'x00082111']);

function contentTags(dataSet: dicomParser.DataSet, skip: ReadonlySet<string>): string[] {
  return Object.keys(dataSet.elements).filter((tag) => !isEncodingOnly(tag) && !skip.has(tag)).sort();
}

/** `length` bytes of the data set's buffer from `offset`, without a copy. */
function bytesAt(d: dicomParser.DataSet, offset: number, length: number): Buffer {
  return Buffer.from(d.byteArray.buffer, d.byteArray.byteOffset + offset, length);
}

/** VRs whose values are text, where trailing spaces (and, for UI, a trailing NUL) only pad the value to even length. */
const PADDED_TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);

function valueOf(d: dicomParser.DataSet, e: dicomParser.Element): Buffer {
  return bytesAt(d, e.dataOffset, e.length);
}

/** A text value without the padding that writers add or leave out as they please (dcmtk trims it, say). */
function unpadded(value: Buffer): Buffer {
  let end = value.length;
  while (end > 0 && (value[end - 1] === 0x20 || value[end - 1] === 0x00)) end--;
  return value.subarray(0, end);
}

function sameFragments(a: dicomParser.DataSet, ea: dicomParser.Element, b: dicomParser.DataSet, eb: dicomParser.Element): boolean {
  const fa = ea.fragments ?? [];
  const fb = eb.fragments ?? [];
  const ta = ea.basicOffsetTable ?? [];
  const tb = eb.basicOffsetTable ?? [];
  return fa.length === fb.length && ta.length === tb.length && ta.every((v, k) => v === tb[k])
    && fa.every((f, k) => {
      const g = fb[k];
      return g !== undefined && bytesAt(a, f.position, f.length).equals(bytesAt(b, g.position, g.length));
    });
}

function sameElement(a: dicomParser.DataSet, ea: dicomParser.Element, b: dicomParser.DataSet, eb: dicomParser.Element): boolean {
  if (ea.items || eb.items) {
    // A sequence on one side only: the same only when both are empty (an empty SQ against an empty value).
    if (!ea.items || !eb.items) return (ea.items?.length ?? ea.length) === 0 && (eb.items?.length ?? eb.length) === 0;
    const ia = ea.items;
    const ib = eb.items;
    return ia.length === ib.length && ia.every((item, k) => {
      const other = ib[k]?.dataSet;
      return item.dataSet !== undefined && other !== undefined && sameElements(item.dataSet, other);
    });
  }
  if (ea.encapsulatedPixelData || eb.encapsulatedPixelData) {
    return ea.encapsulatedPixelData === eb.encapsulatedPixelData && sameFragments(a, ea, b, eb);
  }
  const va = valueOf(a, ea);
  const vb = valueOf(b, eb);
  if (va.equals(vb)) return true;
  const vr = ea.vr ?? eb.vr ?? implicitVr(ea.tag);
  return vr !== undefined && PADDED_TEXT_VRS.has(vr) && unpadded(va).equals(unpadded(vb));
}

/** `skip`: top-level elements the caller compares otherwise, or not at all (items are compared whole). */
function sameElements(a: dicomParser.DataSet, b: dicomParser.DataSet, skip: ReadonlySet<string> = new Set()): boolean {
  const tags = contentTags(a, skip);
  const others = contentTags(b, skip);
  if (tags.length !== others.length || tags.some((tag, k) => tag !== others[k])) return false;
  return tags.every((tag) => sameElement(a, a.elements[tag] as dicomParser.Element, b, b.elements[tag] as dicomParser.Element));
}

/**
 * Whether two PS3.10 files hold the same data set: the same elements with the same values, items and fragments,
 * whatever their File Meta Information and however they were encoded (Implicit or Explicit VR Little Endian,
 * sequences and items of defined or undefined length, text values with or without their trailing padding). The
 * same instance reaches mipseg so by STOW-RS (the client's meta) and by C-STORE (meta mipseg writes, in the
 * transfer syntax the association agreed): that is a re-send, not a new copy. So is a copy whose Pixel Data is
 * encapsulated in a lossless transfer syntax mipseg decodes (JPEG Lossless Process 14 or SV1, JPEG-LS lossless,
 * JPEG 2000 lossless-only, RLE Lossless) and holds the same stored values as the other's, native or encapsulated
 * (see samePixelValues): what a PACS forwards of a study a modality sent uncompressed; the Derivation Description a
 * compressor adds is not compared then (see LOSSLESS_RE_ENCODING). Those values are compared only within a decoding
 * budget read from the header (a frame of at most 2048 x 2048, at most 8 Mi pixels decoded over both copies, a JPEG
 * 2000 pixel counting 8), since this runs at ingest: copies past it count as different, unread, as any copy past
 * the archive's SAME_DATA_SET_MAX_BYTES does. Big Endian against Little Endian, a lossy or near-lossless copy (JPEG
 * baseline, JPEG-LS near-lossless, JPEG 2000 .91), a frame that cannot be decoded, a private sequence that one parse
 * reads as items and the other as bytes, or a file either parser rejects, counts as different: the new copy then
 * replaces the stored one, as any changed copy does.
 */
export function sameDataSet(a: Uint8Array, b: Uint8Array): boolean {
  let x: dicomParser.DataSet;
  let y: dicomParser.DataSet;
  try {
    x = parseStoredDicom(a);
    y = parseStoredDicom(b);
  } catch {
    return false;
  }
  const bigEndian = (d: dicomParser.DataSet) => d.string('x00020010') === TransferSyntax.ExplicitVrBigEndian;
  if (bigEndian(x) !== bigEndian(y)) return false;
  const pixelX = x.elements[PIXEL_DATA];
  const pixelY = y.elements[PIXEL_DATA];
  if (!pixelX || !pixelY) return sameElements(x, y);
  if (sameElement(x, pixelX, y, pixelY)) return sameElements(x, y, new Set([PIXEL_DATA]));
  // The other elements first: they are cheap, and decoding is for copies that differ in nothing else.
  return sameElements(x, y, LOSSLESS_RE_ENCODING) && samePixelValues(x, y);
}
