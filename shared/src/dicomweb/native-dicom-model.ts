import * as dcmjs from 'dcmjs';
import type { DicomJson, DicomJsonAttribute } from '../dicom';

/** PS3.19 A.1: the namespace of the Native DICOM Model (`application/dicom+xml`). */
export const NATIVE_DICOM_MODEL_NAMESPACE = 'http://dicom.nema.org/PS3.19/models/NativeDICOM';

const PERSON_NAME_GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'] as const;
const NAME_COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'] as const;

// A CR is kept as a reference: a parser would otherwise fold a CR LF in an LT/ST/UT value into LF.
const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;',
};

/** XML 1.0 characters; the rest (most C0 controls, lone surrogates) cannot appear even as a reference. */
function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff)
    || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * Escapes text for element content and attribute values. A character XML cannot carry (e.g. the ESC of an
 * ISO 2022 string) becomes U+FFFD: a document a client cannot parse would lose every other value with it.
 */
function escapeXml(text: string): string {
  let out = '';
  for (const ch of text) out += ESCAPES[ch] ?? (isXmlChar(ch.codePointAt(0) ?? 0) ? ch : '\uFFFD');
  return out;
}

/** The PS3.6 keyword of a standard tag; undefined for private and unknown tags (PS3.19 makes it optional). */
function keywordOf(tag: string): string | undefined {
  const entry = dcmjs.data.DicomMetaDictionary.dictionary[`(${tag.slice(0, 4)},${tag.slice(4)})`];
  return entry?.name ? entry.name : undefined;
}

function personNameGroup(group: string, text: string): string {
  const components = text.split('^').map((part, i) => {
    const name = NAME_COMPONENTS[i];
    return name && part !== '' ? `<${name}>${escapeXml(part)}</${name}>` : '';
  });
  return `<${group}>${components.join('')}</${group}>`;
}

/** PS3.18 F.2.2 PN object (`{"Alphabetic": "Doe^John"}`) → PS3.19 PersonName with its name components. */
function personName(value: unknown, number: number): string {
  if (typeof value !== 'object' || value === null) return `<PersonName number="${number}"/>`;
  const groups = value as Record<string, unknown>;
  const present = PERSON_NAME_GROUPS.filter((g) => typeof groups[g] === 'string' && groups[g] !== '');
  return `<PersonName number="${number}">${present.map((g) => personNameGroup(g, groups[g] as string)).join('')}</PersonName>`;
}

/** A string or number value (JSON `null` for an empty one in a multi-valued attribute, PS3.18 F.2.5). */
function plainValue(value: unknown, number: number): string {
  if (value === null || value === undefined) return `<Value number="${number}"/>`;
  const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value);
  return `<Value number="${number}">${escapeXml(text)}</Value>`;
}

function attributeContent(attr: DicomJsonAttribute): string {
  const values = attr.Value ?? [];
  if (attr.vr === 'SQ') {
    return values.map((item, i) => `<Item number="${i + 1}">${dataSetContent(item as DicomJson)}</Item>`).join('');
  }
  const rendered = values.map((v, i) => (attr.vr === 'PN' ? personName(v, i + 1) : plainValue(v, i + 1)));
  if (attr.InlineBinary !== undefined) rendered.push(`<InlineBinary>${escapeXml(attr.InlineBinary)}</InlineBinary>`);
  if (attr.BulkDataURI !== undefined) rendered.push(`<BulkData uri="${escapeXml(attr.BulkDataURI)}"/>`);
  return rendered.join('');
}

function dicomAttribute(tag: string, attr: DicomJsonAttribute): string {
  const keyword = keywordOf(tag);
  const open = `<DicomAttribute tag="${tag}" vr="${escapeXml(attr.vr)}"${keyword ? ` keyword="${keyword}"` : ''}`;
  const content = attributeContent(attr);
  return content === '' ? `${open}/>` : `${open}>${content}</DicomAttribute>`;
}

/** Attributes in ascending tag order, as PS3.19 lists them (JSON object keys carry no order). */
function dataSetContent(dataSet: DicomJson): string {
  return Object.entries(dataSet)
    .map(([tag, attr]) => [tag.toUpperCase(), attr] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([tag, attr]) => dicomAttribute(tag, attr))
    .join('');
}

/**
 * Writes a data set in the PS3.18 Annex F JSON model as a PS3.19 Native DICOM Model document
 * (`application/dicom+xml`): one DicomAttribute per tag with its keyword, numbered Value, PersonName and Item
 * elements, InlineBinary and BulkData; all text XML-escaped.
 */
export function toNativeDicomModelXml(dataSet: DicomJson): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    + `<NativeDicomModel xmlns="${NATIVE_DICOM_MODEL_NAMESPACE}">${dataSetContent(dataSet)}</NativeDicomModel>\n`;
}
