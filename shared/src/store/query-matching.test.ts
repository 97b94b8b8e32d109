import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findIndexedAttribute, parseInstanceHeader, type IndexedAttribute } from '../dicom';
import { isMipsegError } from '../errors';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { SqliteArchiveIndex } from './sqlite-index';

/** Three studies: one at 23:30, one at 00:30, one at noon, with series numbers 1, 2, 16. */
const STUDIES = [['2.25.5200001', '233000', 1], ['2.25.5200002', '003000', 2], ['2.25.5200003', '120000', 16]] as const;

describe('QIDO matching of ranges, numbers and UIDs (PS3.4 C.2.2.2)', () => {
  let dir: string;
  let index: SqliteArchiveIndex;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-matching-'));
    index = new SqliteArchiveIndex(join(dir, 'index.sqlite'));
    for (const [study, time, seriesNumber] of STUDIES) {
      const bytes = syntheticPetInstance({ sopInstanceUid: `${study}.1.1`, seriesInstanceUid: `${study}.1`, imagePositionPatient: [0, 0, 0],
        attributes: { StudyInstanceUID: study, StudyTime: time, StudyDate: '20240517', SeriesNumber: seriesNumber } });
      index.putInstance(parseInstanceHeader(bytes, bytes.length), { storageKey: study, size: bytes.length, sha256: 'x' });
    }
  });
  afterAll(() => {
    index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const search = (level: 'study' | 'series', keyword: string, value: string): string[] =>
    index.search({ level, filters: [{ attribute: findIndexedAttribute(keyword) as IndexedAttribute, value }], limit: 10, offset: 0 })
      .rows.map((row) => String(row['study_uid'])).sort();
  const refusal = (level: 'study' | 'series', keyword: string, value: string): string | undefined => {
    try {
      search(level, keyword, value);
      return undefined;
    } catch (err) {
      return isMipsegError(err) ? err.code : String(err);
    }
  };

  test('a time range whose first time is later than its second crosses midnight', () => {
    expect(search('study', 'StudyTime', '2300-0100')).toEqual(['2.25.5200001', '2.25.5200002']);
    expect(search('study', 'StudyTime', '0000-0100')).toEqual(['2.25.5200002']);
  });

  test('a date range whose first date is later than its second, or a range of three values, is refused', () => {
    expect(refusal('study', 'StudyDate', '20240601-20240101')).toBe('MIPSEG_BAD_QUERY');
    expect(refusal('study', 'StudyDate', '20240101-20240131-20240601')).toBe('MIPSEG_BAD_QUERY');
    expect(refusal('study', 'StudyTime', '0100-0200-0300')).toBe('MIPSEG_BAD_QUERY');
    expect(search('study', 'StudyDate', '20240501-20240531')).toHaveLength(3);
  });

  test('a number is an IS or US value written in digits: hex, exponents and blanks are refused', () => {
    expect(search('series', 'SeriesNumber', '16')).toEqual(['2.25.5200003']);
    expect(search('series', 'SeriesNumber', '+16')).toEqual(['2.25.5200003']);
    for (const value of ['0x10', '1e1', ' ', '1.5']) expect(refusal('series', 'SeriesNumber', value)).toBe('MIPSEG_BAD_QUERY');
  });

  test('a UID with a wildcard is refused: UIDs match by list, not by pattern', () => {
    expect(refusal('study', 'StudyInstanceUID', '2.25.*')).toBe('MIPSEG_BAD_QUERY');
    expect(refusal('study', 'StudyInstanceUID', '2.25.520000?')).toBe('MIPSEG_BAD_QUERY');
    expect(search('study', 'StudyInstanceUID', '2.25.5200001,2.25.5200003')).toEqual(['2.25.5200001', '2.25.5200003']);
  });
});

/** Names of more than one value (two referring physicians, a name and an alias), as PACS receive them. */
const NAMED = [
  ['2.25.5300001', 'Ref^One\\Ref^Two', 'Doe^Jane'],
  ['2.25.5300002', 'Solo^Physician', 'Yamada^Tarou=山田^太郎\\Alias^Name'],
] as const;

describe('QIDO matching of multi-valued person names (PS3.4 C.2.2.3: any one value matches)', () => {
  let dir: string;
  let index: SqliteArchiveIndex;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-matching-mv-'));
    index = new SqliteArchiveIndex(join(dir, 'index.sqlite'));
    for (const [study, referring, patient] of NAMED) {
      const bytes = syntheticPetInstance({ sopInstanceUid: `${study}.1.1`, seriesInstanceUid: `${study}.1`, imagePositionPatient: [0, 0, 0],
        attributes: { StudyInstanceUID: study, ReferringPhysicianName: referring, PatientName: patient, PatientID: study, SpecificCharacterSet: 'ISO_IR 192' } });
      index.putInstance(parseInstanceHeader(bytes, bytes.length), { storageKey: study, size: bytes.length, sha256: 'x' });
    }
  });
  afterAll(() => {
    index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const search = (keyword: string, value: string): string[] =>
    index.search({ level: 'study', filters: [{ attribute: findIndexedAttribute(keyword) as IndexedAttribute, value }], limit: 10, offset: 0 })
      .rows.map((row) => String(row['study_uid'])).sort();

  test('a single value matches any one of the stored values, in any case, and not a part of one', () => {
    expect(search('ReferringPhysicianName', 'Ref^Two')).toEqual(['2.25.5300001']);
    expect(search('ReferringPhysicianName', 'ref^one')).toEqual(['2.25.5300001']);
    expect(search('ReferringPhysicianName', 'Ref')).toEqual([]);
    expect(search('PatientName', 'Alias^Name')).toEqual(['2.25.5300002']);
    expect(search('PatientName', 'Yamada^Tarou')).toEqual(['2.25.5300002']);
  });

  test('a wildcard matches within one value, never across the values', () => {
    expect(search('ReferringPhysicianName', '*Two')).toEqual(['2.25.5300001']);
    expect(search('ReferringPhysicianName', 'Ref^T?o')).toEqual(['2.25.5300001']);
    expect(search('ReferringPhysicianName', 'Ref^One*')).toEqual(['2.25.5300001']);
    expect(search('ReferringPhysicianName', 'One*Two')).toEqual([]);
    expect(search('PatientName', 'Ali*')).toEqual(['2.25.5300002']);
    expect(search('PatientName', '*Tarou')).toEqual(['2.25.5300002']);
    expect(search('ReferringPhysicianName', '*Physician')).toEqual(['2.25.5300002']);
  });

  test('a key holding the stored values whole still finds them (Multiple Value Matching is not negotiated)', () => {
    expect(search('ReferringPhysicianName', 'Ref^One\\Ref^Two')).toEqual(['2.25.5300001']);
  });
});
