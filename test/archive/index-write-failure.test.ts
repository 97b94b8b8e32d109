import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { createLogger } from '@mipseg/shared/log';
import { Archive, FileBlobStore, SqliteArchiveIndex, type PublishOptions } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';

const SERIES = '1.2.826.0.1.3680043.8.498.77001';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

/**
 * The index row is written after the file is renamed into instances/. When that write fails (SQLITE_FULL on a
 * full disk; here SQLITE_BUSY, from another connection holding the write lock past the busy timeout), the files
 * must go back to what the index says: no file nobody lists, and a replaced copy back in place.
 */
describe('a store whose index write fails leaves the files as the index lists them', () => {
  let dataDir: string;
  let archive: Archive;
  let blocker: Database.Database | undefined;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mipseg-index-fail-'));
    archive = await Archive.open(dataDir, createLogger('silent'));
  });
  afterEach(async () => {
    blocker?.close();
    blocker = undefined;
    archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function store(bytes: Uint8Array, name: string) {
    const temp = join(dataDir, 'tmp', `${name}.part`);
    await writeFile(temp, bytes);
    return archive.storeFromTemp(temp);
  }

  /** Another connection takes the index's write lock, so that the archive's next write fails. */
  function blockIndexWrites(): void {
    blocker = new Database(join(dataDir, 'index.sqlite'));
    blocker.exec('BEGIN IMMEDIATE');
  }

  test('a new instance whose row cannot be written leaves no file in instances/, and stores when sent again', async () => {
    const instance = syntheticPetInstance({ sopInstanceUid: `${SERIES}.1`, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 0] });
    blockIndexWrites();
    const failed = await store(instance, 'first');
    expect(failed.status).toBe('failed');
    expect(await filesUnder(join(dataDir, 'instances'))).toEqual([]);
    expect(await readdir(join(dataDir, 'tmp'))).toEqual([]);

    blocker?.exec('ROLLBACK');
    expect((await store(instance, 'again')).status).toBe('stored');
    expect(await filesUnder(join(dataDir, 'instances'))).toHaveLength(1);
  }, 30_000);

  test('a replacement whose row cannot be written puts the stored copy back, bytes and index agreeing', async () => {
    const uid = `${SERIES}.2`;
    const original = syntheticPetInstance({ sopInstanceUid: uid, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 0] });
    const changed = syntheticPetInstance({ sopInstanceUid: uid, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 0], stored: [7] });
    expect((await store(original, 'original')).status).toBe('stored');
    const [before] = archive.index.listInstances({ studyUid: archive.index.findSeriesStudy(SERIES) as string, seriesUid: SERIES });

    blockIndexWrites();
    expect((await store(changed, 'changed')).status).toBe('failed');
    blocker?.exec('ROLLBACK');

    const [after] = archive.index.listInstances({ studyUid: before?.studyInstanceUid as string, seriesUid: SERIES });
    expect(after?.sha256).toBe(before?.sha256);
    expect(Buffer.from(await readFile(join(dataDir, after?.storageKey as string))).equals(Buffer.from(original))).toBe(true);
    expect(await filesUnder(join(dataDir, 'instances'))).toHaveLength(1);
  }, 30_000);
});

/** The real blob store, whose next publish fails as a full disk makes it fail (fdatasync or rename: ENOSPC). */
class DiskFullAtPublish extends FileBlobStore {
  full = false;
  override async publish(tempPath: string, key: string, options?: PublishOptions): Promise<void> {
    if (this.full) throw Object.assign(new Error('ENOSPC: no space left on device, fdatasync'), { code: 'ENOSPC' });
    return super.publish(tempPath, key, options);
  }
}

describe('a replacement whose publish fails', () => {
  test('puts the stored copy back, so that the index never names a file that is gone', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mipseg-publish-fail-'));
    const blobs = new DiskFullAtPublish(dataDir);
    await blobs.init();
    const archive = new Archive(blobs, new SqliteArchiveIndex(join(dataDir, 'index.sqlite')), createLogger('silent'));
    try {
      const uid = `${SERIES}.3`;
      const store = async (bytes: Uint8Array, name: string) => {
        const temp = join(dataDir, 'tmp', `${name}.part`);
        await writeFile(temp, bytes);
        return archive.storeFromTemp(temp);
      };
      const original = syntheticPetInstance({ sopInstanceUid: uid, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 0] });
      expect((await store(original, 'original')).status).toBe('stored');
      blobs.full = true;
      const outcome = await store(syntheticPetInstance({ sopInstanceUid: uid, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 0], stored: [3] }), 'changed');
      expect(outcome).toMatchObject({ status: 'failed', error: { code: 'MIPSEG_STORAGE_FULL' } });

      const row = archive.index.findInstance(uid);
      expect(Buffer.from(await readFile(join(dataDir, row?.storageKey as string))).equals(Buffer.from(original))).toBe(true);
      expect(await readdir(join(dataDir, 'tmp'))).toEqual([]);
    } finally {
      archive.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
