/**
 * The attributes mipseg indexes, by level. Keywords are PS3.6 keywords; tags are 8-digit upper-case hex.
 * `kind` says how QIDO matches the attribute (PS3.4 C.2.2.2): single value (with wildcards), UID list,
 * date or time range, or a number.
 */
export type MatchKind = 'text' | 'pn' | 'uid' | 'date' | 'time' | 'number';
export type Level = 'patient' | 'study' | 'series' | 'instance';

export interface IndexedAttribute {
  readonly keyword: string;
  readonly tag: string;
  readonly vr: string;
  readonly level: Level;
  readonly column: string;
  readonly kind: MatchKind;
}

const a = (keyword: string, tag: string, vr: string, level: Level, column: string, kind: MatchKind): IndexedAttribute =>
  ({ keyword, tag, vr, level, column, kind }) as const;

export const INDEXED_ATTRIBUTES: readonly IndexedAttribute[] = [
  a('PatientName', '00100010', 'PN', 'patient', 'patient_name', 'pn'),
  a('PatientID', '00100020', 'LO', 'patient', 'patient_id', 'text'),
  a('IssuerOfPatientID', '00100021', 'LO', 'patient', 'issuer_of_patient_id', 'text'),
  a('PatientBirthDate', '00100030', 'DA', 'patient', 'patient_birth_date', 'date'),
  a('PatientSex', '00100040', 'CS', 'patient', 'patient_sex', 'text'),
  a('StudyInstanceUID', '0020000D', 'UI', 'study', 'study_uid', 'uid'),
  a('StudyDate', '00080020', 'DA', 'study', 'study_date', 'date'),
  a('StudyTime', '00080030', 'TM', 'study', 'study_time', 'time'),
  a('AccessionNumber', '00080050', 'SH', 'study', 'accession_number', 'text'),
  a('ReferringPhysicianName', '00080090', 'PN', 'study', 'referring_physician_name', 'pn'),
  a('StudyID', '00200010', 'SH', 'study', 'study_id', 'text'),
  a('StudyDescription', '00081030', 'LO', 'study', 'study_description', 'text'),
  a('TimezoneOffsetFromUTC', '00080201', 'SH', 'study', 'timezone_offset', 'text'),
  a('SeriesInstanceUID', '0020000E', 'UI', 'series', 'series_uid', 'uid'),
  a('Modality', '00080060', 'CS', 'series', 'modality', 'text'),
  a('SeriesDescription', '0008103E', 'LO', 'series', 'series_description', 'text'),
  a('SeriesNumber', '00200011', 'IS', 'series', 'series_number', 'number'),
  a('SeriesDate', '00080021', 'DA', 'series', 'series_date', 'date'),
  a('SeriesTime', '00080031', 'TM', 'series', 'series_time', 'time'),
  a('PerformedProcedureStepStartDate', '00400244', 'DA', 'series', 'pps_start_date', 'date'),
  a('PerformedProcedureStepStartTime', '00400245', 'TM', 'series', 'pps_start_time', 'time'),
  a('BodyPartExamined', '00180015', 'CS', 'series', 'body_part_examined', 'text'),
  a('SOPInstanceUID', '00080018', 'UI', 'instance', 'sop_instance_uid', 'uid'),
  a('SOPClassUID', '00080016', 'UI', 'instance', 'sop_class_uid', 'uid'),
  a('InstanceNumber', '00200013', 'IS', 'instance', 'instance_number', 'number'),
  a('Rows', '00280010', 'US', 'instance', 'rows', 'number'),
  a('Columns', '00280011', 'US', 'instance', 'columns', 'number'),
  a('BitsAllocated', '00280100', 'US', 'instance', 'bits_allocated', 'number'),
  a('NumberOfFrames', '00280008', 'IS', 'instance', 'number_of_frames', 'number'),
];

const BY_KEYWORD = new Map(INDEXED_ATTRIBUTES.map((x) => [x.keyword, x]));
const BY_TAG = new Map(INDEXED_ATTRIBUTES.map((x) => [x.tag, x]));

/** Finds an indexed attribute by keyword (`PatientID`) or tag (`00100020`, any case). */
export function findIndexedAttribute(key: string): IndexedAttribute | undefined {
  return BY_KEYWORD.get(key) ?? BY_TAG.get(key.toUpperCase());
}

/** Attribute values as indexed: strings (or numbers) keyed by column. Absent = null. */
export type IndexedValues = Readonly<Record<string, string | number | null>>;

/** Attributes every QIDO result carries beyond the matching keys (PS3.18 Table 10.6.3-3/4/5). */
export const DEFAULT_RETURN_KEYWORDS: Readonly<Record<'study' | 'series' | 'instance', readonly string[]>> = {
  study: [
    'StudyDate', 'StudyTime', 'AccessionNumber', 'ReferringPhysicianName', 'TimezoneOffsetFromUTC',
    'PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyInstanceUID', 'StudyID',
    'StudyDescription',
  ],
  series: ['Modality', 'SeriesDescription', 'SeriesInstanceUID', 'SeriesNumber', 'PerformedProcedureStepStartDate',
    'PerformedProcedureStepStartTime'],
  instance: ['SOPClassUID', 'SOPInstanceUID', 'InstanceNumber', 'Rows', 'Columns', 'BitsAllocated', 'NumberOfFrames'],
};
