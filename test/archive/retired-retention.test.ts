import { existsSync, mkdirSync, promises as fsPromises, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@mipseg/shared/log';
import { Archive, scheduleRetiredPruning } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';

const SERIES = '2.25.9401';
const DAY_MS = 86_400_000;

function retiredFiles(dataDir: string): string[] {
  const root = join(dataDir, 'retired');
  return existsSync(root) ? readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort() : [];
}

describe('retired copies of replaced instances are removed after RETIRED_RETENTION_DAYS', () => {
  let dataDir: string;
  let archive: Archive;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mipseg-retired-'));
    archive = await Archive.open(dataDir, createLogger('silent'));
  });
  afterEach(async () => {
    archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Stores version `v` of instance `n` (each version has other pixel values, so each replaces the one before). */
  async function store(n: number, v: number): Promise<string> {
    const temp = join(dataDir, 'tmp', `i${n}v${v}.part`);
    writeFileSync(temp, syntheticPetInstance({ sopInstanceUid: `${SERIES}.${n}`, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, n], stored: [v] }));
    return (await archive.storeFromTemp(temp)).status;
  }

  /** The folder of a series' copies retired on the day of `ms` (retired/ is by day). */
  const seriesFolder = (ms: number): string =>
    join(dataDir, 'retired', new Date(ms).toISOString().slice(0, 10), 'instances', '2.25.700', SERIES);

  /** Back-dates a retired copy, as if it had been retired `days` ago: its name's time, and the day folder it lies in. */
  function age(name: string, days: number): void {
    const retiredAt = Date.now() - days * DAY_MS;
    const from = seriesFolder(Number(/\.(\d{13})$/.exec(name)?.[1]));
    mkdirSync(seriesFolder(retiredAt), { recursive: true });
    renameSync(join(from, name), join(seriesFolder(retiredAt), name.replace(/\.\d{13}$/, `.${retiredAt}`)));
  }

  test('removes the copies retired before the cut-off and the folders left empty, and keeps the rest', async () => {
    for (const n of [1, 2]) {
      expect(await store(n, 1)).toBe('stored');
      expect(await store(n, 2)).toBe('stored');
    }
    const [first, second] = retiredFiles(dataDir);
    age(first as string, 40);
    age(second as string, 10);
    writeFileSync(join(dataDir, 'retired', 'README.txt'), 'put here by hand'); // not retire()'s: never removed

    expect(await archive.blobs.pruneRetired(Date.now() - 30 * DAY_MS)).toEqual({ files: 1, bytes: expect.any(Number) as number });
    expect(retiredFiles(dataDir)).toHaveLength(2);
    expect(retiredFiles(dataDir)).toContain('README.txt');

    await archive.blobs.pruneRetired(Date.now() + 1);
    expect(retiredFiles(dataDir)).toEqual(['README.txt']);
    expect(readdirSync(join(dataDir, 'retired'))).toEqual(['README.txt']); // the emptied folders went too
  });

  test('a replacement after its folder was pruned away still keeps the old copy', async () => {
    expect(await store(1, 1)).toBe('stored');
    expect(await store(1, 2)).toBe('stored');
    await archive.blobs.pruneRetired(Date.now() + 1);
    expect(readdirSync(join(dataDir, 'retired'))).toEqual([]);
    expect(await store(1, 3)).toBe('stored');
    expect(retiredFiles(dataDir)).toHaveLength(1);
  });

  test('the schedule prunes at once at start-up and logs what it removed', async () => {
    expect(await store(1, 1)).toBe('stored');
    expect(await store(1, 2)).toBe('stored');
    age(retiredFiles(dataDir)[0] as string, 8);
    const lines: { msg: string; files?: number; retentionDays?: number }[] = [];
    const pruning = scheduleRetiredPruning(archive, 7, createLogger('info', { write: (l: string) => lines.push(JSON.parse(l) as { msg: string }) }));
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 10));
    await pruning.stop();
    expect(retiredFiles(dataDir)).toEqual([]);
    expect(lines).toEqual([expect.objectContaining({ msg: 'removed retired copies of replaced instances', files: 1, retentionDays: 7 })]);
  });

  test('a run told to stop (a shutdown) ends before its next file and leaves the rest for the next run', async () => {
    for (const n of [1, 2, 3]) {
      expect(await store(n, 1)).toBe('stored');
      expect(await store(n, 2)).toBe('stored');
    }
    const stop = new AbortController();
    stop.abort();
    expect(await archive.blobs.pruneRetired(Date.now() + 1, stop.signal)).toEqual({ files: 0, bytes: 0 });
    expect(retiredFiles(dataDir)).toHaveLength(3);
    expect(await archive.blobs.pruneRetired(Date.now() + 1)).toMatchObject({ files: 3 });
  });

  test('a copy gone before the run reached it (its study deleted meanwhile) is passed over, and the run goes on', async () => {
    for (const n of [1, 2]) {
      expect(await store(n, 1)).toBe('stored');
      expect(await store(n, 2)).toBe('stored');
    }
    const [first] = retiredFiles(dataDir);
    const { stat } = fsPromises;
    // The first copy is moved away (into a deletion's bag) between the run's listing and its look at the file.
    const spy = jest.spyOn(fsPromises, 'stat').mockImplementation(async (path, options) => {
      if (String(path).endsWith(first as string)) throw Object.assign(new Error(`ENOENT: no such file, stat '${String(path)}'`), { code: 'ENOENT' });
      return stat(path, options);
    });
    try {
      expect(await archive.blobs.pruneRetired(Date.now() + 1)).toMatchObject({ files: 1 });
    } finally {
      spy.mockRestore();
    }
  });
});
