import type { DicomJson, DicomJsonAttribute } from '@mipseg/shared/dicom';

const PERSON_NAME_GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'] as const;
type PersonName = Partial<Record<(typeof PERSON_NAME_GROUPS)[number], string>>;

/**
 * PS3.18 F.2.2: one PN value as stored (`Yamada^Tarou=山田^太郎`) to its component groups; empty groups are left
 * out, as dcmjs leaves them out of WADO metadata, so a client sees the same name from QIDO and from WADO.
 */
function personName(value: string): PersonName | null {
  const groups = value.split('=');
  const name: PersonName = {};
  PERSON_NAME_GROUPS.forEach((group, i) => {
    const text = groups[i];
    if (text) name[group] = text;
  });
  return Object.keys(name).length ? name : null;
}

/** PN values as the index holds them: several values in one string, separated by backslashes (PS3.5 6.4). */
function personNames(values: readonly unknown[]): Array<PersonName | null> {
  return values.flatMap((v) => String(v).split('\\')).map(personName);
}

/** Builds one PS3.18 Annex F attribute; empty or null values give an attribute without `Value`. */
export function attribute(vr: string, ...values: ReadonlyArray<unknown>): DicomJsonAttribute {
  const present = values.filter((v) => v !== null && v !== undefined && v !== '');
  if (present.length === 0) return { vr };
  if (vr !== 'PN') return { vr, Value: [...present] };
  // An empty value among others stays in its place as null (PS3.18 F.2.5); none at all means no Value.
  const names = personNames(present);
  return names.some((n) => n !== null) ? { vr, Value: names } : { vr };
}

export function sequence(items: readonly DicomJson[]): DicomJsonAttribute {
  return items.length ? { vr: 'SQ', Value: [...items] } : { vr: 'SQ' };
}

/** Tags used in DICOMweb responses. */
export const Tag = {
  SpecificCharacterSet: '00080005',
  InstanceAvailability: '00080056',
  ModalitiesInStudy: '00080061',
  RetrieveURL: '00081190',
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  ReferencedSOPClassUID: '00081150',
  ReferencedSOPInstanceUID: '00081155',
  FailureReason: '00081197',
  WarningReason: '00081196',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
} as const;
