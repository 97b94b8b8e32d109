import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { findIndexedAttribute, type IndexedAttribute } from '../dicom/attributes';
import { parseInstanceHeader } from '../dicom';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { SqliteArchiveIndex } from './sqlite-index';

describe('an index written before dates in yyyy.mm.dd were normalised', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-legacy-dates-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('has them rewritten once at start-up, so that a date search finds them', () => {
    const bytes = syntheticPetInstance({ sopInstanceUid: '2.25.5180001', seriesInstanceUid: '2.25.5180000', imagePositionPatient: [0, 0, 0],
      attributes: { StudyDate: '20240115', PatientBirthDate: '19500302' } });
    const path = join(dir, 'index.sqlite');
    const first = new SqliteArchiveIndex(path);
    first.putInstance(parseInstanceHeader(bytes, bytes.length), { storageKey: 'k', size: bytes.length, sha256: 'x' });
    first.close();
    // As an earlier release left it: the dates as sent, and no record of the rewrite.
    const db = new Database(path);
    db.prepare("UPDATE studies SET study_date = '2024.01.15'").run();
    db.prepare("UPDATE patients SET patient_birth_date = '1950.03.02'").run();
    db.prepare("DELETE FROM meta WHERE key = 'dates-normalised'").run();
    db.close();

    const index = new SqliteArchiveIndex(path);
    const attribute = (keyword: string) => findIndexedAttribute(keyword) as IndexedAttribute;
    const found = (keyword: string, value: string) =>
      index.search({ level: 'study', filters: [{ attribute: attribute(keyword), value }], limit: 10, offset: 0 }).rows.length;
    try {
      expect([found('StudyDate', '20240115'), found('StudyDate', '20240101-20240131'), found('PatientBirthDate', '19500302')]).toEqual([1, 1, 1]);
    } finally {
      index.close();
    }
  });
});
