import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive, storageKeyFor } from './archive';

const STUDY = '2.25.97200';
const SERIES = '2.25.97201';

const instance = (sop: string): Buffer => Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: SERIES,
  imagePositionPatient: [0, 0, 1], attributes: { StudyInstanceUID: STUDY, PatientID: 'ADOPT' } }));

/** A file where a store publishes it, with no index row: what a process that ended between the two leaves. */
function publishedOnly(dir: string, sop: string, bytes: Buffer): void {
  const key = storageKeyFor(STUDY, SERIES, sop);
  mkdirSync(join(dir, key, '..'), { recursive: true });
  writeFileSync(join(dir, key), bytes);
}

describe('instance files no index row lists are indexed at a start', () => {
  let dir: string;
  let archive: Archive;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-adopt-'));
    archive = await Archive.open(dir, createLogger('silent'));
  });
  afterEach(() => {
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An instance of the series stored as usual: the index then knows the series. */
  async function storeListed(sop: string): Promise<void> {
    const temp = join(dir, 'tmp', `${sop}.part`);
    writeFileSync(temp, instance(sop));
    expect((await archive.storeFromTemp(temp)).status).toBe('stored');
  }

  test('a published file without its row, in a series the index knows, is stored as received: indexed, its study told', async () => {
    await storeListed('2.25.97202');
    publishedOnly(dir, '2.25.97203', instance('2.25.97203'));
    const told: string[] = [];
    archive.onInstanceStored((header) => told.push(header.sopInstanceUid));

    expect(await archive.adoptUnindexedFiles()).toEqual({ adopted: 1, refused: 0 });
    expect(archive.index.listInstances({ studyUid: STUDY }).map((i) => i.sopInstanceUid).sort()).toEqual(['2.25.97202', '2.25.97203']);
    expect(told).toEqual(['2.25.97203']);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    // Once indexed, a second look finds nothing more.
    expect(await archive.adoptUnindexedFiles()).toEqual({ adopted: 0, refused: 0 });
  });

  test('files of a series the index does not know are left alone: what an earlier release could not remove of a deletion', async () => {
    publishedOnly(dir, '2.25.97206', instance('2.25.97206'));
    expect(await archive.adoptUnindexedFiles()).toEqual({ adopted: 0, refused: 0 });
    expect(archive.index.listInstances({ studyUid: STUDY })).toEqual([]);
    expect(readdirSync(join(dir, 'instances', STUDY, SERIES))).toEqual(['2.25.97206.dcm']);
  });

  test('a file that is not a storable instance is left where it is, and counted', async () => {
    await storeListed('2.25.97207');
    publishedOnly(dir, '2.25.97204', Buffer.from('not DICOM at all'));
    expect(await archive.adoptUnindexedFiles()).toEqual({ adopted: 0, refused: 1 });
    expect(readdirSync(join(dir, 'instances', STUDY, SERIES)).sort()).toEqual(['2.25.97204.dcm', '2.25.97207.dcm']);
    expect(archive.index.listInstances({ studyUid: STUDY }).map((i) => i.sopInstanceUid)).toEqual(['2.25.97207']);
  });

  test('stops before its next folder once asked to', async () => {
    await storeListed('2.25.97208');
    publishedOnly(dir, '2.25.97205', instance('2.25.97205'));
    const stop = new AbortController();
    stop.abort();
    expect(await archive.adoptUnindexedFiles(stop.signal)).toEqual({ adopted: 0, refused: 0 });
  });
});
