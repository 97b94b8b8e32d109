import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { WriteStream } from 'node:fs';
import pino from 'pino';
import { Archive } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../../../../test/pipeline/volume/synthetic-pet-instance';
import { ArchiveResultSink } from './result-sink';

describe('storing results into the archive (embedded mode)', () => {
  let dir: string;
  let archive: Archive;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-result-sink-'));
    archive = await Archive.open(dir, pino({ level: 'silent' }));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a result whose temporary file cannot be written (a full disk) fails with that error, and nothing is stored', async () => {
    const full = new Writable({ write: (_chunk, _encoding, done) => done(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })) });
    // What a write cut short by a full disk leaves: part of the file.
    const partial = join(dir, 'tmp', 'part-written.part');
    writeFileSync(partial, 'DICM, and then the disk was full');
    jest.spyOn(archive.blobs, 'createTemp').mockReturnValue({ path: partial, stream: full as unknown as WriteStream });
    const result = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.5160001', seriesInstanceUid: '2.25.5160000', imagePositionPatient: [0, 0, 0] }));
    await expect(new ArchiveResultSink(archive).store([result])).rejects.toMatchObject({ code: 'MIPSEG_STORAGE_FULL', cause: { code: 'ENOSPC' } });
    expect(archive.index.countInstances()).toBe(0);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]); // not left on the disk that ran out of room, attempt after attempt
  });
});
