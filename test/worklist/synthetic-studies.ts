import { INDEXED_ATTRIBUTES, type InstanceHeader } from '@mipseg/shared/dicom';
import type { ArchiveIndex } from '@mipseg/shared/store';

const PET_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.128';
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';

export interface SyntheticStudy {
  readonly studyInstanceUid: string;
  readonly patientName: string;
  readonly patientId: string;
  readonly studyDate: string;
  readonly accessionNumber: string;
}

const FAMILY = ['NILSSON', 'GARCIA', 'OKAFOR', 'TANAKA', 'MÜLLER', 'ROSSI', 'DUBOIS', 'KOWALSKI', 'HANSEN', 'SILVA'];
const GIVEN = ['ANNA', 'JOHN', 'MARIA', 'KENJI', 'LENA', 'PAOLO', 'CLAIRE', 'PIOTR', 'INGRID', 'TIAGO'];

/** The i-th synthetic study: a patient, a date walking back from 2025-06-30 and an accession number. */
export function syntheticStudy(i: number): SyntheticStudy {
  const date = new Date(Date.UTC(2025, 5, 30) - Math.floor(i / 8) * 86_400_000);
  return {
    studyInstanceUid: `2.25.9${String(i).padStart(8, '0')}`,
    patientName: `${FAMILY[i % FAMILY.length]}^${GIVEN[Math.floor(i / FAMILY.length) % GIVEN.length]}`,
    patientId: `MRN${String(100_000 + i)}`,
    studyDate: date.toISOString().slice(0, 10).replace(/-/g, ''),
    accessionNumber: `ACC${String(500_000 + i)}`,
  };
}

/** Every indexed column, null: the index binds them all. */
const EMPTY_VALUES = Object.fromEntries(INDEXED_ATTRIBUTES.map((a) => [a.column, null]));

function header(s: SyntheticStudy, series: string, sop: string, modality: 'PT' | 'CT', instanceNumber: number): InstanceHeader {
  const sopClassUid = modality === 'PT' ? PET_IMAGE_STORAGE : CT_IMAGE_STORAGE;
  return {
    transferSyntaxUid: EXPLICIT_VR_LE, mediaStorageSopClassUid: sopClassUid, mediaStorageSopInstanceUid: sop,
    studyInstanceUid: s.studyInstanceUid, seriesInstanceUid: series, sopInstanceUid: sop, sopClassUid, modality, encapsulated: false, hasPixelData: true,
    values: {
      ...EMPTY_VALUES,
      patient_name: s.patientName, patient_id: s.patientId, patient_sex: instanceNumber % 2 ? 'F' : 'M', patient_birth_date: '19580412',
      study_date: s.studyDate, study_time: '093000', accession_number: s.accessionNumber, study_description: 'PET-CT WHOLE BODY FDG',
      modality, series_description: modality === 'PT' ? 'PET WB AC' : 'CT WB', series_number: modality === 'PT' ? 2 : 1,
      instance_number: instanceNumber, rows: 128, columns: 128, bits_allocated: 16, number_of_frames: null,
    },
  };
}

/**
 * Indexes a study directly (no files: the worklist reads the index only): a CT series with one image and a PET
 * series with `petImages` images. Fast enough for 5,000 studies in a benchmark.
 */
export function indexSyntheticStudy(index: ArchiveIndex, s: SyntheticStudy, petImages = 3): void {
  const file = (sop: string) => ({ storageKey: `instances/${s.studyInstanceUid}/${sop}.dcm`, size: 1024, sha256: '0'.repeat(64) });
  const ct = `${s.studyInstanceUid}.1`;
  const pt = `${s.studyInstanceUid}.2`;
  index.putInstance(header(s, ct, `${ct}.1`, 'CT', 1), file(`${ct}.1`));
  for (let n = 1; n <= petImages; n++) index.putInstance(header(s, pt, `${pt}.${n}`, 'PT', n), file(`${pt}.${n}`), n > 1 ? 'in-known-series' : 'new-series');
}
