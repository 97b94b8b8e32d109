import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { WalSync } from './wal-sync';

describe('WalSync', () => {
  test('a caller arriving while an fsync is in flight waits for the next one, which later callers share', async () => {
    const started: Array<() => void> = [];
    const wal = new WalSync('unused', () => new Promise<void>((resolve) => started.push(resolve)), () => Promise.resolve());
    const done: string[] = [];
    const first = wal.sync().then(() => done.push('first'));
    const second = wal.sync().then(() => done.push('second')); // its commit may be after the first fsync began
    const third = wal.sync().then(() => done.push('third'));
    expect(started).toHaveLength(1);
    started[0]?.();
    await first;
    await new Promise((r) => setImmediate(r));
    expect(done).toEqual(['first']);
    expect(started).toHaveLength(2); // one more fsync for both
    started[1]?.();
    await Promise.all([second, third]);
    expect(done).toEqual(['first', 'second', 'third']);
  });

  test('fsyncs a real database\'s log, and takes a log a checkpoint removed as nothing to do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mipseg-wal-'));
    try {
      const db = new Database(join(dir, 'index.sqlite'));
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (v); INSERT INTO t VALUES (1)');
      const wal = new WalSync(join(dir, 'index.sqlite-wal'));
      await wal.sync();
      db.close(); // the last connection checkpoints and removes the log
      await wal.sync();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('fsyncs the log\'s folder with its first fsync, once: a log made at this start must not lose its entry', async () => {
    const synced: string[] = [];
    const wal = new WalSync('/data/index.sqlite-wal', (p) => Promise.resolve(void synced.push(`log ${p}`)),
      (p) => Promise.resolve(void synced.push(`folder ${p}`)));
    await wal.sync();
    await wal.sync();
    expect(synced).toEqual(['log /data/index.sqlite-wal', 'folder /data', 'log /data/index.sqlite-wal']);
  });
});
