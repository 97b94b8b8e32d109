import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findIndexedAttribute, type IndexedAttribute } from '../dicom';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive } from './archive';

const STUDY = '2.25.98100';
const CT = '2.25.98101';
const PET = '2.25.98102';

/** The study's and its patient's attributes as QIDO-RS and the worklist read them from the index. */
function studyRow(archive: Archive): Record<string, unknown> {
  const attribute = findIndexedAttribute('StudyInstanceUID') as IndexedAttribute;
  const { rows } = archive.index.search({ level: 'study', filters: [{ attribute, value: STUDY }], limit: 1, offset: 0 });
  return rows[0] as Record<string, unknown>;
}

describe('a study\'s attributes, merged from its series, after a correction or a deletion', () => {
  let dir: string;
  let archive: Archive;
  let sent = 0;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-attribute-merge-'));
    archive = await Archive.open(dir, createLogger('silent'));
  });
  afterEach(() => {
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Stores an instance of STUDY (of patient MRN-98100) unless `attributes` say otherwise. */
  async function store(series: string, sop: string, attributes: Record<string, unknown>): Promise<void> {
    const temp = join(dir, 'tmp', `${sent++}.part`);
    writeFileSync(temp, syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: series, imagePositionPatient: [0, 0, Number(sop.slice(-1))],
      attributes: { StudyInstanceUID: STUDY, PatientID: 'MRN-98100', ...attributes } }));
    expect((await archive.storeFromTemp(temp)).status).toBe('stored');
  }

  test('a corrected copy that empties the name, birth date and accession empties them in the index too', async () => {
    await store(PET, `${PET}.1`, { PatientName: 'Wrong^Name', PatientBirthDate: '19500101', AccessionNumber: 'ACC1' });
    await store(PET, `${PET}.1`, { PatientName: '', PatientBirthDate: '', AccessionNumber: '' });
    expect(studyRow(archive)).toMatchObject({ patient_name: null, patient_birth_date: null, accession_number: null });
  });

  test('a corrected copy of one series keeps what only another series of the study carries (the CT\'s accession)', async () => {
    await store(CT, `${CT}.1`, { AccessionNumber: 'ACC1', PatientName: 'Garcia^Maria' });
    await store(PET, `${PET}.1`, { AccessionNumber: '', PatientName: 'Garcia^Maria' });
    await store(PET, `${PET}.1`, { AccessionNumber: '', PatientName: 'Garcia^Maria', SeriesDescription: 'PET WB corrected' });
    expect(studyRow(archive)).toMatchObject({ accession_number: 'ACC1', patient_name: 'Garcia^Maria' });
  });

  test('a corrected copy that empties the name keeps the name the patient\'s other study carries (their shared row)', async () => {
    await store('2.25.98200', '2.25.98201', { StudyInstanceUID: '2.25.98199', PatientName: 'Doe^John' }); // another study of the patient
    await store(PET, `${PET}.1`, { PatientName: 'Doe^John' });
    await store(PET, `${PET}.1`, { PatientName: '' });
    expect(studyRow(archive)).toMatchObject({ patient_name: 'Doe^John' });
  });

  test('a corrected copy that moves the study to another PatientID and empties the name keeps that patient\'s name', async () => {
    await store('2.25.98210', '2.25.98211', { StudyInstanceUID: '2.25.98209', PatientID: 'MRN-B', PatientName: 'Roe^Jane' }); // patient B's study
    await store(PET, `${PET}.1`, { PatientName: 'Doe^John' });
    await store(PET, `${PET}.1`, { PatientID: 'MRN-B', PatientName: '' });
    expect(studyRow(archive)).toMatchObject({ patient_id: 'MRN-B', patient_name: 'Roe^Jane' });
  });

  test('deleting a slice of one series keeps what only that series carries, though a newer series lacks it', async () => {
    await store(CT, `${CT}.1`, { AccessionNumber: 'ACC1' });
    await store(CT, `${CT}.2`, { AccessionNumber: 'ACC1' });
    await store(PET, `${PET}.1`, { AccessionNumber: '' });
    expect(await archive.deleteInstance(STUDY, CT, `${CT}.2`)).toBe(true);
    expect(studyRow(archive)).toMatchObject({ accession_number: 'ACC1' });
  });

  test('deleting the instance that set its series\' attributes sets them again from the series\' remaining instance', async () => {
    await store(PET, `${PET}.1`, { SeriesDescription: 'PET WB (wrong protocol)' });
    await store(PET, `${PET}.2`, { SeriesDescription: 'PET WB' });
    expect(await archive.deleteInstance(STUDY, PET, `${PET}.1`)).toBe(true);
    const attribute = findIndexedAttribute('SeriesInstanceUID') as IndexedAttribute;
    const { rows } = archive.index.search({ level: 'series', filters: [{ attribute, value: PET }], limit: 1, offset: 0 });
    expect(rows[0]).toMatchObject({ series_description: 'PET WB' });
  });

  test('deleting slices of one series leaves the study\'s attributes to the series that set them last', async () => {
    for (const n of [1, 2, 3]) await store(PET, `${PET}.${n}`, { StudyDescription: 'PET study' });
    await store(CT, `${CT}.1`, { StudyDescription: 'PET/CT whole body' });
    expect(await archive.deleteInstance(STUDY, PET, `${PET}.1`)).toBe(true);
    expect(await archive.deleteInstance(STUDY, PET, `${PET}.2`)).toBe(true);
    expect(studyRow(archive)).toMatchObject({ study_description: 'PET/CT whole body' });
  });
});
