import * as dcmjs from 'dcmjs';
import type * as dicomParser from 'dicom-parser';
import {
  dicomTextDecoder, EXTENDED_VRS, specificCharacterSetOf, usesCodeExtensions, type DicomTextDecoder,
} from './character-sets';
import { parseStoredDicom } from './parse-options';
import { assertSequenceDepthWithin } from './sequence-depth';

/**
 * dcmjs refuses a data set whose Specific Character Set uses ISO 2022 code extensions (multi-valued
 * (0008,0005), as Japanese and Korean scanners send); with ignoreErrors it silently stops reading at a
 * sequence item that declares one. So dcmjs reads a copy in which each such (0008,0005) says ISO_IR 100
 * (a single-byte set: every byte decodes), and each text element's value is then decoded again from the
 * original bytes, as dicom-parser finds them, by dicomTextDecoder, sequence items included.
 */

const PIXEL_DATA = '7FE00010';
const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';

/** dcmjs's SQ reader, reading the items in Implicit VR Little Endian whatever the file's transfer syntax. */
function implicitSequenceReader(): dcmjs.ValueRepresentationInstance {
  // dcmjs keeps one instance per VR: the SQ reader every sequence uses is wrapped, never changed.
  const sequence = dcmjs.data.ValueRepresentation.createByTypeString('SQ');
  const read = sequence.read.bind(sequence);
  return Object.create(sequence, {
    read: { value: (stream: unknown, length: number, _syntax: string, options?: unknown) => read(stream, length, IMPLICIT_VR_LITTLE_ENDIAN, options) },
  }) as typeof sequence;
}

/**
 * PS3.5 6.2.2: a sequence sent as UN (by an archive that did not know the attribute when it stored the file) holds
 * its items in Implicit VR Little Endian, of defined or undefined length. dcmjs 0.51 re-reads an explicit UN element
 * whose tag it knows by the dictionary's VR, but in the file's own explicit syntax, after reading the value as bytes:
 * an undefined length then runs past the end, and a defined one is read as explicit items whose lengths are made of
 * value bytes (a value of hundreds of megabytes). Such an element is read here as the standard has it; its 'US or SS'
 * (xs) values are read as US, which the DICOM JSON model signs by Pixel Representation.
 */
function readUnknownSequencesAsImplicit(): void {
  const vrs = dcmjs.data.ValueRepresentation;
  const byDictionary = vrs.parseUnknownVr.bind(vrs);
  const implicitSequence = implicitSequenceReader();
  vrs.parseUnknownVr = (type) => {
    if (type === 'xs') return byDictionary('US');
    return type === 'SQ' ? implicitSequence : byDictionary(type);
  };
}
readUnknownSequencesAsImplicit();

/** What the SV reader below uses of dcmjs's ReadBufferStream (dcmjs ships no types for it). */
interface ReadStream {
  readBigUint64(): bigint;
}

/**
 * dcmjs 0.51 has readers for UV but none for OL, OV or SV: it reads an element of those VRs (by its explicit VR code,
 * or by the dictionary's VR in an Implicit VR file) as UN, and the DICOM JSON model then calls an Extended Offset Table
 * UN. The layout is UN's (two reserved bytes, a 4-byte length) for all three, so OL and OV are UN's reader under their
 * own name, and SV is UV's with the value read signed.
 */
function readVrsDcmjsLacks(): void {
  const vrs = dcmjs.data.ValueRepresentation;
  const byType = vrs.createByTypeString.bind(vrs);
  const named = (base: dcmjs.ValueRepresentationInstance, type: string, more: PropertyDescriptorMap = {}) =>
    Object.create(base, { type: { value: type }, ...more }) as dcmjs.ValueRepresentationInstance;
  // dcmjs's stream reads no signed 64-bit word: the unsigned one, in the file's byte order, as two's complement.
  const readSigned = (stream: ReadStream): bigint => BigInt.asIntN(64, stream.readBigUint64());
  // dcmjs keeps one reader per VR and compares none by identity: these are made once, like its own.
  const added: ReadonlyMap<string, dcmjs.ValueRepresentationInstance> = new Map([
    ['OL', named(byType('UN'), 'OL')],
    ['OV', named(byType('UN'), 'OV')],
    ['SV', named(byType('UV'), 'SV', { readBytes: { value: readSigned } })],
  ]);
  vrs.createByTypeString = (type) => added.get(type) ?? byType(type);
}
readVrsDcmjsLacks();

