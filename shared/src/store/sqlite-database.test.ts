import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { isMipsegError } from '../errors';
import { EMBEDDED_JOBS_SCHEMA } from '../queue/embedded-schema';
import { EmbeddedJobQueue } from '../queue/embedded-job-queue';
import { StudyCheckOutbox } from '../queue/study-check-outbox';
import { INDEX_SCHEMA } from './schema';
import { SqliteArchiveIndex } from './sqlite-index';

const log = pino({ level: 'silent' });
const retry = { attempts: 1, baseDelayMs: 100 };

/** Each of DATA_DIR's databases, opened as mipseg opens it. */
const DATABASES: { name: string; open: (path: string) => { close(): unknown } }[] = [
  { name: 'archive index', open: (path) => new SqliteArchiveIndex(path) },
  { name: 'job store', open: (path) => new EmbeddedJobQueue(path, log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [] }) },
  { name: 'study-check outbox', open: (path) => new StudyCheckOutbox(path, { scheduleStudyCheck: () => Promise.resolve() }, 1000, log) },
];

function userVersion(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

function tableCount(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('schema versions of the databases in DATA_DIR', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-schema-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test.each(DATABASES)('a new $name records the schema version it was created with', async ({ open }) => {
    const path = join(dir, 'new.sqlite');
    await open(path).close();
    expect(userVersion(path)).toBe(1);
  });

  test.each(DATABASES)('refuses a $name written by a newer release, naming the file, and leaves it as it was', ({ open }) => {
    const path = join(dir, 'newer.sqlite');
    const newer = new Database(path);
    newer.pragma('user_version = 2');
    newer.close();
    let refused: unknown;
    try {
      open(path);
    } catch (err) {
      refused = err;
    }
    expect(isMipsegError(refused, 'MIPSEG_SCHEMA_NEWER')).toBe(true);
    expect((refused as Error).message).toContain(path);
    expect((refused as Error).message).toContain('schema version 2');
    expect(userVersion(path)).toBe(2);
    expect(tableCount(path)).toBe(0);
  });

  test.each(DATABASES)('refuses a file that is not a database as the $name, naming the file', ({ open }) => {
    const path = join(dir, 'garbage.sqlite');
    writeFileSync(path, Buffer.alloc(4096, 'not a database '));
    let refused: unknown;
    try {
      open(path);
    } catch (err) {
      refused = err;
    }
    expect(isMipsegError(refused, 'MIPSEG_DATABASE_UNREADABLE')).toBe(true);
    expect((refused as Error).message).toContain(path);
  });

  test('an index written before versions were recorded (user_version 0) is adopted as version 1, rows kept', () => {
    const path = join(dir, 'index.sqlite');
    const old = new Database(path);
    old.exec(INDEX_SCHEMA.sql);
    old.prepare(`INSERT INTO patients (patient_key, patient_id) VALUES ('p\\', 'p')`).run();
    old.close();
    expect(userVersion(path)).toBe(0);

    new SqliteArchiveIndex(path).close();
    expect(userVersion(path)).toBe(1);
    const reopened = new Database(path, { readonly: true });
    expect(reopened.prepare('SELECT patient_id FROM patients').all()).toEqual([{ patient_id: 'p' }]);
    reopened.close();
  });

  test('a job store written before versions were recorded is adopted as version 1', async () => {
    const path = join(dir, 'jobs.sqlite');
    const old = new Database(path);
    old.exec(EMBEDDED_JOBS_SCHEMA.sql);
    old.close();
    await new EmbeddedJobQueue(path, log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [] }).close();
    expect(userVersion(path)).toBe(1);
  });
});
