import * as dcmjs from 'dcmjs';
import { isMipsegError, MipsegError } from '../errors';
import { inWholeWords, littleEndian } from './bulk-data';
import { readDcmjsDataSet } from './dcmjs-read';
import { assertReadableEncoding, withoutEmptyTrailingComponents } from './parse-header';

/** A data set in the PS3.18 Annex F JSON model. */
export type DicomJson = Record<string, DicomJsonAttribute>;
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}

/** Stands for the instance's retrieve URL in cached metadata; replaced per request (the base URL varies). */
export const BULK_DATA_PLACEHOLDER = '{{instance}}';

const PIXEL_DATA = '7FE00010';
const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
// Large binary values (private blobs, overlays, ICC profiles) go by reference, like pixel data; small ones inline.
const INLINE_BINARY_LIMIT = 1024;

// dcmjs logs every unknown private VR (even at "error" level); its real problems reach us as exceptions.
dcmjs.log.setLevel('silent');
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent', false);

function isEmptyValue(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

/**
 * PS3.18 F.2.3: an AT value is the tag it names as 8 uppercase hex digits ("0062000B"); dcmjs reads it as the
 * number (group << 16 | element), which a client would take for a decimal.
 */
function attributeTagText(value: unknown): unknown {
  return typeof value === 'number' ? value.toString(16).toUpperCase().padStart(8, '0') : value;
}

/**
 * Attributes whose VR PS3.6 gives as "US or SS", by Pixel Representation: pixel values and the real-world value
 * range they map. In an Implicit VR file dcmjs reads them as US whatever the Pixel Representation, so a signed
 * image's -1000 would show as 64536 (LUT descriptors are left alone: their counts are unsigned whatever it is).
 */
const PIXEL_VALUE_TAGS = new Set(['00280106', '00280107', '00280108', '00280109', '00280110', '00280111', '00280120', '00280121',
  '00409211', '00409216']);

/** How the JSON model is made from one file: whether its "US or SS" pixel values are signed and read as US. */
interface Conversion {
  readonly signedPixelValuesReadAsUs: boolean;
  /** The file's transfer syntax: a big-endian file's OW/OF/OL/OD/OV values are swapped, as bulk data is (littleEndian). */
  readonly transferSyntaxUid: string;
}

function asSignedShort(value: unknown): unknown {
  return typeof value === 'number' && value > 0x7fff && value <= 0xffff ? value - 0x10000 : value;
}

/**
 * A text value without the space (or, for UI, NUL) that pads it to even length in the file: trailing spaces are
 * insignificant in every text VR (PS3.5 6.2), and dcmjs keeps some (a DT's), which strict parsers then refuse.
 */
function withoutTrailingPadding(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/[ \0]+$/, '');
  return isPersonName(value) ? personNameGroups(value) : value;
}

const PN_GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'] as const;

function isPersonName(value: unknown): value is Partial<Record<(typeof PN_GROUPS)[number], unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof ArrayBuffer) &&
    PN_GROUPS.some((g) => g in value);
}

/**
 * A PN's component groups without their padding (a NUL or space) and trailing empty components ('Doe^John^^^'), an
 * empty group left out (PS3.18 F.2.2): by the index's own rule (withoutEmptyTrailingComponents), as a QIDO match saw it.
 */
function personNameGroups(name: Partial<Record<(typeof PN_GROUPS)[number], unknown>>): unknown {
  const groups: Record<string, string> = {};
  for (const group of PN_GROUPS) {
    const text = name[group];
    const trimmed = typeof text === 'string' ? withoutEmptyTrailingComponents(text.replace(/[ \0]+$/, '')) : '';
    if (trimmed !== '') groups[group] = trimmed;
  }
  return Object.keys(groups).length ? groups : '';
}

/**
 * An SV or UV value (dcmjs reads a bigint) by PS3.18 F.2.3, whose Table F.2.3-1 gives both "Number or String", a String
 * "if needed to avoid losing precision": a JSON Number where it lies within ±(2^53 − 1), which RFC 8259 §6 names the
 * range where integers are exact and read alike by every IEEE 754 double reader; a decimal string beyond, where a double
 * would round it (2^53 + 1) or could not show that it had not (2^53 itself).
 */
