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

describe('times in the ACR-NEMA form hh:mm:ss', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-legacy-times-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const timesOf = (index: SqliteArchiveIndex) => {
    const [row] = index.search({ level: 'series', filters: [], limit: 10, offset: 0 }).rows;
    return [row?.['study_time'], row?.['series_time']];
  };

  test('are indexed in the PS3.5 form, so that QIDO answers a valid TM', () => {
    const bytes = syntheticPetInstance({ sopInstanceUid: '2.25.5190001', seriesInstanceUid: '2.25.5190000', imagePositionPatient: [0, 0, 0],
      attributes: { StudyTime: '10:30:00', SeriesTime: '10:45:12.5' } });
    const index = new SqliteArchiveIndex(join(dir, 'new.sqlite'));
    try {
      index.putInstance(parseInstanceHeader(bytes, bytes.length), { storageKey: 'k', size: bytes.length, sha256: 'x' });
      expect(timesOf(index)).toEqual(['103000', '104512.5']);
    } finally {
      index.close();
    }
  });

  test('an index written before keeps them rewritten once at start-up', () => {
    const bytes = syntheticPetInstance({ sopInstanceUid: '2.25.5190011', seriesInstanceUid: '2.25.5190010', imagePositionPatient: [0, 0, 0],
      attributes: { StudyTime: '103000', SeriesTime: '104512' } });
    const path = join(dir, 'old.sqlite');
    const first = new SqliteArchiveIndex(path);
    first.putInstance(parseInstanceHeader(bytes, bytes.length), { storageKey: 'k', size: bytes.length, sha256: 'x' });
    first.close();
    const db = new Database(path);
    db.prepare("UPDATE studies SET study_time = '10:30:00'").run();
    db.prepare("UPDATE series SET series_time = '10:45:12', pps_start_time = '10:44'").run();
    db.prepare("DELETE FROM meta WHERE key = 'times-normalised'").run();
    db.close();
    const index = new SqliteArchiveIndex(path);
    try {
      expect(timesOf(index)).toEqual(['103000', '104512']);
      const [row] = index.search({ level: 'series', filters: [], limit: 10, offset: 0 }).rows;
      expect(row?.['pps_start_time']).toBe('1044');
    } finally {
      index.close();
    }
  });
});
