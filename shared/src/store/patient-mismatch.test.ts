import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findIndexedAttribute, type IndexedAttribute } from '../dicom/attributes';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive, storageKeyFor, type StoreOutcome } from './archive';

const STUDY = '2.25.9610';

/** A PET slice of STUDY: series `${STUDY}.${series}`, instance `${series}.${instance}`; PatientID undefined leaves it out. */
function slice(patient: { id?: string; issuer?: string }, series: number, instance = 1, description = 'PET'): Buffer {
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: `${STUDY}.${series}.${instance}`, seriesInstanceUid: `${STUDY}.${series}`,
    imagePositionPatient: [0, 0, instance], attributes: { StudyInstanceUID: STUDY, PatientName: 'PATIENT^ONE', PatientID: patient.id,
      IssuerOfPatientID: patient.issuer, SeriesDescription: description } }));
}

describe('an instance whose PatientID is not that of its study\'s patient', () => {
  let dir: string;
  let archive: Archive;
  let parts = 0;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-patient-mismatch-'));
    archive = await Archive.open(dir, createLogger('silent'));
  });
  afterEach(() => {
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const store = (bytes: Buffer): Promise<StoreOutcome> => {
    const temp = join(dir, 'tmp', `${++parts}.part`);
    writeFileSync(temp, bytes);
    return archive.storeFromTemp(temp);
  };
  const codeOf = (outcome: StoreOutcome): string => (outcome.status === 'failed' ? outcome.error.code : outcome.status);
  /** The study's PatientID as a search by it finds it, or undefined where no study is filed under it. */
  const filedUnder = (patientId: string): unknown => archive.index.search({ level: 'study', limit: 10, offset: 0,
    filters: [{ attribute: findIndexedAttribute('PatientID') as IndexedAttribute, value: patientId }] }).rows[0]?.['study_uid'];

  test('in a new series is refused (0xC411, naming both IDs), and the study stays with its patient', async () => {
    expect(codeOf(await store(slice({ id: 'STS_001' }, 1)))).toBe('stored');
    const refused = await store(slice({ id: 'OTHER-PATIENT-ID' }, 2));
    expect(codeOf(refused)).toBe('MIPSEG_PATIENT_MISMATCH');
    expect(refused.status === 'failed' && refused.error.failureReason).toBe(0xc411);
    expect(refused.status === 'failed' && refused.error.detail).toBe('PatientID OTHER-PATIENT-ID, the study\'s STS_001');
    expect(filedUnder('STS_001')).toBe(STUDY);
    expect(filedUnder('OTHER-PATIENT-ID')).toBeUndefined();
    expect(archive.index.findSeriesStudy(`${STUDY}.2`)).toBeUndefined();
    expect(existsSync(join(dir, storageKeyFor(STUDY, `${STUDY}.2`, `${STUDY}.2.1`)))).toBe(false);
  });

  test('in a series already stored is refused too, and neither its row nor its file is kept', async () => {
    expect(codeOf(await store(slice({ id: 'STS_001' }, 1)))).toBe('stored');
    expect(codeOf(await store(slice({ id: 'OTHER-PATIENT-ID' }, 1, 2)))).toBe('MIPSEG_PATIENT_MISMATCH');
    expect(archive.index.findInstance(`${STUDY}.1.2`)).toBeUndefined();
    expect(existsSync(join(dir, storageKeyFor(STUDY, `${STUDY}.1`, `${STUDY}.1.1`)))).toBe(true);
    expect(existsSync(join(dir, storageKeyFor(STUDY, `${STUDY}.1`, `${STUDY}.1.2`)))).toBe(false);
    expect(filedUnder('STS_001')).toBe(STUDY);
  });

  test('with the same PatientID under another issuer is refused', async () => {
    expect(codeOf(await store(slice({ id: 'STS_001', issuer: 'HOSPITAL-A' }, 1)))).toBe('stored');
    const refused = await store(slice({ id: 'STS_001', issuer: 'HOSPITAL-B' }, 2));
    expect(refused.status === 'failed' && refused.error.detail).toBe('PatientID STS_001 (issuer HOSPITAL-B), the study\'s STS_001 (issuer HOSPITAL-A)');
  });

  test('without a PatientID is stored under the study\'s patient; a study filed without one takes the first one sent', async () => {
    expect(codeOf(await store(slice({}, 1)))).toBe('stored');
    expect(codeOf(await store(slice({ id: 'STS_001' }, 2)))).toBe('stored');
    expect(filedUnder('STS_001')).toBe(STUDY);
    expect(codeOf(await store(slice({ id: '' }, 3)))).toBe('stored');
    expect(codeOf(await store(slice({}, 1, 2)))).toBe('stored');
    expect(filedUnder('STS_001')).toBe(STUDY);
  });

  test('re-sent as the same SOP Instance UIDs (a replacement) moves the study to the corrected patient', async () => {
    expect(codeOf(await store(slice({ id: 'WRONG-ID' }, 1)))).toBe('stored');
    expect(codeOf(await store(slice({ id: 'WRONG-ID' }, 1, 2)))).toBe('stored');
    expect(codeOf(await store(slice({ id: 'STS_001' }, 1)))).toBe('stored');
    expect(codeOf(await store(slice({ id: 'STS_001' }, 1, 2)))).toBe('stored');
    expect(filedUnder('STS_001')).toBe(STUDY);
    expect(filedUnder('WRONG-ID')).toBeUndefined();
    // And what comes after the correction is held to the corrected patient.
    expect(codeOf(await store(slice({ id: 'WRONG-ID' }, 2)))).toBe('MIPSEG_PATIENT_MISMATCH');
  });
});
