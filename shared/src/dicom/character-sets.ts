import { TextDecoder } from 'node:util';
import type * as dicomParser from 'dicom-parser';

/**
 * Text values in the character sets of Specific Character Set (0008,0005), PS3.3 C.12.1.1.2, decoded to
 * JavaScript strings: the single character sets, UTF-8 and GB18030, and the ISO 2022 code extensions of
 * PS3.5 6.1.2.5 that Japanese, Korean, Chinese and Thai sites send (escape sequences switching G0 and G1
 * mid-value). dcmjs refuses a multi-valued (0008,0005) and dicom-parser decodes nothing, so this is the one
 * place mipseg turns stored text bytes into strings.
 */

/** A coded character set: how the bytes of the plane it is designated to are decoded. */
interface CodedSet {
  /** WHATWG encoding that decodes the set's bytes once they are in that encoding's form. */
  readonly encoding: string;
  /** Bytes per character in a G0 (7-bit) two-byte set, which is decoded through EUC; 1 otherwise. */
  readonly width: 1 | 2;
  /** Byte put before each two-byte character to reach it in EUC (JIS X 0212 is EUC-JP's code set 3). */
  readonly eucPrefix?: number;
}

const ASCII: CodedSet = { encoding: 'latin1', width: 1 };
const JIS_X_0201_ROMAN: CodedSet = { encoding: 'shift_jis', width: 1 };
const JIS_X_0201_KATAKANA: CodedSet = { encoding: 'shift_jis', width: 1 };
const JIS_X_0208: CodedSet = { encoding: 'euc-jp', width: 2 };
const JIS_X_0212: CodedSet = { encoding: 'euc-jp', width: 2, eucPrefix: 0x8f };
const KS_X_1001: CodedSet = { encoding: 'euc-kr', width: 1 };
const GB_2312: CodedSet = { encoding: 'gbk', width: 1 };
const single = (encoding: string): CodedSet => ({ encoding, width: 1 });

/** The G1 (upper half) sets of the single-byte terms, by ISO-IR number. */
const SINGLE_BYTE_G1: Readonly<Record<string, CodedSet>> = {
  '100': single('latin1'),
  '101': single('iso-8859-2'),
  '109': single('iso-8859-3'),
  '110': single('iso-8859-4'),
  '144': single('iso-8859-5'),
  '127': single('iso-8859-6'),
  '126': single('iso-8859-7'),
  '138': single('iso-8859-8'),
  '148': single('iso-8859-9'),
  '203': single('iso-8859-15'),
  '166': single('windows-874'),
};

/** Escape sequences of PS3.3 Tables C.12-3 and C.12-4 (after ESC): the plane and the set they designate. */
const ESCAPES: ReadonlyMap<string, { readonly plane: 0 | 1; readonly set: CodedSet }> = new Map([
  ['(B', { plane: 0, set: ASCII }],
  ['(J', { plane: 0, set: JIS_X_0201_ROMAN }],
  [')I', { plane: 1, set: JIS_X_0201_KATAKANA }],
  ['$B', { plane: 0, set: JIS_X_0208 }],
  ['$(D', { plane: 0, set: JIS_X_0212 }],
  ['$)C', { plane: 1, set: KS_X_1001 }],
  ['$)A', { plane: 1, set: GB_2312 }],
  ['-A', { plane: 1, set: SINGLE_BYTE_G1['100']! }],
  ['-B', { plane: 1, set: SINGLE_BYTE_G1['101']! }],
  ['-C', { plane: 1, set: SINGLE_BYTE_G1['109']! }],
  ['-D', { plane: 1, set: SINGLE_BYTE_G1['110']! }],
  ['-L', { plane: 1, set: SINGLE_BYTE_G1['144']! }],
  ['-G', { plane: 1, set: SINGLE_BYTE_G1['127']! }],
  ['-F', { plane: 1, set: SINGLE_BYTE_G1['126']! }],
  ['-H', { plane: 1, set: SINGLE_BYTE_G1['138']! }],
  ['-M', { plane: 1, set: SINGLE_BYTE_G1['148']! }],
  ['-b', { plane: 1, set: SINGLE_BYTE_G1['203']! }],
  ['-T', { plane: 1, set: SINGLE_BYTE_G1['166']! }],
]);

/** Terms without code extensions (PS3.3 Table C.12-2 and C.12-5): one encoding for the whole value. */
const WHOLE_VALUE_ENCODINGS: Readonly<Record<string, string>> = {
  '': 'latin1',
  ISO_IR_6: 'latin1',
  ISO_IR_13: 'shift_jis',
  ISO_IR_192: 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
  ...Object.fromEntries(Object.entries(SINGLE_BYTE_G1).map(([ir, set]) => [`ISO_IR_${ir}`, set.encoding])),
};

interface Designation {
  readonly g0: CodedSet;
  readonly g1: CodedSet | null;
}

/** What value 1 of (0008,0005) designates at the start of every value and after every delimiter. */
function initialDesignation(term: string): Designation {
  const ir = /^ISO 2022 IR (\d+)$/.exec(term)?.[1];
  if (term === '' || ir === '6') return { g0: ASCII, g1: null };
  if (ir === '13') return { g0: JIS_X_0201_ROMAN, g1: JIS_X_0201_KATAKANA };
  if (ir === '87') return { g0: JIS_X_0208, g1: null };
  if (ir === '159') return { g0: JIS_X_0212, g1: null };
  if (ir === '149') return { g0: ASCII, g1: KS_X_1001 };
  if (ir === '58') return { g0: ASCII, g1: GB_2312 };
  return { g0: ASCII, g1: (ir && SINGLE_BYTE_G1[ir]) || null };
}

