import * as dcmjs from 'dcmjs';
import type { NaturalDataset } from './part10';

/**
 * Text copied from a source can be longer than its VR allows, and dcmjs writes SH, LO, ST and LT values of any
 * length (it only logs them), so the result would fail dciodvfy. PS3.5 6.2 counts these lengths in characters;
 * dciodvfy counts the bytes, in UTF-8 (ISO_IR 192, what the results declare) too. A value fitted to the byte count
 * fits both: for ASCII the two are the same.
 */
const TEXT_VR_MAX_LENGTH: Readonly<Record<string, number>> = { SH: 16, LO: 64, ST: 1024, LT: 10240 };

/** VRs whose backslash separates values, each limited on its own; in ST and LT it is a character of the text. */
const MULTI_VALUED_VRS = new Set(['SH', 'LO']);

/**
 * Written as the source has them, whatever their length. The first four tie the result to its patient and order:
 * a PACS files the result by them and a RIS matches it to the order, so a cut value would detach it (dciodvfy then
 * reports the length, as it does for the source). A code's value, scheme or version cut short is another code.
 */
const KEPT_VERBATIM = new Set(['PatientID', 'IssuerOfPatientID', 'AccessionNumber', 'StudyID', 'CodeValue',
  'CodingSchemeDesignator', 'CodingSchemeVersion']);

const utf8Length = (text: string): number => Buffer.byteLength(text, 'utf8');

/** The longest start of `text` whose UTF-8 encoding takes at most `maxBytes`, never cut inside a character. */
export function fitUtf8Length(text: string, maxBytes: number): string {
  if (utf8Length(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const character of text) {
    bytes += utf8Length(character);
    if (bytes > maxBytes) break;
    out += character;
  }
  // Trailing spaces are padding in these VRs (PS3.5 6.2): a cut that ends on one would leave a shorter value.
  return out.trimEnd();
}

function textVrOf(keyword: string): string | undefined {
  // Own keys only: `constructor` or `toString` would otherwise find Object.prototype's members.
  const { nameMap } = dcmjs.data.DicomMetaDictionary;
  const vr = Object.hasOwn(nameMap, keyword) ? nameMap[keyword]?.vr : undefined;
  return vr !== undefined && vr in TEXT_VR_MAX_LENGTH ? vr : undefined;
}

/** What fitTextToVrs gives: the data set to write, and the values written too long on purpose (KEPT_VERBATIM). */
export interface FittedDataset {
  readonly dataset: NaturalDataset;
  /** Each as its keyword, within sequences its path ('OtherPatientIDsSequence > PatientID'), once. */
  readonly overlongIdentifiers: readonly string[];
}

/**
 * A result's data set with every SH, LO, ST and LT value (at any depth) cut to its VR's length, except those in
 * KEPT_VERBATIM, which are listed instead. What mipseg composes itself fits already (see assertType1LongStrings);
 * what is cut came from the source.
 */
export function fitTextToVrs(dataset: NaturalDataset): FittedDataset {
  const kept = new Set<string>();
  return { dataset: fitItem(dataset, '', kept), overlongIdentifiers: [...kept] };
}

function isItem(value: unknown): value is NaturalDataset {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value);
}

function fitItem(item: NaturalDataset, path: string, kept: Set<string>): NaturalDataset {
  return Object.fromEntries(Object.entries(item).map(([keyword, value]) =>
    [keyword, fitValue(keyword, value, path === '' ? keyword : `${path} > ${keyword}`, kept)]));
}

function fitValue(keyword: string, value: unknown, path: string, kept: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((v: unknown) => fitValue(keyword, v, path, kept));
  // A sequence's items; dcmjs's person names ({ Alphabetic, … }) pass through unchanged, their keys being no keywords.
  if (isItem(value)) return fitItem(value, path, kept);
  const vr = typeof value === 'string' ? textVrOf(keyword) : undefined;
  if (vr === undefined || typeof value !== 'string') return value;
  const max = TEXT_VR_MAX_LENGTH[vr] as number;
  const values = MULTI_VALUED_VRS.has(vr) ? value.split('\\') : [value];
  if (values.every((v) => utf8Length(v) <= max)) return value;
  if (KEPT_VERBATIM.has(keyword)) {
    kept.add(path);
    return value;
  }
  return values.map((v) => fitUtf8Length(v, max)).join('\\');
}
