import * as dcmjs from 'dcmjs';
import type * as dicomParser from 'dicom-parser';
import { dicomTextDecoder, type DicomTextDecoder } from '@mipseg/shared/dicom';
import type { DicomItem } from './source-series-context';

/**
 * dcmjs refuses ISO 2022 code extensions (a multi-valued Specific Character Set, as Japanese and Korean
 * scanners send); read with ignoreErrors it decodes the text as ASCII and keeps the escape sequences. This
 * puts the right text back into dcmjs's naturalised header, decoding each text element's bytes as read by
 * dicom-parser, sequences included (an item may carry its own (0008,0005)).
 */

const TEXT_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UC', 'UT', 'PN']);
/** VRs with one value whatever backslashes they hold (PS3.5 6.2). */
const SINGLE_VALUED_VRS = new Set(['ST', 'LT', 'UT']);

/** Keyword of each standard tag, keyed as dicom-parser keys tags. */
const KEYWORDS: ReadonlyMap<string, string> = new Map(
  Object.entries(dcmjs.data.DicomMetaDictionary.nameMap).flatMap(([keyword, { tag }]) => {
    const digits = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/i.exec(tag);
    return digits ? [[`x${digits[1]}${digits[2]}`.toLowerCase(), keyword] as const] : [];
  }),
);

function characterSetOf(ds: dicomParser.DataSet): string | null {
  const el = ds.elements['x00080005'];
  if (!el || el.length === 0) return null;
  return Buffer.from(ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length)).toString('latin1');
}

/** A PN value as dcmjs naturalises it: its component groups by name. */
function personName(value: string): DicomItem {
  const [alphabetic = '', ideographic, phonetic] = value.split('=');
  return {
    Alphabetic: alphabetic,
    ...(ideographic !== undefined ? { Ideographic: ideographic } : {}),
    ...(phonetic !== undefined ? { Phonetic: phonetic } : {}),
  };
}

function naturalValue(text: string, vr: string): unknown {
  const values = SINGLE_VALUED_VRS.has(vr) ? [text] : text.split('\\');
  if (vr === 'PN') return values.map(personName);
  return values.length === 1 ? values[0] : values;
}

function redecodeItems(natural: unknown, el: dicomParser.Element, decoder: DicomTextDecoder): void {
  if (!Array.isArray(natural) || !el.items) return;
  el.items.forEach((item, i) => {
    const target: unknown = natural[i];
    if (item.dataSet && typeof target === 'object' && target !== null) {
      redecodeInto(target as Record<string, unknown>, item.dataSet, decoder);
    }
  });
}

function redecodeInto(natural: Record<string, unknown>, ds: dicomParser.DataSet, inherited: DicomTextDecoder): void {
  const own = characterSetOf(ds);
  const decoder = own === null ? inherited : dicomTextDecoder(own);
  for (const [tag, el] of Object.entries(ds.elements)) {
    const keyword = KEYWORDS.get(tag);
    if (!keyword || !(keyword in natural)) continue;
    if (el.items) {
      redecodeItems(natural[keyword], el, decoder);
      continue;
    }
    const vr = el.vr ?? '';
    if (!TEXT_VRS.has(vr) || el.length === 0 || el.length === 0xffffffff) continue;
    const bytes = ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
    natural[keyword] = naturalValue(decoder.decode(bytes, vr).replace(/[\0 ]+$/, ''), vr);
  }
}

/** Replaces the text values of `natural` (dcmjs's naturalised form of `ds`) with `ds`'s bytes decoded correctly. */
export function redecodeSourceText(natural: DicomItem, ds: dicomParser.DataSet): void {
  redecodeInto(natural, ds, dicomTextDecoder(characterSetOf(ds) ?? ''));
}
