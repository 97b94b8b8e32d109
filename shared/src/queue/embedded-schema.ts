import type Database from 'better-sqlite3';
import { MipsegError } from '../errors';
import type { SqliteSchema } from '../store/sqlite-database';

/** Tables of the embedded job runner (DATA_DIR/jobs.sqlite). */
const EMBEDDED_JOBS_SQL = `
CREATE TABLE IF NOT EXISTS pending_studies (
  study_uid TEXT PRIMARY KEY, due_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, study_uid TEXT NOT NULL, series_uid TEXT, state TEXT NOT NULL, stage TEXT,
  progress INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
  started_at INTEGER, finished_at INTEGER, timings TEXT NOT NULL DEFAULT '{}', failure_code TEXT,
  failure_reason TEXT, result TEXT, request TEXT, version INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0, stalls INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_study ON jobs(study_uid, created_at);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, created_at);
CREATE INDEX IF NOT EXISTS jobs_series ON jobs(series_uid, version);
CREATE TABLE IF NOT EXISTS exports (
  job_id TEXT NOT NULL, destination TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  detail TEXT, updated_at INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,
  PRIMARY KEY (job_id, destination)
);
-- /metrics counts jobs finished since its last scrape, and exports by destination and state, at every scrape.
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(state, finished_at);
CREATE INDEX IF NOT EXISTS exports_by_destination ON exports(destination, state);
-- The runner asks for due exports on every tick (5 times a second); sent ones, the great majority, are left out.
CREATE INDEX IF NOT EXISTS exports_due ON exports(next_attempt_at) WHERE state IN ('pending', 'retrying');
`;

/**
 * DATA_DIR/jobs.sqlite. Version 1: the tables above (indexes added since are made by IF NOT EXISTS, and older code
 * ignores them; so does it jobs.stalls, see addMissingColumns).
 */
export const EMBEDDED_JOBS_SCHEMA: SqliteSchema = { name: 'job store', version: 1, sql: EMBEDDED_JOBS_SQL };

/**
 * Columns added to a table after databases were written without them: CREATE TABLE IF NOT EXISTS leaves an existing
 * table as it is, and SQLite has no ADD COLUMN IF NOT EXISTS. Each has a default and is named in every insert that
 * sets it, so older code (which names its columns in its inserts into jobs, and reads rows by name) reads and writes
 * such a table rightly: the version stays 1, and a rollback still opens the database.
 */
const ADDED_COLUMNS = [
  // How often a start found the job running (its process ended while running it): counted apart from its attempts.
  { table: 'jobs', column: 'stalls', definition: 'INTEGER NOT NULL DEFAULT 0' },
] as const;

/** Adds ADDED_COLUMNS to a job store written before them; a failure names the file, as openSqliteDatabase's do. */
export function addMissingColumns(db: Database.Database, path: string): void {
  try {
    db.transaction(() => {
      for (const { table, column, definition } of ADDED_COLUMNS) {
        const columns = db.pragma(`table_info(${table})`) as { name: string }[];
        if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
      }
    })();
  } catch (err) {
    throw new MipsegError('MIPSEG_DATABASE_UNREADABLE', `the job store ${path}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err });
  }
}
