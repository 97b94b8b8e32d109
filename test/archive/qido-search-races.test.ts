import type { StoredInstance } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

type Json = Record<string, { vr: string; Value?: unknown[] }>;

function slice(study: string, sop: string, patientName: string): Buffer {
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: `${study}.1`, imagePositionPatient: [0, 0, 1],
    attributes: { StudyInstanceUID: study, PatientName: patientName, PatientID: `ID-${study}`, ImageComments: `comment of ${sop}` } }));
}

/** A search that reads instance metadata (includefield beyond the index) while a matching study is deleted. */
describe('QIDO-RS search racing a deletion of what it matched', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  /** Deletes `victim` (its study) just before the first metadata read of one of its instances, as a DELETE racing the search would. */
  async function deletingBeforeRead(victim: string, during: () => Promise<void>): Promise<boolean> {
    const read = server.archive.readMetadata.bind(server.archive);
    let deleted = false;
    const spy = jest.spyOn(server.archive, 'readMetadata').mockImplementation(async (instance: StoredInstance) => {
      if (!deleted && instance.studyInstanceUid === victim) {
        deleted = true;
        await server.archive.deleteStudy(victim);
      }
      return read(instance);
    });
    try {
      await during();
    } finally {
      spy.mockRestore();
    }
    return deleted;
  }

  test('a study deleted between the search and its metadata read is left out; the others are answered 200', async () => {
    const studies = ['2.25.7701', '2.25.7702', '2.25.7703'];
    const files = studies.map((study, i) => slice(study, `${study}.1.1`, `Race^Study${i}`));
    expect((await postStow(`${server.baseUrl}/studies`, files)).status).toBe(200);
    let res: Response | undefined;
    const deleted = await deletingBeforeRead('2.25.7702', async () => {
      res = await fetch(`${server.baseUrl}/studies?PatientName=Race*&includefield=ImageComments`);
    });
    expect(deleted).toBe(true);
    expect(res?.status).toBe(200);
    const results = (await res?.json()) as Json[];
    expect(results.map((r) => r['0020000D']?.Value?.[0]).sort()).toEqual(['2.25.7701', '2.25.7703']);
    expect(results.map((r) => r['00204000']?.Value?.[0]).sort()).toEqual(['comment of 2.25.7701.1.1', 'comment of 2.25.7703.1.1']);
  });

  test('an instance deleted between the search and its includefield=all read is left out of an instance search', async () => {
    const studies = ['2.25.7711', '2.25.7712'];
    const files = studies.map((study) => slice(study, `${study}.1.1`, 'Race^Instance'));
    expect((await postStow(`${server.baseUrl}/studies`, files)).status).toBe(200);
    let res: Response | undefined;
    const deleted = await deletingBeforeRead('2.25.7711', async () => {
      res = await fetch(`${server.baseUrl}/instances?PatientName=Race^Instance&includefield=all`);
    });
    expect(deleted).toBe(true);
    expect(res?.status).toBe(200);
    const results = (await res?.json()) as Json[];
    expect(results.map((r) => r['00080018']?.Value?.[0])).toEqual(['2.25.7712.1.1']);
    expect(results[0]?.['00204000']?.Value).toEqual(['comment of 2.25.7712.1.1']);
  });
});
