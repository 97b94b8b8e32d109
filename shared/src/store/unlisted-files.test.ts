import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive, storageKeyFor } from './archive';

const STUDY = '2.25.97200';
const SERIES = '2.25.97201';

const instance = (sop: string, attributes: Record<string, unknown> = {}): Buffer => Buffer.from(syntheticPetInstance({ sopInstanceUid: sop,
  seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 1], attributes: { StudyInstanceUID: STUDY, PatientID: 'ADOPT', ...attributes } }));

/** A file where a store publishes `sop`, with no index row: what a process that ended between the two leaves. */
function unlisted(dir: string, sop: string, bytes: Buffer): void {
  const key = storageKeyFor(STUDY, SERIES, sop);
  mkdirSync(join(dir, key, '..'), { recursive: true });
  writeFileSync(join(dir, key), bytes);
}

const rows = (archive: Archive): string[] => archive.index.listInstances({ studyUid: STUDY }).map((i) => i.sopInstanceUid).sort();

describe('instance files no index row lists', () => {
  let dir: string;
  let archive: Archive;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-unlisted-'));
    archive = await Archive.open(dir, createLogger('silent'));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An instance of the series stored as usual: the index then knows the series. */
  async function storeListed(sop: string): Promise<void> {
    const temp = join(dir, 'tmp', `${sop}.part`);
    writeFileSync(temp, instance(sop));
    expect((await archive.storeFromTemp(temp)).status).toBe('stored');
  }

  test('are only counted by default: one may be what an earlier release failed to remove of a deletion', async () => {
    await storeListed('2.25.97202');
    unlisted(dir, '2.25.97203', instance('2.25.97203'));
    expect(await archive.findUnlistedFiles({ index: false }))
      .toEqual({ unlisted: 1, indexed: 0, refused: 0, examples: [storageKeyFor(STUDY, SERIES, '2.25.97203')] });
    expect(rows(archive)).toEqual(['2.25.97202']);
  });

  test('asked to, stores one in a series the index knows as received: indexed, its study told, and not again', async () => {
    await storeListed('2.25.97202');
    unlisted(dir, '2.25.97203', instance('2.25.97203'));
    const told: string[] = [];
    archive.onInstanceStored((header) => told.push(header.sopInstanceUid));
    expect(await archive.findUnlistedFiles({ index: true })).toMatchObject({ unlisted: 1, indexed: 1, refused: 0 });
    expect(rows(archive)).toEqual(['2.25.97202', '2.25.97203']);
    expect(told).toEqual(['2.25.97203']);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(await archive.findUnlistedFiles({ index: true })).toMatchObject({ unlisted: 0, indexed: 0 });
  });

  test('leaves alone the files of a series the index does not know (a deletion an earlier release left behind)', async () => {
    unlisted(dir, '2.25.97206', instance('2.25.97206'));
    expect(await archive.findUnlistedFiles({ index: true })).toMatchObject({ unlisted: 0, indexed: 0, refused: 0 });
    expect(rows(archive)).toEqual([]);
    expect(readdirSync(join(dir, 'instances', STUDY, SERIES))).toEqual(['2.25.97206.dcm']);
  });

  test('refuses a file that holds another instance than its place names, storing nothing elsewhere', async () => {
    await storeListed('2.25.97202');
    unlisted(dir, '2.25.97209', Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.97210', seriesInstanceUid: '2.25.901',
      imagePositionPatient: [0, 0, 1], attributes: { StudyInstanceUID: '2.25.900' } })));
    expect(await archive.findUnlistedFiles({ index: true })).toMatchObject({ unlisted: 1, indexed: 0, refused: 1 });
    expect(archive.index.listInstances({ studyUid: '2.25.900' })).toEqual([]);
    expect(rows(archive)).toEqual(['2.25.97202']);
  });

  test('a study deleted while one of its files waits to be stored stays deleted', async () => {
    await storeListed('2.25.97202');
    unlisted(dir, '2.25.97203', instance('2.25.97203'));
    const copy = archive.blobs.copyToTemp.bind(archive.blobs);
    jest.spyOn(archive.blobs, 'copyToTemp').mockImplementation(async (key) => {
      const temp = await copy(key);
      expect(await archive.deleteStudy(STUDY)).toBe(1); // between the look at the index and the store
      return temp;
    });
    expect(await archive.findUnlistedFiles({ index: true })).toMatchObject({ indexed: 0 });
    expect(rows(archive)).toEqual([]);
  });

  test('a file that cannot be copied is refused, and the run goes on to the next', async () => {
    await storeListed('2.25.97202');
    unlisted(dir, '2.25.97203', instance('2.25.97203'));
    unlisted(dir, '2.25.97204', instance('2.25.97204'));
    const copy = archive.blobs.copyToTemp.bind(archive.blobs);
    jest.spyOn(archive.blobs, 'copyToTemp').mockImplementationOnce(() => Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' })))
      .mockImplementation((key) => copy(key));
    expect(await archive.findUnlistedFiles({ index: true })).toMatchObject({ unlisted: 2, indexed: 1, refused: 1 });
    expect(rows(archive)).toEqual(['2.25.97202', '2.25.97204']);
  });

  test('stops before its next file once asked to', async () => {
    await storeListed('2.25.97208');
    unlisted(dir, '2.25.97205', instance('2.25.97205'));
    const stop = new AbortController();
    stop.abort();
    expect(await archive.findUnlistedFiles({ index: true, stop: stop.signal })).toMatchObject({ unlisted: 0, indexed: 0 });
  });
});
