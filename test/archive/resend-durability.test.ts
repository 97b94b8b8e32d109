import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@mipseg/shared/log';
import { Archive } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';

const SERIES = '2.25.9501';

describe('a re-send answered "already stored" is answered once that copy is durable', () => {
  let dataDir: string;
  let archive: Archive;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mipseg-resend-'));
    archive = await Archive.open(dataDir, createLogger('silent'));
  });
  afterEach(async () => {
    archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  function received(name: string): string {
    const path = join(dataDir, 'tmp', name);
    writeFileSync(path, syntheticPetInstance({ sopInstanceUid: `${SERIES}.1`, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 1] }));
    return path;
  }

  // A STOW request stores each part with its folder's fsync left to the request's end; the same instance arriving by
  // C-STORE meanwhile (a PACS auto-routing the study) was answered Success with that fsync still to come.
  test('a C-STORE of an instance a STOW request has stored but not yet synced waits for the sync', async () => {
    expect((await archive.storeFromTemp(received('stow.part'), { deferDirSync: true })).status).toBe('stored');
    const syncs: string[] = [];
    const sync = archive.blobs.syncPendingDirs.bind(archive.blobs);
    archive.blobs.syncPendingDirs = async () => {
      await sync();
      syncs.push('folders synced');
    };
    const outcome = await archive.storeFromTemp(received('c-store.part'));
    syncs.push(`answered ${outcome.status}`);
    expect(syncs).toEqual(['folders synced', 'answered unchanged']);
  });
});
