import Database from 'better-sqlite3';
import { isMipsegError, MipsegError } from '../errors';

/** The tables of one of mipseg's SQLite databases, and the version they are at. */
export interface SqliteSchema {
  /** What the database holds, for messages ("archive index"). */
  readonly name: string;
  /**
   * Kept in the database's PRAGMA user_version. Bumped (with a migration from the one before) whenever
   * a change would make older code misread the database.
   */
  readonly version: number;
  /** Creates what is missing; idempotent (CREATE ... IF NOT EXISTS). */
  readonly sql: string;
}

function refuseNewer(path: string, schema: SqliteSchema, found: number): MipsegError {
  return new MipsegError('MIPSEG_SCHEMA_NEWER', `${path} was written by a newer mipseg (${schema.name} schema version ${found}; ` +
    `this release reads up to ${schema.version}): run that release again, or restore the backup taken before upgrading`);
}

/**
 * Opens (or creates) one of mipseg's SQLite databases in WAL mode with its tables, and records the schema
 * version in it. A database of a newer version is refused before anything is written to it: after a
 * rollback, older code would misread it. Version 0 is a database written before versions were recorded,
 * which is version 1 and is adopted as such. Any failure to open names the file.
 */
export function openSqliteDatabase(path: string, schema: SqliteSchema): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    const found = db.pragma('user_version', { simple: true }) as number;
    if (found > schema.version) throw refuseNewer(path, schema, found);
    db.pragma('journal_mode = WAL');
    const open = db;
    open.transaction(() => {
      open.exec(schema.sql);
      if (found !== schema.version) open.pragma(`user_version = ${schema.version}`);
    })();
    return open;
  } catch (err) {
    db?.close();
    if (isMipsegError(err)) throw err;
    throw new MipsegError('MIPSEG_DATABASE_UNREADABLE', `the ${schema.name} ${path}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err });
  }
}
