import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { findIndexedAttribute } from '../dicom';
import type { SearchQuery } from './query';
import { SqliteArchiveIndex } from './sqlite-index';

const STUDIES = 300;
const SERIES_PER_STUDY = 3;
const INSTANCES_PER_SERIES = 20;

/** An index of STUDIES studies, one patient each, written straight into its tables (as years of ingest leave it). */
function populatedIndex(path: string): void {
  new SqliteArchiveIndex(path).close();
  const db = new Database(path);
  db.transaction(() => {
    const patient = db.prepare('INSERT INTO patients VALUES (?, ?, NULL, ?, NULL, NULL)');
    const study = db.prepare(`INSERT INTO studies (study_uid, patient_key, study_date, created_at, updated_at) VALUES (?, ?, '20240517', 0, 0)`);
    const series = db.prepare(`INSERT INTO series (series_uid, study_uid, modality, series_number, created_at, updated_at) VALUES (?, ?, 'PT', ?, 0, 0)`);
    const instance = db.prepare(`INSERT INTO instances VALUES (?, ?, ?, '1.2.840.10008.5.1.4.1.1.128', '1.2.840.10008.1.2.1', ?,
      128, 128, 16, 1, 'key', 1, 'sha', 0)`);
    for (let k = 0; k < STUDIES; k++) {
      patient.run(`P${k}\\`, `P${k}`, `Name${k}^Given`);
      study.run(`2.25.${k}`, `P${k}\\`);
      for (let j = 0; j < SERIES_PER_STUDY; j++) {
        series.run(`2.25.${k}.${j}`, `2.25.${k}`, j + 1);
        for (let n = 0; n < INSTANCES_PER_SERIES; n++) instance.run(`2.25.${k}.${j}.${n}`, `2.25.${k}.${j}`, `2.25.${k}`, n + 1);
      }
    }
  })();
  db.close();
}

/** The query plan SQLite gives the SQL that `index.search(query)` runs (EXPLAIN QUERY PLAN, one line per step). */
function planOf(index: SqliteArchiveIndex, path: string, query: SearchQuery): string[] {
  const prepare = jest.spyOn(Database.prototype, 'prepare');
  try {
    index.search(query);
    const sql = prepare.mock.calls.map(([text]) => String(text)).find((text) => text.includes('LIMIT ? OFFSET ?'));
    if (sql === undefined) throw new Error('the search ran no SQL with LIMIT');
    prepare.mockRestore();
    const db = new Database(path, { readonly: true });
    try {
      const parameters = Array.from(sql.matchAll(/\?/g), () => 'P123');
      return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[]).map((row) => row.detail);
    } finally {
      db.close();
    }
  } finally {
    prepare.mockRestore();
  }
}

const byPatientId = (level: SearchQuery['level']): SearchQuery =>
  ({ level, filters: [{ attribute: findIndexedAttribute('PatientID')!, value: 'P123' }], limit: 100, offset: 0 });

describe('QIDO search plans on an index of some size', () => {
  let dir: string;
  let path: string;
  let index: SqliteArchiveIndex;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-plans-'));
    path = join(dir, 'index.sqlite');
    populatedIndex(path);
    index = new SqliteArchiveIndex(path);
  });
  afterAll(() => {
    index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an instance search by PatientID starts from that patient, not from every instance of the archive', () => {
    const plan = planOf(index, path, byPatientId('instance'));
    expect(plan[0]).toMatch(/^SEARCH p USING (COVERING )?INDEX patients_id/);
    expect(index.search(byPatientId('instance')).rows).toHaveLength(SERIES_PER_STUDY * INSTANCES_PER_SERIES);
  });

  test('a series search by PatientID starts from that patient too', () => {
    expect(planOf(index, path, byPatientId('series'))[0]).toMatch(/^SEARCH p USING (COVERING )?INDEX patients_id/);
  });

  test('an instance search with no filter walks the instances in answer order and sorts nothing', () => {
    const plan = planOf(index, path, { level: 'instance', filters: [], limit: 100, offset: 0 });
    expect(plan[0]).toMatch(/^SCAN i USING INDEX instances_series/);
    expect(plan.join('\n')).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
  });

  test('the planner has the tables\' statistics, taken when the index was opened', () => {
    const db = new Database(path, { readonly: true });
    try {
      const stats = db.prepare("SELECT tbl, stat FROM sqlite_stat1 WHERE idx = 'instances_series'").get() as { stat: string } | undefined;
      expect(stats?.stat.split(' ')[0]).toBe(String(STUDIES * SERIES_PER_STUDY * INSTANCES_PER_SERIES));
    } finally {
      db.close();
    }
  });
});
