import { fromAcrNemaDate, fromAcrNemaTime, MIPSEG_MANUFACTURER } from '@mipseg/shared/dicom';
import { Concept } from './coded-concepts';
import { codeItem, formatDs, parseUtcOffset, type CodedConcept, type DicomTimestamp } from './dicom-values';
import { textOf } from './natural-values';
import type { NaturalDataset } from './part10';
import type { DicomItem, SourceInstanceRef, SourceSeriesContext } from './source-series-context';
import type { EquipmentIdentity } from './write-options';

/**
 * mipseg's input is a whole-body PET (the model's intended use) and the MIP shows all of it. Stating it also
 * settles General Series Laterality (2C), which a validator otherwise asks for when no body part is given.
 */
export const WHOLE_BODY = 'WHOLEBODY';
/** Type 3 attributes: written only where the source has a value. */
function optional(values: Record<string, string | number | null>): NaturalDataset {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null && v !== ''));
}

const ds = (n: number | null): string | null => (n === null ? null : formatDs(n));

/**
 * A copied DA as PS3.5 writes it: the ACR-NEMA form yyyy.mm.dd (which PS3.5 6.2 still has readers accept, and migrated
 * archives hold) without its dots; anything else that is not yyyymmdd is left empty (these are Type 2), since the
 * writer refuses it and the result could never be written.
 */
export function fitDa(value: string): string {
  const v = fromAcrNemaDate(value);
  return /^\d{8}$/.test(v) ? v : '';
}

/** A copied TM: the ACR-NEMA form hh:mm:ss.frac without its colons; anything else that is not a TM, empty (Type 2). */
export function fitTm(value: string): string {
  const v = fromAcrNemaTime(value);
  return /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/.test(v) ? v : '';
}

/** PS3.5 6.2: at most 64 characters in each of a PN's component groups. */
const PN_GROUP_MAX = 64;

/** A copied PN whose component groups are cut to 64 characters: a name too long to write would leave no result at all. */
export function fitPn(value: string): string {
  return value.split('=').map(fitPnGroup).join('=');
}

/**
 * One component group cut to 64 characters as the writer counts them (UTF-16 code units), never inside a character
 * outside the Basic Multilingual Plane.
 */
export function fitPnGroup(group: string): string {
  let out = '';
  for (const character of group) {
    if (out.length + character.length > PN_GROUP_MAX) break;
    out += character;
  }
  return out;
}

/**
 * A copied PatientSex as C.7.1.1 enumerates it (M, F, O), upper-cased; anything else empty (Type 2), as a reader given
 * "male" or "U" would have to guess, and dciodvfy flags it.
 */
export function fitPatientSex(value: string): string {
  const v = value.trim().toUpperCase();
  return v === 'M' || v === 'F' || v === 'O' ? v : '';
}

/** DT (PS3.5 6.2): YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]; a fraction only after the seconds. */
const DT_FORM = /^\d{4}((\d{2}){0,4}|(\d{2}){5}(\.\d{1,6})?)([+-]\d{4})?$/;

/**
 * A radiopharmaceutical item's times as PS3.5 writes them (dciodvfy and strict readers hold the result to it): a TM
 * in the ACR-NEMA form (08:00:00) in the PS3.5 one, a time or date-time that is neither left out (Type 3). Injection
 * times are what SUV is computed from, read before this; the result only restates them.
 */
export function withWritableTimes(item: DicomItem): DicomItem {
  const out: Record<string, unknown> = { ...item };
  for (const key of ['RadiopharmaceuticalStartTime', 'RadiopharmaceuticalStopTime']) {
    if (!(key in out)) continue;
    const fitted = fitTm(textOf(item, key));
    if (fitted) out[key] = fitted;
    else delete out[key];
  }
  for (const key of ['RadiopharmaceuticalStartDateTime', 'RadiopharmaceuticalStopDateTime']) {
    if (key in out && !DT_FORM.test(textOf(item, key))) delete out[key];
  }
  return out;
}

