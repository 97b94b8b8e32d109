import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '@mipseg/shared/config';
import { EmbeddedJobQueue } from '@mipseg/shared/queue';
import { Archive } from '@mipseg/shared/store';
import { startPipeline } from '../../services/worker/src';
import { syntheticPetInstance } from './volume/synthetic-pet-instance';

describe('embedded mode: a stored instance\'s study check', () => {
  test('is flushed to disk (the job store\'s log) after it is written and before the store is answered', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mipseg-pending-'));
    const log = pino({ level: 'silent' });
    const archive = await Archive.open(dataDir, log);
    const flushedWith: number[] = [];
    const sync = jest.spyOn(EmbeddedJobQueue.prototype, 'syncToDisk');
    sync.mockImplementation(async function (this: EmbeddedJobQueue) {
      flushedWith.push((await this.pendingStudies()).length); // the check is written by then
    });
    const config = loadConfig({ DATA_DIR: dataDir, QUIET_PERIOD_MS: '60000' });
    const pipeline = await startPipeline({ config, log, archive, modelDir: '', softwareVersion: 'test', analyses: false });
    try {
      const temp = join(dataDir, 'tmp', 'one.dcm');
      await writeFile(temp, syntheticPetInstance({ sopInstanceUid: '2.25.7101', imagePositionPatient: [0, 0, 0] }));
      await archive.storeFromTemp(temp);
      expect(flushedWith).toEqual([1]);
    } finally {
      sync.mockRestore();
      await pipeline.close();
      archive.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
