import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { findIndexedAttribute, type IndexedAttribute } from '../dicom/attributes';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive } from './archive';

const ANNA = '2.25.9510';
const BERT = '2.25.9520';
const CARL = '2.25.9530';
const DORA = '2.25.9540';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly studyInstanceUid?: string;
  readonly studies?: number;
}

async function store(archive: Archive, dir: string, study: string, name: string, patientId?: string): Promise<void> {
  const temp = join(dir, 'tmp', `${study}.part`);
  writeFileSync(temp, syntheticPetInstance({ sopInstanceUid: `${study}.1.1`, seriesInstanceUid: `${study}.1`, imagePositionPatient: [0, 0, 1],
    attributes: { StudyInstanceUID: study, PatientName: name, PatientID: patientId } }));
  expect((await archive.storeFromTemp(temp)).status).toBe('stored');
}

/** As a release that keyed every patient by PatientID + '\' + issuer left them: one patient for all without an ID. */
function mergeAsEarlierReleases(path: string): void {
  const db = new Database(path);
  db.exec(`INSERT INTO patients VALUES ('\\', NULL, NULL, 'BETA^BERT', NULL, 'M');
    UPDATE studies SET patient_key = '\\' WHERE patient_key LIKE 'study:%';
    DELETE FROM patients WHERE patient_key LIKE 'study:%';
    DELETE FROM meta WHERE key = 'patients-without-id-separated';`);
  db.close();
}

describe('an index written when every study without a PatientID shared one patient', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-patients-without-id-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const names = (archive: Archive, filter?: { keyword: string; value: string }) => archive.index.search({ level: 'study', limit: 10, offset: 0,
    filters: filter ? [{ attribute: findIndexedAttribute(filter.keyword) as IndexedAttribute, value: filter.value }] : [] })
    .rows.map((r) => [r['study_uid'], r['patient_id'], r['patient_name']]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));

  test('has each such study given its own patient once at start-up, from its instance, and leaves patients with an ID alone', async () => {
    const first = await Archive.open(dir, createLogger('silent'));
    await store(first, dir, ANNA, 'ALPHA^ANNA');
    await store(first, dir, BERT, 'BETA^BERT');
    await store(first, dir, CARL, 'CHI^CARL', 'MRN-C');
    first.close();
    mergeAsEarlierReleases(join(dir, 'index.sqlite'));

    const lines: LogLine[] = [];
    const archive = await Archive.open(dir, createLogger('info', { write: (l: string) => lines.push(JSON.parse(l) as LogLine) }));
    try {
      expect(names(archive)).toEqual([[ANNA, null, 'ALPHA^ANNA'], [BERT, null, 'BETA^BERT'], [CARL, 'MRN-C', 'CHI^CARL']]);
      expect(names(archive, { keyword: 'PatientName', value: 'ALPHA^ANNA' })).toEqual([[ANNA, null, 'ALPHA^ANNA']]);
      expect(names(archive, { keyword: 'PatientSex', value: 'M' })).toEqual([]); // the merged row's sex went with it
      expect(lines.filter((l) => l.studies !== undefined).map((l) => [l.level, l.studies])).toEqual([[30, 2]]);
    } finally {
      archive.close();
    }
    const db = new Database(join(dir, 'index.sqlite'), { readonly: true });
    expect(db.prepare('SELECT patient_key AS key, patient_name AS name FROM patients ORDER BY 2').all()).toEqual([
      { key: `study:${ANNA}`, name: 'ALPHA^ANNA' }, { key: `study:${BERT}`, name: 'BETA^BERT' }, { key: 'MRN-C\\', name: 'CHI^CARL' }]);
    expect(db.prepare("SELECT value FROM meta WHERE key = 'patients-without-id-separated'").pluck().get()).toBe('1');
    db.close();
  });

  test('gives a study whose instance cannot be read a patient of its own without a name, and logs it', async () => {
    const first = await Archive.open(dir, createLogger('silent'));
    await store(first, dir, ANNA, 'ALPHA^ANNA');
    await store(first, dir, DORA, 'DELTA^DORA');
    first.close();
    mergeAsEarlierReleases(join(dir, 'index.sqlite'));
    rmSync(join(dir, 'instances', DORA), { recursive: true });

    const lines: LogLine[] = [];
    const archive = await Archive.open(dir, createLogger('info', { write: (l: string) => lines.push(JSON.parse(l) as LogLine) }));
    try {
      expect(names(archive)).toEqual([[ANNA, null, 'ALPHA^ANNA'], [DORA, null, null]]);
      expect(lines.filter((l) => l.level === 40).map((l) => l.studyInstanceUid)).toEqual([DORA]);
    } finally {
      archive.close();
    }
  });
});