/** Patient, Patient Study and General Study modules: the source's values, so the result joins its study. */
export function patientAndStudyModules(source: SourceSeriesContext): NaturalDataset {
  return {
    PatientName: fitPn(source.PatientName),
    PatientID: source.PatientID,
    PatientBirthDate: fitDa(source.PatientBirthDate),
    PatientSex: fitPatientSex(source.PatientSex),
    StudyInstanceUID: source.StudyInstanceUID,
    StudyDate: fitDa(source.StudyDate),
    StudyTime: fitTm(source.StudyTime),
    ReferringPhysicianName: fitPn(source.ReferringPhysicianName),
    StudyID: source.StudyID,
    AccessionNumber: source.AccessionNumber,
    ...optional({
      IssuerOfPatientID: source.IssuerOfPatientID,
      PatientAge: /^\d{3}[DWMY]$/.test(source.PatientAge.trim()) ? source.PatientAge.trim() : null,
      PatientSize: ds(source.PatientSize),
      PatientWeight: ds(source.PatientWeight),
      PatientIdentityRemoved: source.PatientIdentityRemoved,
      StudyDescription: source.StudyDescription,
      // Only an offset the writers can honour: every DA/TM written is read in its zone (see dicomTimestamp).
      TimezoneOffsetFromUTC: parseUtcOffset(source.TimezoneOffsetFromUTC) === null ? null : source.TimezoneOffsetFromUTC.trim(),
    }),
    ...source.carriedPatientAndStudy,
  };
}

/**
 * General Image's lossy-compression attributes (PS3.3 C.7.6.1.1.5): an image derived from lossy compressed
 * data says so, with the source's ratio and method, since a reader judging its values must know.
 */
export function lossyCompressionAttributes(source: SourceSeriesContext): NaturalDataset {
  if (source.LossyImageCompression !== '01') return { LossyImageCompression: '00' };
  return {
    LossyImageCompression: '01',
    ...(source.LossyImageCompressionRatio.length ? { LossyImageCompressionRatio: [...source.LossyImageCompressionRatio] } : {}),
    ...(source.LossyImageCompressionMethod.length ? { LossyImageCompressionMethod: [...source.LossyImageCompressionMethod] } : {}),
  };
}

/** General Equipment / Enhanced General Equipment: mipseg wrote the instance. */
export function generalEquipmentModule(equipment: EquipmentIdentity): NaturalDataset {
  return {
    Manufacturer: MIPSEG_MANUFACTURER,
    ManufacturerModelName: equipment.manufacturerModelName,
    DeviceSerialNumber: equipment.deviceSerialNumber,
    SoftwareVersions: equipment.softwareVersions,
  };
}

/** SOP Common: UTF-8 throughout, since dcmjs encodes every text value as UTF-8. */
export function sopCommonModule(sopClassUid: string, sopInstanceUid: string, now: DicomTimestamp): NaturalDataset {
  return {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: sopClassUid,
    SOPInstanceUID: sopInstanceUid,
    InstanceCreationDate: now.date,
    InstanceCreationTime: now.time,
  };
}

export interface Contribution {
  readonly purpose: CodedConcept;
  readonly manufacturer: string;
  readonly manufacturerModelName: string;
  readonly softwareVersions: string;
  readonly deviceSerialNumber: string;
  readonly description: string;
  readonly dateTime: DicomTimestamp | null;
}

/** One ContributingEquipmentSequence item (PS3.3 C.12.1.1.5); IHE AI Results puts the AI model here. */
export function contributingEquipmentItem(c: Contribution): DicomItem {
  return {
    PurposeOfReferenceCodeSequence: [codeItem(c.purpose)],
    Manufacturer: c.manufacturer,
    ...optional({
      ManufacturerModelName: c.manufacturerModelName,
      DeviceSerialNumber: c.deviceSerialNumber,
      SoftwareVersions: c.softwareVersions,
      // With its offset: a DT may carry one, and the ContributionDateTime then says which zone it is in.
      ContributionDateTime: c.dateTime ? `${c.dateTime.date}${c.dateTime.time}${c.dateTime.utcOffset}` : null,
      ContributionDescription: c.description,
    }),
  };
}

/** The scanner that acquired the source series, so a derived result still names it. */
export function acquisitionEquipmentItem(source: SourceSeriesContext): DicomItem | null {
  // Manufacturer is Type 1 in the item: an anonymous scanner (empty Manufacturer) is left out.
  if (source.Manufacturer === '') return null;
  return contributingEquipmentItem({
    purpose: Concept.acquisitionEquipment,
    manufacturer: source.Manufacturer,
    manufacturerModelName: source.ManufacturerModelName,
    softwareVersions: source.SoftwareVersions,
    deviceSerialNumber: source.DeviceSerialNumber,
    description: `Acquired PET series ${source.SeriesInstanceUID}`.slice(0, 1024),
    dateTime: null,
  });
}

/** Common Instance Reference: one series and the instances referenced in it. */
export function referencedSeriesItem(seriesInstanceUid: string, instances: readonly SourceInstanceRef[]): DicomItem {
  return {
    SeriesInstanceUID: seriesInstanceUid,
    ReferencedInstanceSequence: instances.map((i) => ({
      ReferencedSOPClassUID: i.SOPClassUID,
      ReferencedSOPInstanceUID: i.SOPInstanceUID,
    })),
  };
}
