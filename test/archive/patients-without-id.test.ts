import { join } from 'node:path';
import Database from 'better-sqlite3';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

type Json = Record<string, { Value?: unknown[] }>;

const ANNA = '2.25.9300';
const BERT = '2.25.9400';

/**
 * A PET slice of `study` (series `${study}.1`, or `${study}.2` for `series: 2`) of the patient `name`. PatientID
 * `undefined` leaves the element out; '' writes it with no value: both are a patient without an ID.
 */
function slice(study: string, name: string, patientId: string | undefined, series = 1,
  more: { instance?: number; seriesDescription?: string } = {}): Buffer {
  const instance = more.instance ?? 1;
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: `${study}.${series}.${instance}`, seriesInstanceUid: `${study}.${series}`,
    imagePositionPatient: [0, 0, instance], attributes: { StudyInstanceUID: study, PatientName: name, PatientID: patientId,
      SeriesDescription: more.seriesDescription ?? 'PET' } }));
}

describe('studies whose PatientID is empty', () => {
  let server: TestArchiveServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  const studies = async (params: Record<string, string> = {}): Promise<Json[]> => {
    const res = await fetch(`${server?.baseUrl}/studies?${new URLSearchParams(params).toString()}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Json[];
  };
  /** Each study found as [StudyInstanceUID, PatientName's alphabetic group, PatientID], by study. */
  const shown = async (params: Record<string, string> = {}) => (await studies(params))
    .map((s) => [s['0020000D']?.Value?.[0], (s['00100010']?.Value?.[0] as { Alphabetic?: string } | undefined)?.Alphabetic, s['00100020']?.Value?.[0]])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  const patientRows = (): unknown[] => {
    const db = new Database(join(server?.dataDir as string, 'index.sqlite'), { readonly: true });
    try {
      return db.prepare('SELECT patient_id AS id, patient_name AS name FROM patients ORDER BY patient_name').all();
    } finally {
      db.close();
    }
  };

  test('each keep their own PatientName in QIDO, and each is found by its own name', async () => {
    server = await startTestArchive();
    const stored = await postStow(`${server.baseUrl}/studies`, [slice(ANNA, 'ALPHA^ANNA', undefined), slice(BERT, 'BETA^BERT', '')]);
    expect(stored.status).toBe(200);

    expect(await shown()).toEqual([[ANNA, 'ALPHA^ANNA', undefined], [BERT, 'BETA^BERT', undefined]]);
    expect(await shown({ PatientName: 'ALPHA^ANNA' })).toEqual([[ANNA, 'ALPHA^ANNA', undefined]]);
    expect(await shown({ PatientName: 'BETA^BERT' })).toEqual([[BERT, 'BETA^BERT', undefined]]);
    expect(patientRows()).toEqual([{ id: null, name: 'ALPHA^ANNA' }, { id: null, name: 'BETA^BERT' }]);
  });

  test('deleting one study leaves the other\'s patient as it was', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    expect((await postStow(`${server.baseUrl}/studies`, [slice(ANNA, 'ALPHA^ANNA', undefined), slice(BERT, 'BETA^BERT', undefined)])).status).toBe(200);
    expect((await fetch(`${server.baseUrl}/studies/${BERT}`, { method: 'DELETE' })).status).toBe(200);

    expect(await shown()).toEqual([[ANNA, 'ALPHA^ANNA', undefined]]);
    expect(patientRows()).toEqual([{ id: null, name: 'ALPHA^ANNA' }]);
  });

  test('deleting a series of one study sets its own patient again from the series left, and no other study\'s', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    const base = server.baseUrl;
    // BERT's study had a second series sent under a wrong name: it is deleted, and the study's first series is kept.
    expect((await postStow(`${base}/studies`, [slice(ANNA, 'ALPHA^ANNA', undefined), slice(BERT, 'BETA^BERT', undefined)])).status).toBe(200);
    expect((await postStow(`${base}/studies`, [slice(BERT, 'WRONG^NAME', undefined, 2)])).status).toBe(200);
    expect((await fetch(`${base}/studies/${BERT}/series/${BERT}.2`, { method: 'DELETE' })).status).toBe(200);

    expect(await shown()).toEqual([[ANNA, 'ALPHA^ANNA', undefined], [BERT, 'BETA^BERT', undefined]]);
    expect(patientRows()).toEqual([{ id: null, name: 'ALPHA^ANNA' }, { id: null, name: 'BETA^BERT' }]);
  });

  test('a corrected re-send that adds a PatientID moves the study to that patient; one that drops it, to a patient of its own', async () => {
    server = await startTestArchive();
    const base = server.baseUrl;
    expect((await postStow(`${base}/studies`, [slice(ANNA, 'ALPHA^ANNA', undefined), slice(BERT, 'BETA^BERT', 'MRN-B')])).status).toBe(200);
    // The same SOP Instance UIDs with other patient attributes: each replaces the stored copy (202, with a warning).
    expect((await postStow(`${base}/studies`, [slice(ANNA, 'ALPHA^ANNA', 'MRN-A'), slice(BERT, 'BETA^BERT', undefined)])).status).toBe(202);

    expect(await shown()).toEqual([[ANNA, 'ALPHA^ANNA', 'MRN-A'], [BERT, 'BETA^BERT', undefined]]);
    expect(await shown({ PatientID: 'MRN-B' })).toEqual([]);
    expect(patientRows()).toEqual([{ id: 'MRN-A', name: 'ALPHA^ANNA' }, { id: null, name: 'BETA^BERT' }]);

    // And back: two studies without an ID, as the second becomes too, still each keep their own patient.
    expect((await postStow(`${base}/studies`, [slice(ANNA, 'ALPHA^ANNA', '')])).status).toBe(202);
    expect(await shown()).toEqual([[ANNA, 'ALPHA^ANNA', undefined], [BERT, 'BETA^BERT', undefined]]);
    expect(patientRows()).toEqual([{ id: null, name: 'ALPHA^ANNA' }, { id: null, name: 'BETA^BERT' }]);
  });

  test('a new series without a PatientID in a study filed under one leaves the study with its patient', async () => {
    server = await startTestArchive();
    const base = server.baseUrl;
    expect((await postStow(`${base}/studies`, [slice(ANNA, 'ALPHA^ANNA', 'MRN-A')])).status).toBe(200);
    // A series from a workstation that sent PatientID empty (Type 2), and one that left it out.
    expect((await postStow(`${base}/studies`, [slice(ANNA, 'ALPHA^ANNA', '', 2), slice(ANNA, '', undefined, 3)])).status).toBe(200);

    expect(await shown({ PatientID: 'MRN-A' })).toEqual([[ANNA, 'ALPHA^ANNA', 'MRN-A']]);
    expect(patientRows()).toEqual([{ id: 'MRN-A', name: 'ALPHA^ANNA' }]);
  });

  test('a series without a PatientID, corrected or partly deleted, leaves its study with the patient its other series name', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    const base = server.baseUrl;
    expect((await postStow(`${base}/studies`, [slice(ANNA, 'ALPHA^ANNA', 'MRN-A')])).status).toBe(200);
    const pet = [slice(ANNA, 'ALPHA^ANNA', '', 2), slice(ANNA, 'ALPHA^ANNA', '', 2, { instance: 2 })];
    expect((await postStow(`${base}/studies`, pet)).status).toBe(200);

    // A corrected copy of a slice of the series without an ID (its description changed): a replacement.
    expect((await postStow(`${base}/studies`, [slice(ANNA, 'ALPHA^ANNA', '', 2, { seriesDescription: 'PET AC' })])).status).toBe(202);
    expect(await shown({ PatientID: 'MRN-A' })).toEqual([[ANNA, 'ALPHA^ANNA', 'MRN-A']]);
    expect(patientRows()).toEqual([{ id: 'MRN-A', name: 'ALPHA^ANNA' }]);

    // One slice of it deleted: the study's attributes are set again from what is left, the patient kept.
    expect((await fetch(`${base}/studies/${ANNA}/series/${ANNA}.2/instances/${ANNA}.2.2`, { method: 'DELETE' })).status).toBe(200);
    expect(await shown({ PatientID: 'MRN-A' })).toEqual([[ANNA, 'ALPHA^ANNA', 'MRN-A']]);
    expect(patientRows()).toEqual([{ id: 'MRN-A', name: 'ALPHA^ANNA' }]);
  });

  test('studies with the same PatientID still share one patient', async () => {
    server = await startTestArchive();
    expect((await postStow(`${server.baseUrl}/studies`, [slice(ANNA, 'SAME^PATIENT', 'MRN-1'), slice(BERT, 'SAME^PATIENT', 'MRN-1')])).status).toBe(200);
    expect(await shown({ PatientID: 'MRN-1' })).toEqual([[ANNA, 'SAME^PATIENT', 'MRN-1'], [BERT, 'SAME^PATIENT', 'MRN-1']]);
    expect(patientRows()).toEqual([{ id: 'MRN-1', name: 'SAME^PATIENT' }]);
  });
});
