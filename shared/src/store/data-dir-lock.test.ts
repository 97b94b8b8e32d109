import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { isMipsegError } from '../errors';
import { Archive } from './archive';
import { DataDirLock } from './data-dir-lock';

const log = pino({ level: 'silent' });

describe('one process owns a DATA_DIR', () => {
  let dataDir: string;
  const open: Archive[] = [];
  beforeEach(() => {
    dataDir = join(mkdtempSync(join(tmpdir(), 'mipseg-lock-')), 'data');
  });
  afterEach(() => {
    for (const archive of open.splice(0)) archive.close();
    rmSync(join(dataDir, '..'), { recursive: true, force: true });
  });

  test('a second open of the same DATA_DIR fails at once, naming it, and leaves the first one\'s uploads alone', async () => {
    const first = await Archive.open(dataDir, log);
    open.push(first);
    const { path: upload, stream } = first.blobs.createTemp();
    await new Promise<void>((resolve, reject) => stream.end(Buffer.from('half an instance'), () => resolve()).once('error', reject));

    const started = Date.now();
    const second = await Archive.open(dataDir, log).then((a) => (open.push(a), undefined), (err: unknown) => err);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(isMipsegError(second, 'MIPSEG_DATA_DIR_LOCKED')).toBe(true);
    expect((second as Error).message).toContain(dataDir);
    expect((second as Error).message).toContain('another mipseg process');
    expect(existsSync(upload)).toBe(true);
  });

  test('closing the archive frees DATA_DIR for the next open, as a restart does', async () => {
    const first = await Archive.open(dataDir, log);
    first.close();
    const next = await Archive.open(dataDir, log);
    open.push(next);
    expect(next.index.countInstances()).toBe(0);
  });

  test('an open that fails after taking the lock gives it back', async () => {
    await Archive.open(dataDir, log).then((a) => a.close());
    await writeFile(join(dataDir, 'index.sqlite'), 'not a database, but long enough to be read as a header by SQLite');
    await expect(Archive.open(dataDir, log)).rejects.toThrow();
    rmSync(join(dataDir, 'index.sqlite'));
    open.push(await Archive.open(dataDir, log));
  });
});

describe('a DATA_DIR that cannot be created', () => {
  test('is refused as MIPSEG_CONFIG_INVALID naming DATA_DIR and why (it was a bare ENOTDIR from mkdir)', () => {
    const parent = mkdtempSync(join(tmpdir(), 'mipseg-lock-'));
    const file = join(parent, 'a-file');
    writeFileSync(file, '');
    try {
      const dataDir = join(file, 'data');
      const err = ((): unknown => {
        try {
          DataDirLock.acquire(dataDir).release();
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toMatch(new RegExp(`^invalid configuration: DATA_DIR=${dataDir}: .*ENOTDIR`));
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
