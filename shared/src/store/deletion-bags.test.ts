import { existsSync, mkdirSync, mkdtempSync, promises as fsp, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive } from './archive';

const STUDY = '2.25.97100';
const SERIES = '2.25.97101';
const SOPS = ['2.25.97102', '2.25.97103'];

/** Stores one instance of the study as a receiver would hand it over (written to tmp/, then stored). */
async function storeInstance(archive: Archive, dir: string, sop: string, series = SERIES): Promise<void> {
  const temp = join(dir, 'tmp', `${sop}.${Date.now()}.part`);
  writeFileSync(temp, syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: series, imagePositionPatient: [0, 0, 1],
    attributes: { StudyInstanceUID: STUDY, PatientID: 'BAGS' } }));
  expect((await archive.storeFromTemp(temp)).status).toBe('stored');
}

/** Stores the study's two instances. */
async function storeStudy(archive: Archive, dir: string): Promise<void> {
  for (const sop of SOPS) await storeInstance(archive, dir, sop);
}

const studyFolder = (dir: string) => join(dir, 'instances', STUDY);
const trash = (dir: string) => readdirSync(join(dir, 'trash'));

describe('a deletion\'s files and rows go together, across a failure or a crash', () => {
  let dir: string;
  let archive: Archive;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-deletion-bags-'));
    archive = await Archive.open(dir, createLogger('silent'));
    await storeStudy(archive, dir);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const reopen = async (): Promise<void> => {
    archive.close();
    archive = await Archive.open(dir, createLogger('silent'));
  };

  test('a deletion whose rows cannot be removed fails and leaves the study whole: rows, files, nothing in trash', async () => {
    jest.spyOn(archive.index, 'deleteStudy').mockImplementationOnce(() => { throw new Error('SQLITE_IOERR: disk I/O error'); });
    await expect(archive.deleteStudy(STUDY)).rejects.toThrow(/SQLITE_IOERR/);
    const instances = archive.index.listInstances({ studyUid: STUDY });
    expect(instances).toHaveLength(2);
    for (const instance of instances) expect((await archive.blobs.read(instance.storageKey)).length).toBeGreaterThan(0);
    expect(trash(dir)).toEqual([]);
  });

  test('files a deletion could not remove are removed at the next start, not left for good', async () => {
    const realRm = fsp.rm.bind(fsp);
    let failed = false;
    jest.spyOn(fsp, 'rm').mockImplementation(async (path, options) => {
      if (!failed && String(path).includes(STUDY)) {
        failed = true;
        throw Object.assign(new Error('EBUSY: resource busy or locked'), { code: 'EBUSY' });
      }
      return realRm(path, options);
    });
    expect(await archive.deleteStudy(STUDY)).toBe(2);
    expect(failed).toBe(true);
    expect(archive.index.listInstances({ studyUid: STUDY })).toHaveLength(0);
    expect(existsSync(studyFolder(dir))).toBe(false); // out of readers' sight at once
    jest.restoreAllMocks();
    await reopen();
    expect(trash(dir)).toEqual([]);
    expect(readdirSync(dir, { recursive: true }).filter((p) => String(p).includes(STUDY))).toEqual([]);
  });

  test('a crash after the files were moved aside and before the rows went: the next start puts them back', async () => {
    // What deleteStudy leaves when the process ends between its renames and its commit.
    const bag = join(dir, 'trash', `pending~${Date.now() + 1}-abcd~${STUDY}~~`, 'instances');
    mkdirSync(bag, { recursive: true });
    renameSync(studyFolder(dir), join(bag, STUDY));
    await reopen();
    expect(trash(dir)).toEqual([]);
    for (const instance of archive.index.listInstances({ studyUid: STUDY })) {
      expect((await archive.blobs.read(instance.storageKey)).length).toBeGreaterThan(0);
    }
    expect(await archive.deleteStudy(STUDY)).toBe(2); // and it deletes as any other
  });

  test('a crash after the rows went and before the files were removed: the next start removes them', async () => {
    const bag = join(dir, 'trash', `pending~1765000000000-abcd~${STUDY}~${SERIES}~`, 'instances', STUDY);
    mkdirSync(bag, { recursive: true });
    renameSync(join(studyFolder(dir), SERIES), join(bag, SERIES));
    expect(archive.index.deleteSeries(STUDY, SERIES)).toBe(2);
    await reopen();
    expect(trash(dir)).toEqual([]);
  });

  test('a deletion that cannot mark its files deleted removes them at once: a re-send before the next start does not bring the others back', async () => {
    jest.spyOn(archive.blobs, 'renameBag').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    expect(await archive.deleteStudy(STUDY)).toBe(2);
    expect(trash(dir)).toEqual([]);
    await storeInstance(archive, dir, SOPS[0] as string);
    jest.restoreAllMocks();
    await reopen();
    expect(archive.index.listInstances({ studyUid: STUDY }).map((i) => i.sopInstanceUid)).toEqual([SOPS[0]]);
    expect(readdirSync(join(studyFolder(dir), SERIES))).toEqual([`${SOPS[0] as string}.dcm`]);
  });

  test('putting a bag back keeps a file stored at its place since (a re-send): the bag\'s copy is dropped', async () => {
    const [first] = archive.index.listInstances({ studyUid: STUDY, sopInstanceUid: SOPS[0] });
    const live = await archive.blobs.read((first as NonNullable<typeof first>).storageKey);
    const bag = join(dir, 'trash', `pending~${Date.now() + 1}-abcd~${STUDY}~~`, 'instances', STUDY, SERIES);
    mkdirSync(bag, { recursive: true });
    writeFileSync(join(bag, `${SOPS[0] as string}.dcm`), Buffer.from('an older copy'));
    await reopen();
    expect(trash(dir)).toEqual([]);
    expect((await archive.blobs.read((first as NonNullable<typeof first>).storageKey)).equals(live)).toBe(true);
  });

  test('the rows\' deletion is on disk before the bag is marked deleted; if it cannot be synced, the bag waits for the next start', async () => {
    const order: string[] = [];
    const sync = archive.index.syncToDisk.bind(archive.index);
    jest.spyOn(archive.index, 'syncToDisk').mockImplementation(() => { order.push('sync'); return sync(); });
    const rename = archive.blobs.renameBag.bind(archive.blobs);
    jest.spyOn(archive.blobs, 'renameBag').mockImplementation((bag, name) => { order.push('mark deleted'); return rename(bag, name); });
    expect(await archive.deleteStudy(STUDY)).toBe(2);
    expect(order).toEqual(['sync', 'mark deleted']);
    jest.restoreAllMocks();

    await reopen();
    await storeStudy(archive, dir);
    jest.spyOn(archive.index, 'syncToDisk').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    expect(await archive.deleteStudy(STUDY)).toBe(2);
    expect(trash(dir).map((name) => name.split('~')[0])).toEqual(['pending']);
    jest.restoreAllMocks();
    await reopen();
    expect(trash(dir)).toEqual([]);
    expect(existsSync(studyFolder(dir))).toBe(false);
  });

  test('a bag left pending by a failed sync is not put back at the next start when the study was sent again meanwhile', async () => {
    jest.spyOn(archive.index, 'syncToDisk').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    expect(await archive.deleteStudy(STUDY)).toBe(2);
    jest.restoreAllMocks();
    await storeInstance(archive, dir, SOPS[0] as string);
    await reopen();
    // The rows are the re-send's, newer than the bag: the deletion did commit, and its other file stays deleted.
    expect(trash(dir)).toEqual([]);
    expect(readdirSync(join(studyFolder(dir), SERIES))).toEqual([`${SOPS[0] as string}.dcm`]);
  });

  test('a deletion goes on to remove its files though a listener told of it throws', async () => {
    archive.onDeletedFrom(() => { throw new Error('a listener that fails'); });
    expect(await archive.deleteStudy(STUDY)).toBe(2);
    expect(trash(dir)).toEqual([]);
    expect(existsSync(studyFolder(dir))).toBe(false);
  });

  test('a deletion that did not commit is put back at the next start though the clock was stepped back since its rows came', async () => {
    // Stored with a clock an hour ahead (stepped back since by NTP), as the study of beforeEach was not: sent again.
    archive.close();
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'mipseg-deletion-bags-'));
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 3_600_000);
    archive = await Archive.open(dir, createLogger('silent'));
    await storeStudy(archive, dir);
    clock.mockRestore();
    // The rows cannot go, and the files cannot be put back: what a crash between the two leaves.
    jest.spyOn(archive.index, 'deleteStudy').mockImplementationOnce(() => { throw new Error('SQLITE_IOERR: disk I/O error'); });
    jest.spyOn(archive.blobs, 'restoreBag').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    await expect(archive.deleteStudy(STUDY)).rejects.toThrow(/SQLITE_IOERR/);
    jest.restoreAllMocks();
    await reopen();
    expect(trash(dir)).toEqual([]);
    for (const instance of archive.index.listInstances({ studyUid: STUDY })) {
      expect((await archive.blobs.read(instance.storageKey)).length).toBeGreaterThan(0);
    }
  });

  test('a bag left pending is not put back though the study was sent again after the clock was stepped back', async () => {
    jest.spyOn(archive.index, 'syncToDisk').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    expect(await archive.deleteStudy(STUDY)).toBe(2);
    jest.restoreAllMocks();
    // NTP steps the clock an hour back; the study is sent again (one of its two instances) before the next start.
    const clock = jest.spyOn(Date, 'now').mockReturnValue(Date.now() - 3_600_000);
    await storeInstance(archive, dir, SOPS[0] as string);
    clock.mockRestore();
    await reopen();
    expect(trash(dir)).toEqual([]);
    expect(readdirSync(join(studyFolder(dir), SERIES))).toEqual([`${SOPS[0] as string}.dcm`]);
  });

  test('a deletion that failed, whose files could not be put back, has them put back at the next start though a series came since', async () => {
    jest.spyOn(archive.index, 'deleteStudy').mockImplementationOnce(() => { throw new Error('SQLITE_FULL: database or disk is full'); });
    jest.spyOn(archive.blobs, 'restoreBag').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    await expect(archive.deleteStudy(STUDY)).rejects.toThrow(/SQLITE_FULL/);
    jest.restoreAllMocks();
    // The modality sends one more series to the study before the next start.
    await storeInstance(archive, dir, '2.25.97199', '2.25.97198');
    await reopen();
    expect(trash(dir)).toEqual([]);
    for (const instance of archive.index.listInstances({ studyUid: STUDY })) {
      expect((await archive.blobs.read(instance.storageKey)).length).toBeGreaterThan(0);
    }
  });

  test('a read that finds a file gone while its study is being deleted is told "not found", not an internal error', async () => {
    const [instance] = archive.index.listInstances({ studyUid: STUDY });
    const move = archive.blobs.moveIntoBag.bind(archive.blobs);
    let during: unknown;
    jest.spyOn(archive.blobs, 'moveIntoBag').mockImplementation(async (bag, prefix, matches) => {
      await move(bag, prefix, matches);
      during ??= await archive.readMetadata(instance as NonNullable<typeof instance>).catch((err: unknown) => err);
    });
    expect(await archive.deleteStudy(STUDY)).toBe(2);
    expect(during).toMatchObject({ code: 'MIPSEG_NOT_FOUND' });
  });

  test('deleting one instance moves only its own files; the other instance of the series stays readable', async () => {
    const [gone, kept] = archive.index.listInstances({ studyUid: STUDY }).sort((a, b) => a.sopInstanceUid.localeCompare(b.sopInstanceUid));
    await archive.readMetadata(gone as NonNullable<typeof gone>); // a cached metadata file beside it, to go with it
    expect(await archive.deleteInstance(STUDY, SERIES, (gone as NonNullable<typeof gone>).sopInstanceUid)).toBe(true);
    expect(readdirSync(join(studyFolder(dir), SERIES)).filter((n) => n.startsWith(SOPS[0] as string))).toEqual([]);
    expect((await archive.blobs.read((kept as NonNullable<typeof kept>).storageKey)).length).toBeGreaterThan(0);
    expect(trash(dir)).toEqual([]);
  });
});
