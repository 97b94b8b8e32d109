import type Database from 'better-sqlite3';
import type { Logger } from '../log';
import { openSqliteDatabase, type SqliteSchema } from '../store/sqlite-database';
import { StatementCache } from '../store/statement-cache';
import { WalSync } from '../store/wal-sync';
import type { JobQueue } from './job-queue';

/** DATA_DIR/study-check-outbox.sqlite. Version 1: one table. */
const OUTBOX_SCHEMA: SqliteSchema = {
  name: 'study-check outbox', version: 1,
  sql: 'CREATE TABLE IF NOT EXISTS study_checks (study_uid TEXT PRIMARY KEY, stored_at INTEGER NOT NULL)',
};

/** How soon a hand-over that failed (Redis refused it) is tried again, unless told otherwise. */
const RETRY_MS = 5_000;

/**
 * Queue mode's record of studies whose quiet period must (re)start, kept in SQLite beside the archive's index
 * and written as each instance is stored, before the sender is told it was. The study checks themselves live
 * in Redis; without this record an instance stored while Redis was away left its check in ioredis' memory only,
 * and a restart of the gateway before Redis came back lost the study for good. A row leaves the record once
 * Redis has the check. Instances of one study also share one row, so a 267-slice series asks Redis to move
 * its check a few times, not 267 times.
 */
export class StudyCheckOutbox {
  private readonly db: Database.Database;
  private readonly statements: StatementCache;
  private readonly wal: WalSync;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    path: string,
    private readonly queue: Pick<JobQueue, 'scheduleStudyCheck'>,
    private readonly quietPeriodMs: number,
    private readonly log: Logger,
    private readonly retryMs = RETRY_MS,
    fsync?: (path: string) => Promise<void>,
  ) {
    this.db = openSqliteDatabase(path, OUTBOX_SCHEMA);
    this.statements = new StatementCache(this.db);
    this.wal = new WalSync(`${path}-wal`, fsync);
  }

  /**
   * Makes every record so far durable. The archive calls it before a store is acknowledged (Archive.syncAlso): with
   * synchronous=NORMAL a power loss could otherwise keep an acknowledged instance in the index and lose its
   * study's check, and the study would never be analysed.
   */
  syncToDisk(): Promise<void> {
    return this.wal.sync();
  }

  /** An instance of the study was stored now: recorded at once (synchronously), handed to the queue soon. */
  record(studyInstanceUid: string): void {
    this.statements.prepare(`INSERT INTO study_checks VALUES (?, ?)
      ON CONFLICT(study_uid) DO UPDATE SET stored_at = excluded.stored_at`).run(studyInstanceUid, Date.now());
    this.flushSoon();
  }

  /** Studies recorded and not yet handed to the queue (what a restart will hand over). */
  pending(): string[] {
    return (this.statements.prepare('SELECT study_uid FROM study_checks ORDER BY stored_at').all() as { study_uid: string }[])
      .map((r) => r.study_uid);
  }

  /** Hands every recorded study to the queue, now or right after the hand-over under way. */
  flushSoon(): void {
    if (this.closed) return;
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (!this.flushAgain) return;
      this.flushAgain = false;
      this.flushSoon();
    });
  }

  private async flush(): Promise<void> {
    let rows: { study_uid: string; stored_at: number }[];
    try {
      rows = this.statements.prepare('SELECT study_uid, stored_at FROM study_checks').all() as { study_uid: string; stored_at: number }[];
    } catch (err) {
      // A read the disk failed (SQLITE_IOERR): logged and tried again, as a refused hand-over is. Thrown from here it
      // would be a rejection nobody awaits, which ends the process.
      this.log.error({ err }, 'could not read the study checks to hand over; will try again');
      this.retryLater();
      return;
    }
    for (const { study_uid, stored_at } of rows) {
      try {
        // The quiet period counts from the instance, not from the hand-over (later after a restart).
        await this.queue.scheduleStudyCheck(study_uid, Math.max(0, stored_at + this.quietPeriodMs - Date.now()));
        if (this.closed) return;
        // Kept if another instance arrived meanwhile: its hand-over is still to come.
        this.statements.prepare('DELETE FROM study_checks WHERE study_uid = ? AND stored_at = ?').run(study_uid, stored_at);
      } catch (err) {
        this.log.error({ err, studyInstanceUid: study_uid }, 'could not schedule the study check; will try again');
        this.retryLater();
        return;
      }
    }
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flushSoon();
    }, this.retryMs);
    this.retryTimer.unref();
  }

  /**
   * Stops handing over. Does not wait for a hand-over held up by an unreachable Redis: what it had not
   * handed over stays recorded for the next start.
   */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.db.close();
  }
}
