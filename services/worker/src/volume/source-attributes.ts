import { parseInstanceHeader } from '@mipseg/shared/dicom';
import { readString, type DataSet } from './dicom-dataset';
import type { PetSourceAttributes } from './pet-volume';

const text = (v: string | number | null | undefined): string | null => (typeof v === 'string' ? v : null);

/**
 * Patient, study and series values of a source instance, read with ingest's header parser so that text is
 * decoded by SpecificCharacterSet exactly as QIDO reports it.
 */
export function readSourceAttributes(bytes: Uint8Array, ds: DataSet): PetSourceAttributes {
  const header = parseInstanceHeader(bytes);
  const v = header.values;
  const seriesNumber = v['series_number'];
  return {
    patientName: text(v['patient_name']),
    patientId: text(v['patient_id']),
    issuerOfPatientId: text(v['issuer_of_patient_id']),
    patientBirthDate: text(v['patient_birth_date']),
    patientSex: text(v['patient_sex']),
    studyInstanceUid: header.studyInstanceUid,
    studyDate: text(v['study_date']),
    studyTime: text(v['study_time']),
    studyId: text(v['study_id']),
    accessionNumber: text(v['accession_number']),
    referringPhysicianName: text(v['referring_physician_name']),
    studyDescription: text(v['study_description']),
    seriesInstanceUid: header.seriesInstanceUid,
    seriesNumber: typeof seriesNumber === 'number' ? seriesNumber : null,
    seriesDescription: text(v['series_description']),
    modality: header.modality,
    bodyPartExamined: text(v['body_part_examined']),
    positionReferenceIndicator: readString(ds, '00201040'),
  };
}
