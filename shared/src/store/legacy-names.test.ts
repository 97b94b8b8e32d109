import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { findIndexedAttribute, type IndexedAttribute } from '../dicom/attributes';
import { parseInstanceHeader } from '../dicom';
import { SqliteArchiveIndex } from './sqlite-index';
import { describeWithSharedData, sharedData } from '../../../test/support/shared-data';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';

describeWithSharedData(GE)('an index written before names lost their empty trailing components', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-legacy-names-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('has them rewritten once at start-up, so an exact search finds them again', () => {
    const slice = join(sharedData(GE).path, readdirSync(sharedData(GE).path).filter((f) => f.endsWith('.dcm')).sort()[0] as string);
    const bytes = readFileSync(slice);
    const path = join(dir, 'index.sqlite');
    const first = new SqliteArchiveIndex(path);
    first.putInstance(parseInstanceHeader(bytes, bytes.length), { storageKey: 'k', size: bytes.length, sha256: 'x' });
    first.close();
    // As an earlier release left it: the name with empty trailing components, and no record of the rewrite.
    const db = new Database(path);
    db.prepare("UPDATE patients SET patient_name = 'Roe^Jane^^^=Roe^J^'").run();
    db.prepare("UPDATE studies SET referring_physician_name = 'Who^Doctor^^'").run();
    db.prepare("DELETE FROM meta WHERE key = 'names-normalised'").run();
    db.close();

    const index = new SqliteArchiveIndex(path);
    const attribute = (keyword: string) => findIndexedAttribute(keyword) as IndexedAttribute;
    const found = (keyword: string, value: string) =>
      index.search({ level: 'study', filters: [{ attribute: attribute(keyword), value }], limit: 10, offset: 0 }).rows.length;
    try {
      expect([found('PatientName', 'Roe^Jane'), found('PatientName', 'Roe^Jane^^^=Roe^J'), found('PatientName', 'roe^jane=roe^j')]).toEqual([1, 1, 1]);
      expect(found('ReferringPhysicianName', 'Who^Doctor')).toBe(1);
    } finally {
      index.close();
    }
    const after = new Database(path, { readonly: true });
    expect(after.prepare('SELECT patient_name AS n FROM patients').get()).toEqual({ n: 'Roe^Jane=Roe^J' });
    after.close();
  });
});
