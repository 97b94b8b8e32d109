import { fitPnGroup } from './common-modules';
import type { DicomItem } from './source-series-context';

/**
 * Sequences copied from the source into a result are checked against the macros a validator holds the result to:
 * a source that broke one (a code item with a value but no scheme or meaning, a person identified without an
 * institution) would otherwise give every result of it errors under dciodvfy, and viewers that read the codes
 * meet the same gaps. What is incomplete is left out, never invented; Type 2 sequences stay, possibly empty.
 */

function isFilled(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0 && value.some(isFilled);
  if (typeof value === 'string') return value.trim() !== '';
  return value !== undefined && value !== null;
}

const PN_GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'];

/** A person name as dcmjs gives it ({ Alphabetic, Ideographic, Phonetic }). */
function isPersonName(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof ArrayBuffer)
    && Object.keys(value).length > 0 && Object.keys(value).every((k) => PN_GROUPS.includes(k));
}

/** A sequence's items: objects, but not person names, which dcmjs gives as objects too. */
const asItems = (value: unknown): DicomItem[] | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null && !(v instanceof ArrayBuffer) && !isPersonName(v))
    ? (value as DicomItem[]) : undefined;

/** PS3.3 Table 8.8-1 Basic Code Sequence Macro: a code value (of one of its three kinds), a scheme and a meaning. */
function isCompleteCode(item: DicomItem): boolean {
  const value = ['CodeValue', 'LongCodeValue', 'URNCodeValue'].some((k) => isFilled(item[k]));
  const scheme = isFilled(item['CodingSchemeDesignator']) || isFilled(item['URNCodeValue']);
  return value && scheme && isFilled(item['CodeMeaning']);
}

/** PS3.3 Table 10-1 Person Identification Macro: a code for the person, and the institution by name or code. */
function isCompletePersonIdentification(item: DicomItem): boolean {
  return isFilled(item['PersonIdentificationCodeSequence'])
    && (isFilled(item['InstitutionName']) || isFilled(item['InstitutionCodeSequence']));
}

/** Sequences whose items are Person Identification Macros (PS3.3 10.1), among those a result may copy. */
const PERSON_IDENTIFICATION_SEQUENCES = new Set(['ReferringPhysicianIdentificationSequence', 'PhysiciansOfRecordIdentificationSequence',
  'PhysiciansReadingStudyIdentificationSequence', 'PerformingPhysicianIdentificationSequence', 'OperatorIdentificationSequence',
  'RequestingPhysicianIdentificationSequence', 'ConsultingPhysicianIdentificationSequence']);

/** The items of a sequence with their own sequences checked, and those its macro would reject left out. */
function checkedItems(keyword: string, items: DicomItem[]): DicomItem[] {
  const checked = items.map(withCheckedSequences);
  if (keyword.endsWith('CodeSequence')) return checked.filter(isCompleteCode);
  if (PERSON_IDENTIFICATION_SEQUENCES.has(keyword)) return checked.filter(isCompletePersonIdentification);
  return checked;
}

/** Type 2 in their items (PS3.3 C.8.9.2 PET Isotope): present, if empty, whatever the source left out. */
const TYPE_2_IN_ITEMS: Readonly<Record<string, readonly string[]>> = {
  RadiopharmaceuticalInformationSequence: ['RadionuclideCodeSequence'],
};

/** Person names with each component group cut to 64 characters: a name the writer refuses would leave no result. */
function fittedValue(value: unknown): unknown {
  if (Array.isArray(value) && value.some(isPersonName)) return value.map(fittedValue);
  if (!isPersonName(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? fitPnGroup(v) : v]));
}

/** An item whose sequences (at any depth) are checked, see the file's comment, and whose person names fit PN. */
export function withCheckedSequences(item: DicomItem): DicomItem {
  const out: Record<string, unknown> = {};
  for (const [keyword, value] of Object.entries(item)) {
    const items = asItems(value);
    if (!items || items.length === 0) {
      out[keyword] = fittedValue(value);
      continue;
    }
    const kept = checkedItems(keyword, items).map((i) => withType2Sequences(keyword, i));
    // A sequence whose every item was incomplete goes with them: empty, it would say "known to be none".
    if (kept.length > 0) out[keyword] = kept;
  }
  return out;
}

function withType2Sequences(keyword: string, item: DicomItem): DicomItem {
  const required = TYPE_2_IN_ITEMS[keyword];
  if (!required) return item;
  return { ...Object.fromEntries(required.map((k) => [k, []])), ...item };
}

/** The items of a sequence copied from the source, checked as withCheckedSequences does. */
export function checkedSequence(keyword: string, items: readonly DicomItem[]): DicomItem[] {
  const kept = withCheckedSequences({ [keyword]: [...items] })[keyword];
  return asItems(kept) ?? [];
}