const UNDEFINED_LENGTH = 0xffffffff;

/**
 * PS3.5 6.2.2: a UN element of undefined length holds a sequence, its items in Implicit VR Little Endian, ended by a
 * Sequence Delimitation Item; typically a private sequence re-encoded by an archive that did not know its tag. dcmjs
 * 0.51 reads a UN whose tag its dictionary does not know as bytes, and with an undefined length it reads past the end,
 * so the whole instance's metadata failed. It is read here as the SQ it is, as DCMTK (CP-246) and pydicom read it, and
 * as a known tag sent as UN is above: the DICOM JSON model gives it as "SQ" with its items, and a binary value within
 * them (a private element's, UN in Implicit VR) inline, as in any item. As UN it could be given only as the bytes of
 * Implicit VR items (InlineBinary or a BulkDataURI), which every client would have to parse again to see the standard
 * attributes an item holds. A UN of defined length stays UN: nothing in its encoding says it is a sequence.
 */
function readUnknownUndefinedLengthAsSequences(): void {
  const vrs = dcmjs.data.ValueRepresentation;
  const byType = vrs.createByTypeString.bind(vrs);
  const unknown = byType('UN');
  const implicitSequence = implicitSequenceReader();
  // dcmjs names an element by its reader's type after reading its value, and learns the length only after choosing the
  // reader: each UN element gets a reader of its own that calls itself SQ once it has read a sequence.
  const readerOfOneElement = (): dcmjs.ValueRepresentationInstance => {
    const reader = Object.create(unknown, {
      read: {
        value: (stream: unknown, length: number, syntax: string, options?: unknown) => {
          if (length !== UNDEFINED_LENGTH) return unknown.read(stream, length, syntax, options);
          Object.defineProperty(reader, 'type', { value: 'SQ' });
          return implicitSequence.read(stream, length, IMPLICIT_VR_LITTLE_ENDIAN, options);
        },
      },
    }) as dcmjs.ValueRepresentationInstance;
    return reader;
  };
  vrs.createByTypeString = (type) => (type === 'UN' ? readerOfOneElement() : byType(type));
}
readUnknownUndefinedLengthAsSequences();

/** VRs with one value whatever backslashes they hold (PS3.5 6.2). */
const SINGLE_VALUED_VRS = new Set(['ST', 'LT', 'UT']);

/** A PN value in the DICOM JSON model (PS3.18 F.2.2): its component groups by name. */
function personName(value: string): Record<string, string> {
  const [alphabetic = '', ideographic, phonetic] = value.split('=');
  return {
    ...(alphabetic !== '' ? { Alphabetic: alphabetic } : {}),
    ...(ideographic ? { Ideographic: ideographic } : {}),
    ...(phonetic ? { Phonetic: phonetic } : {}),
  };
}

function textValues(text: string, vr: string): unknown[] {
  const values = SINGLE_VALUED_VRS.has(vr) ? [text] : text.split('\\');
  return vr === 'PN' ? values.map(personName) : values;
}

function redecodeDict(dict: dcmjs.DicomJsonDict, ds: dicomParser.DataSet, inherited: DicomTextDecoder): void {
  const own = specificCharacterSetOf(ds);
  const decoder = own === null ? inherited : dicomTextDecoder(own);
  for (const [key, el] of Object.entries(ds.elements)) {
    const target = dict[key.slice(1).toUpperCase()];
    if (!target) continue;
    if (el.items) {
      el.items.forEach((item, i) => {
        const nested = target.Value?.[i];
        if (item.dataSet && typeof nested === 'object' && nested !== null) {
          redecodeDict(nested as dcmjs.DicomJsonDict, item.dataSet, decoder);
        }
      });
      continue;
    }
    const vr = target.vr ?? el.vr ?? '';
    if (!EXTENDED_VRS.has(vr) || el.length === 0 || el.length === 0xffffffff) continue;
    const bytes = ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
    target.Value = textValues(decoder.decode(bytes, vr).replace(/[\0 ]+$/, ''), vr);
  }
}

