import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MipsegError } from '../errors';

/** The file in DATA_DIR whose lock says which process owns the directory. */
export const DATA_DIR_LOCK_FILE = 'mipseg.lock';

function isBusy(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'SQLITE_BUSY';
}

/**
 * One process owns a DATA_DIR: a second `mipseg serve` on it would clean the first one's in-flight uploads
 * away as crash leftovers and re-run its running jobs and exports. The lock is SQLite's write lock on an
 * empty database, which is a kernel (POSIX) lock: it goes with the process however the process ends
 * (SIGKILL, OOM, power), so a crash never leaves a stale lock to remove by hand. Kernel locks do not reach
 * across hosts on every network filesystem, so DATA_DIR must be local (or NFSv4 with working locks).
 */
export class DataDirLock {
  private constructor(private readonly db: Database.Database) {}

  /** Takes the lock, or fails at once (no waiting) if another process holds it. */
  static acquire(dataDir: string): DataDirLock {
    try {
      mkdirSync(dataDir, { recursive: true });
    } catch (err) {
      // Said as the setting to fix: a bare "ENOTDIR: not a directory, mkdir …" did not say which variable gave the path.
      throw new MipsegError('MIPSEG_CONFIG_INVALID', `DATA_DIR=${dataDir}: cannot create it (${err instanceof Error ? err.message : String(err)})`,
        { cause: err });
    }
    const path = join(dataDir, DATA_DIR_LOCK_FILE);
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: 0 });
      // EXCLUSIVE locking mode keeps the write lock that BEGIN EXCLUSIVE takes until the connection closes.
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
      return new DataDirLock(db);
    } catch (err) {
      db?.close();
      if (isBusy(err)) {
        throw new MipsegError('MIPSEG_DATA_DIR_LOCKED', `${dataDir} is held by another mipseg process (its lock is ${path}); ` +
          'stop it, or give this one another DATA_DIR', { cause: err });
      }
      throw new MipsegError('MIPSEG_DATABASE_UNREADABLE', `cannot lock DATA_DIR ${dataDir} (${path}): ${err instanceof Error ? err.message : String(err)}`,
        { cause: err });
    }
  }

  release(): void {
    if (this.db.open) this.db.close();
  }
}
