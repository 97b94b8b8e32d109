import type { DicomJson, DicomJsonAttribute } from '@mipseg/shared/dicom';

/** Builds one PS3.18 Annex F attribute; empty or null values give an attribute without `Value`. */
export function attribute(vr: string, ...values: ReadonlyArray<unknown>): DicomJsonAttribute {
  const present = values.filter((v) => v !== null && v !== undefined && v !== '');
  if (present.length === 0) return { vr };
  if (vr === 'PN') return { vr, Value: present.map((v) => ({ Alphabetic: String(v) })) };
  return { vr, Value: [...present] };
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