function veryLongValue(value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

function jsonValues(vr: string, read: unknown[], signed: boolean): unknown[] {
  if (vr === 'AT') return read.map(attributeTagText);
  if (vr === 'SV' || vr === 'UV') return read.map(veryLongValue);
  return signed ? read.map(asSignedShort) : read;
}

function convertElement(tag: string, el: dcmjs.DicomJsonElement, inItem: boolean, conversion: Conversion): DicomJsonAttribute {
  const signed = conversion.signedPixelValuesReadAsUs && el.vr === 'US' && PIXEL_VALUE_TAGS.has(tag);
  const vr = signed ? 'SS' : el.vr ?? 'UN';
  const values = jsonValues(vr, Array.isArray(el.Value) ? el.Value : [], signed);
  if (vr === 'SQ') {
    const items = values.map((item) => convertDataset(item as dcmjs.DicomJsonDict, true, conversion));
    return items.length ? { vr, Value: items } : { vr };
  }
  if (BINARY_VRS.has(vr)) {
    const buffers = values.filter((v): v is ArrayBuffer => v instanceof ArrayBuffer);
    const total = buffers.reduce((n, b) => n + b.byteLength, 0);
    // A big-endian value that is not whole words (a 7-byte OW) cannot be given in little-endian words, inline or as
    // bulk data (a URI to a refusal): this value is left out, the instance's others are not.
    if (total === 0 || !inWholeWords(total, vr, conversion.transferSyntaxUid)) return { vr };
    // …/bulkdata/{tag} names a top-level element: one inside a sequence item (an icon image, a private blob) has
    // no URI of its own, and the same tag at the top level would answer with the wrong bytes. It goes inline.
    if (total > INLINE_BINARY_LIMIT && !inItem) return { vr, BulkDataURI: `${BULK_DATA_PLACEHOLDER}/bulkdata/${tag}` };
    // InlineBinary carries no transfer syntax: its words are read little endian, as the BulkDataURI's are sent.
    const value = littleEndian(Buffer.concat(buffers.map((b) => Buffer.from(b))), vr, conversion.transferSyntaxUid);
    return { vr, InlineBinary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  // A DS or IS that is no number (1.2.3, 1e999) dcmjs reads as NaN or Infinity, which neither model can hold: no value.
  const unpadded = values.map(withoutTrailingPadding).map((v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
  if (unpadded.every(isEmptyValue)) return { vr };
  return { vr, Value: unpadded.map((v) => (isEmptyValue(v) ? null : v)) };
}

function convertDataset(dict: dcmjs.DicomJsonDict, inItem: boolean, conversion: Conversion): DicomJson {
  const out: DicomJson = {};
  for (const tag of Object.keys(dict).sort()) {
    const el = dict[tag];
    // Group lengths (gggg,0000) are retired, and count bytes of an encoding the JSON model does not have (PS3.5 7.2).
    if (!el || tag.startsWith('0002') || tag.endsWith('0000')) continue;
    out[tag] = convertElement(tag, el, inItem, conversion);
  }
  return out;
}

/**
 * "US or SS" values are read as US in an Implicit VR file, and in any file where they came as UN (see dcmjs-read);
 * PS3.5 has Pixel Representation decide, so with 1 they are signed. (An Explicit VR writer that called them US
 * with Pixel Representation 1 wrote the signed bits under the wrong VR; they are read by Pixel Representation too.)
 */
function conversionOf(file: dcmjs.DicomDict): Conversion {
  const transferSyntaxUid = file.meta['00020010']?.Value?.[0];
  return { signedPixelValuesReadAsUs: file.dict['00280103']?.Value?.[0] === 1,
    transferSyntaxUid: typeof transferSyntaxUid === 'string' ? transferSyntaxUid.replace(/\0/g, '').trim() : '' };
}

/**
 * Reads a PS3.10 file into the DICOM JSON model without its pixel data, which is referenced by a
 * BulkDataURI built on {@link BULK_DATA_PLACEHOLDER}, as are top-level binary values over 1 KB; each such URI
 * names a top-level element that WADO-RS bulkdata serves.
 */
export function readDicomJson(bytes: Uint8Array, bitsAllocated: number | null, encapsulated: boolean): DicomJson {
  let parsed: dcmjs.DicomDict;
  let hasPixelData: boolean;
  let json: DicomJson;
  try {
    // Files stored before ingest refused them (see assertReadableEncoding) are refused here, not read wrongly.
    assertReadableEncoding(bytes);
    parsed = readDcmjsDataSet(bytes);
    hasPixelData = PIXEL_DATA in parsed.dict;
    delete parsed.dict[PIXEL_DATA];
    json = convertDataset(parsed.dict, false, conversionOf(parsed));
  } catch (err) {
    if (isMipsegError(err)) throw err;
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', err instanceof Error ? err.message : String(err), { cause: err });
  }
  // Encapsulated Pixel Data keeps its URI too: PS3.18 8.7.3.3.2 defines it as bulk data (each frame's compressed
  // bitstream), which the bulkdata route serves. Leaving the URI out would say Pixel Data is empty (F.2.5).
  if (hasPixelData) {
    json[PIXEL_DATA] = {
      vr: encapsulated || (bitsAllocated ?? 16) <= 8 ? 'OB' : 'OW',
      BulkDataURI: `${BULK_DATA_PLACEHOLDER}/bulkdata/${PIXEL_DATA}`,
    };
  }
  return json;
}
