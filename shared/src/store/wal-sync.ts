import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';

/**
 * fsyncs a SQLite database's write-ahead log, so that every transaction committed before the call survives a power
 * loss. With synchronous=NORMAL SQLite writes each commit to the WAL without an fsync: a killed process loses
 * nothing, but an OS crash may lose the commits since the last checkpoint, and with them instances already
 * acknowledged. synchronous=FULL would fsync at every commit (one per instance: 15–25 % slower STOW-RS here);
 * this fsyncs once where a store is acknowledged, as the files' directories are.
 */
export class WalSync {
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /**
   * Whether the log's folder entry is durable. SQLite removes the log when the last connection closes and makes a new
   * one at the next open; with synchronous=NORMAL it syncs the folder only at the first checkpoint, so until then a
   * power loss could lose the new log's entry, and with it every commit acknowledged since the start.
   */
  private folderSynced = false;

  /** `fsync` (the log) and `fsyncFolder` (its folder) are the file system's unless a test holds them. */
  constructor(private readonly walPath: string, private readonly fsync: (path: string) => Promise<void> = fsyncFile,
    private readonly fsyncFolder: (path: string) => Promise<void> = fsyncFile) {}

  /**
   * Resolves once an fsync that started after this call has finished: one in flight may have started before the
   * caller's commit, so the caller waits for the next (which every caller meanwhile shares).
   */
  sync(): Promise<void> {
    if (!this.inFlight) return this.start();
    this.queued ??= this.inFlight.catch(() => undefined).then(() => {
      this.queued = undefined;
      return this.start();
    });
    return this.queued;
  }

  private start(): Promise<void> {
    const run = this.fsync(this.walPath).then(() => this.syncFolderOnce()).finally(() => {
      if (this.inFlight === run) this.inFlight = undefined;
    });
    this.inFlight = run;
    return run;
  }

  private async syncFolderOnce(): Promise<void> {
    if (this.folderSynced) return;
    await this.fsyncFolder(dirname(this.walPath));
    this.folderSynced = true;
  }
}

async function fsyncFile(path: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    // No log at all: a checkpoint moved everything into the database file, and fsynced it.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