const ESC = 0x1b;
const BACKSLASH = 0x5c;
const CONTROL_DELIMITERS = new Set([0x09, 0x0a, 0x0c, 0x0d]);
const PN_DELIMITERS = new Set([0x5e, 0x3d]);

const decoders = new Map<string, TextDecoder>();
function decoder(encoding: string): TextDecoder {
  let d = decoders.get(encoding);
  if (!d) decoders.set(encoding, (d = new TextDecoder(encoding)));
  return d;
}

/** A run of bytes in one plane, decoded by the set designated to it (G0 two-byte sets reach EUC by setting bit 8). */
function decodeRun(bytes: number[], set: CodedSet, plane: 0 | 1): string {
  if (set.width === 1 || plane === 1) return decoder(set.encoding).decode(Uint8Array.from(bytes));
  const euc: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    if (set.eucPrefix !== undefined) euc.push(set.eucPrefix);
    euc.push(bytes[i]! | 0x80, bytes[i + 1]! | 0x80);
  }
  const text = decoder(set.encoding).decode(Uint8Array.from(euc));
  return bytes.length % 2 === 1 ? `${text}\ufffd` : text;
}

/** The escape sequence starting at `at` (ESC, intermediates 0x20–0x2F, a final byte), or null. */
function escapeAt(bytes: Uint8Array, at: number): { key: string; length: number } | null {
  let end = at + 1;
  while (end < bytes.length && bytes[end]! >= 0x20 && bytes[end]! <= 0x2f) end++;
  if (end >= bytes.length) return null;
  return { key: String.fromCharCode(...bytes.subarray(at + 1, end + 1)), length: end + 1 - at };
}

/** Decodes one value of a VR whose text may switch character sets (PS3.5 6.1.2.5.3). */
function decodeWithCodeExtensions(bytes: Uint8Array, initial: Designation, isPersonName: boolean): string {
  let state = initial;
  let out = '';
  let run: number[] = [];
  let runPlane: 0 | 1 = 0;
  const flush = (): void => {
    if (run.length === 0) return;
    const set = runPlane === 0 ? state.g0 : state.g1 ?? ASCII;
    out += decodeRun(run, set, runPlane);
    run = [];
  };
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === ESC) {
      const escape = escapeAt(bytes, i);
      const designated = escape ? ESCAPES.get(escape.key) : undefined;
      if (escape && designated) {
        flush();
        state = designated.plane === 0 ? { ...state, g0: designated.set } : { ...state, g1: designated.set };
        i += escape.length - 1;
        continue;
      }
    }
    const plane: 0 | 1 = byte >= 0x80 ? 1 : 0;
    const singleByteG0 = state.g0.width === 1;
    const delimiter = singleByteG0 && plane === 0 &&
      (byte === BACKSLASH || CONTROL_DELIMITERS.has(byte) || (isPersonName && PN_DELIMITERS.has(byte)));
    if (delimiter) {
      flush();
      out += String.fromCharCode(byte);
      // The encoder returns to value 1's sets before a delimiter; a decoder does the same, so one lost escape
      // spoils one name component instead of the rest of the value.
      state = initial;
      continue;
    }
    if (plane !== runPlane) flush();
    runPlane = plane;
    run.push(byte);
  }
  flush();
  return out;
}

/** Decodes the text values of one data set (or sequence item) under its Specific Character Set. */
export interface DicomTextDecoder {
  /** The whole value field, multiple values still joined by '\'; trailing padding is the caller's to trim. */
  decode(bytes: Uint8Array, vr: string): string;
}

/** VRs whose values may use the character sets of (0008,0005); all others are the default repertoire. */
export const EXTENDED_VRS: ReadonlySet<string> = new Set(['SH', 'LO', 'ST', 'LT', 'UC', 'UT', 'PN']);

/**
 * A decoder for a data set whose (0008,0005) holds `specificCharacterSet` (values separated by '\', as stored).
 * An unknown term decodes as Latin-1, which never throws: a name shown slightly wrong beats a refused study.
 */
export function dicomTextDecoder(specificCharacterSet: string): DicomTextDecoder {
  const terms = specificCharacterSet.split('\\').map((t) => t.replace(/\0/g, '').trim());
  const extended = terms.some((t) => t.startsWith('ISO 2022'));
  if (!extended) {
    // The first term names the repertoire ('ISO_IR 192\\', a trailing backslash, is ISO_IR 192, not the default).
    const key = (terms.find((t) => t !== '') ?? '').replace(/ /g, '_');
    const whole = decoder(WHOLE_VALUE_ENCODINGS[key] ?? 'latin1');
    return {
      decode: (bytes, vr) => (EXTENDED_VRS.has(vr) ? whole : decoder('latin1')).decode(bytes),
    };
  }
  const initial = initialDesignation(terms[0] ?? '');
  return {
    decode: (bytes, vr) =>
      EXTENDED_VRS.has(vr) ? decodeWithCodeExtensions(bytes, initial, vr === 'PN') : decoder('latin1').decode(bytes),
  };
}

/** True when dcmjs cannot decode the data set's text itself (it refuses ISO 2022 code extensions). */
export function usesCodeExtensions(specificCharacterSet: string): boolean {
  return specificCharacterSet.split('\\').some((t) => t.trim().startsWith('ISO 2022'));
}

/** The data set's (or sequence item's) own Specific Character Set as stored (values joined by '\\'), or null. */
export function specificCharacterSetOf(ds: dicomParser.DataSet): string | null {
  const el = ds.elements['x00080005'];
  if (!el || el.length === 0) return null;
  return Buffer.from(ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length)).toString('latin1');
}