/**
 * The terms dcmjs decodes itself (its encodingMapping, after its own normalisation: '_' and ' ' to '-', lower case). It
 * throws for any other, and for more than one value: ISO 2022 code extensions, but also a repeated term
 * ('ISO_IR 100\\ISO_IR 100') or a spelling outside PS3.3 ('ISO-8859-1'), which scanners send too.
 */
const DCMJS_TERMS: ReadonlySet<string> = new Set(Object.keys(
  (dcmjs as unknown as { constants: { encodingMapping: Record<string, string> } }).constants.encodingMapping));

function dcmjsCannotRead(specificCharacterSet: string): boolean {
  const terms = specificCharacterSet.split('\\');
  // As dcmjs compares: its reader trims spaces, not the NULs some writers pad with ('GB18030\\0' is unknown to it).
  const first = (terms[0] ?? '').trim().replace(/[_ ]/g, '-').toLowerCase();
  return usesCodeExtensions(specificCharacterSet) || terms.length > 1 || !DCMJS_TERMS.has(first);
}

/**
 * Every (0008,0005) in the data set and its sequence items that dcmjs would refuse: ISO 2022 code extensions, and
 * any other term or combination it does not know (dicomTextDecoder reads those, as Latin-1 where it knows none).
 */
function codeExtensionElements(ds: dicomParser.DataSet): dicomParser.Element[] {
  const own = ds.elements['x00080005'];
  const found = own && dcmjsCannotRead(specificCharacterSetOf(ds) ?? '') ? [own] : [];
  for (const el of Object.values(ds.elements)) {
    for (const item of el.items ?? []) if (item.dataSet) found.push(...codeExtensionElements(item.dataSet));
  }
  return found;
}

/**
 * 'ISO_IR 100' padded with spaces to the value's length (ISO 2022 terms are longer), or all spaces where it does not
 * fit (an unknown short term): dcmjs then reads the default repertoire, single-byte too.
 */
function overwriteWithSingleByteSet(buffer: ArrayBuffer, el: dicomParser.Element): void {
  const value = el.length >= 'ISO_IR 100'.length ? 'ISO_IR 100'.padEnd(el.length, ' ') : ' '.repeat(el.length);
  new Uint8Array(buffer, el.dataOffset, el.length).set(Buffer.from(value.slice(0, el.length), 'latin1'));
}

/** Where dcmjs may stop reading: just after Pixel Data's element header (tag, VR, length), so it sees the tag. */
function headerEnd(ds: dicomParser.DataSet): number {
  const el = ds.elements['x7fe00010'];
  return el ? Math.min(ds.byteArray.byteLength, el.dataOffset) : ds.byteArray.byteLength;
}

/**
 * Reads a PS3.10 file's data set with dcmjs up to Pixel Data (its value left out; dcmjs gets a copy of the
 * bytes before it only), the text decoded in whatever character set the data set declares. `parsed` is
 * dicom-parser's parse of the same bytes up to Pixel Data, where the caller has it. Throws what dcmjs and
 * parseStoredDicom throw for a file they cannot read, and MIPSEG_DICOM_SEQUENCES_TOO_DEEP.
 */
export function readDcmjsDataSet(bytes: Uint8Array, parsed: dicomParser.DataSet = parseStoredDicom(bytes, 'x7fe00010')): dcmjs.DicomDict {
  // An instance stored before ingest refused such nesting: dcmjs would take depth × bytes, or overflow its stack.
  assertSequenceDepthWithin(parsed);
  const end = headerEnd(parsed);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + end) as ArrayBuffer;
  const extended = codeExtensionElements(parsed).filter((el) => el.dataOffset + el.length <= end);
  for (const el of extended) overwriteWithSingleByteSet(buffer, el);
  const file = dcmjs.data.DicomMessage.readFile(buffer, { untilTag: PIXEL_DATA, includeUntilTagValue: false });
  if (extended.length) redecodeDict(file.dict, parsed, dicomTextDecoder(''));
  return file;
}
