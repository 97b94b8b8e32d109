import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive } from './archive';

const STUDY = '2.25.98300';

describe('a result stored beside its study', () => {
  let dir: string;
  let archive: Archive;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-result-deleted-'));
    archive = await Archive.open(dir, createLogger('silent'));
  });
  afterEach(() => {
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const temp = (name: string, sop: string, series: string): string => {
    const path = join(dir, 'tmp', `${name}.part`);
    writeFileSync(path, syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: series, imagePositionPatient: [0, 0, 0],
      attributes: { StudyInstanceUID: STUDY, PatientID: 'MRN-98300', PatientName: 'Doe^Jane' } }));
    return path;
  };

  test('is refused once the study was deleted, so that the deleted patient does not come back with it', async () => {
    expect((await archive.storeFromTemp(temp('source', '2.25.98301.1', '2.25.98301'))).status).toBe('stored');
    expect((await archive.storeFromTemp(temp('mip', '2.25.98302.1', '2.25.98302'), { result: true })).status).toBe('stored');
    expect(await archive.deleteStudy(STUDY)).toBe(2);
    const late = await archive.storeFromTemp(temp('seg', '2.25.98303.1', '2.25.98303'), { result: true });
    expect(late).toMatchObject({ status: 'failed', error: { code: 'MIPSEG_NOT_FOUND' } });
    expect(archive.index.findRepresentativeInstance({ studyUid: STUDY })).toBeUndefined();
  });
});
