import { createHash } from 'node:crypto';
import { linkSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive, storageKeyFor } from './archive';

const STUDY = '2.25.98300';
const SERIES = '2.25.98301';
const SOP = '2.25.98302';
const KEY = storageKeyFor(STUDY, SERIES, SOP);

/** The instance with the given InstanceNumber: two copies of it differ in that, and the index row shows which it lists. */
const copy = (instanceNumber: number): Buffer => Buffer.from(syntheticPetInstance({ sopInstanceUid: SOP, seriesInstanceUid: SERIES,
  imagePositionPatient: [0, 0, 1], attributes: { StudyInstanceUID: STUDY, PatientID: 'REPAIR', InstanceNumber: instanceNumber } }));

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('a replacement the process did not finish is completed at the next start', () => {
  let dir: string;
  let archive: Archive;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-interrupted-'));
    archive = await Archive.open(dir, createLogger('silent'));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function store(bytes: Buffer): Promise<void> {
    const temp = join(dir, 'tmp', `${sha256(bytes)}.part`);
    writeFileSync(temp, bytes);
    expect((await archive.storeFromTemp(temp)).status).toBe('stored');
  }

  /** A new process on the same data folder, as after a kill or a power loss. */
  async function restart(): Promise<void> {
    archive.close();
    archive = await Archive.open(dir, createLogger('silent'));
  }

  const listed = (): { instanceNumber: number | null; sha256: string } | undefined => {
    const row = archive.index.findInstance(SOP);
    return row && { instanceNumber: row.instanceNumber, sha256: row.sha256 };
  };

  test('killed between the new copy\'s rename and its index row: the row is written from the file in place', async () => {
    const first = copy(1);
    const second = copy(2);
    await store(first);
    // What commit() leaves when the process ends right after publish: the old copy kept under retired/, the new one
    // renamed into place, the index row still the old copy's.
    await archive.blobs.retire(KEY, sha256(first).slice(0, 16));
    writeFileSync(join(dir, 'tmp', 'new.part'), second);
    renameSync(join(dir, 'tmp', 'new.part'), join(dir, KEY));
    await restart();
    const told: string[] = [];
    archive.onInstanceStored((header) => told.push(header.sopInstanceUid));

    expect(await archive.repairInterruptedReplacements()).toEqual({ checked: 1, repaired: 1, failed: 0, examples: [SOP] });
    expect(listed()).toEqual({ instanceNumber: 2, sha256: sha256(second) });
    expect(readFileSync(join(dir, KEY))).toEqual(second);
    expect(told).toEqual([SOP]); // the study is checked again: its content changed
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 0 });
  });

  test('a power loss that kept the new row but not the rename: the row is written again from the old copy in place', async () => {
    const first = copy(1);
    await store(first);
    await store(copy(2));
    const [retired] = await retiredKeys();
    expect(retired).toBeDefined();
    // The rename lost: the file at the key is the old copy again, the same file as the retired one (a hard link).
    linkSync(join(dir, String(retired)), join(dir, 'tmp', 'old.part'));
    renameSync(join(dir, 'tmp', 'old.part'), join(dir, KEY));
    await restart();

    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 1, failed: 0 });
    expect(listed()).toEqual({ instanceNumber: 1, sha256: sha256(first) });
  });

  test('leaves alone finished replacements, one replaced back to its first copy, and one stopped before its rename', async () => {
    await store(copy(1));
    await store(copy(2));
    await store(copy(1)); // back to the first copy: a retired copy names the row's hash, and the file is intact
    const before = listed();
    await archive.blobs.retire(KEY, String(before?.sha256.slice(0, 16))); // stopped after retire, before publish
    await restart();

    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 0, failed: 0 });
    expect(listed()).toEqual(before);
  });

  test('a study deleted since does not come back', async () => {
    await store(copy(1));
    await archive.blobs.retire(KEY, sha256(copy(1)).slice(0, 16));
    writeFileSync(join(dir, KEY), copy(2));
    expect(await archive.deleteStudy(STUDY)).toBe(1);

    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 0 });
    expect(archive.index.listInstances({ studyUid: STUDY })).toEqual([]);
  });

  test('a copy taken to write the row again is not stored once a re-send has replaced the file since', async () => {
    await store(copy(1));
    const taken = await archive.blobs.copyToTemp(KEY);
    await store(copy(3)); // the sender's re-send, in between

    const outcome = await archive.storeFromTemp(taken, { reindexStoredCopy: { study: STUDY, series: SERIES, sop: SOP } });
    expect(outcome.status).toBe('unchanged');
    expect(listed()).toEqual({ instanceNumber: 3, sha256: sha256(copy(3)) });
    expect(readFileSync(join(dir, KEY))).toEqual(copy(3));
  });

  test('looks at a retired copy at each start until the first a day after it, then no more: old copies are not hashed for ever', async () => {
    await store(copy(1));
    await store(copy(2));
    await store(copy(1)); // replaced back: the retired copy of the first names the row's bytes, and is hashed to tell
    const looks: Array<{ checked: number; hashed: boolean }> = [];
    const look = async (): Promise<void> => {
      await restart();
      const hashed = jest.spyOn(archive.blobs, 'openRead');
      const { checked, repaired } = await archive.repairInterruptedReplacements();
      expect(repaired).toBe(0);
      looks.push({ checked, hashed: hashed.mock.calls.length > 0 });
    };
    await look();
    await look(); // the same day: replacements under way as the last look started may have ended since
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 2 * 24 * 3600 * 1000);
    await look(); // the first look a day later
    await look();
    expect(looks).toEqual([{ checked: 1, hashed: true }, { checked: 1, hashed: true }, { checked: 1, hashed: true }, { checked: 0, hashed: false }]);
  });

  test('a repaired instance is not hashed again at the next look: the copy its repair retires is named as such', async () => {
    await store(copy(1));
    await archive.blobs.retire(KEY, sha256(copy(1)).slice(0, 16));
    writeFileSync(join(dir, 'tmp', 'new.part'), copy(2));
    renameSync(join(dir, 'tmp', 'new.part'), join(dir, KEY));
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 1 });
    expect((await retiredKeys()).filter((k) => k.includes('.reindexed.'))).toHaveLength(1);
    await restart();
    const hashed = jest.spyOn(archive.blobs, 'openRead');
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 0, failed: 0 });
    expect(hashed).not.toHaveBeenCalled();
  });

  test('an instance whose file is gone is reported failed as such, and its retired copies are left', async () => {
    await store(copy(1));
    await store(copy(2));
    rmSync(join(dir, KEY));
    const lines: Array<{ msg: string }> = [];
    archive.close();
    archive = await Archive.open(dir, createLogger('warn', { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) }));
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 0, failed: 1, examples: [SOP] });
    expect(lines.map((l) => l.msg)).toContain('the file of an instance with a replacement is missing: left as it is, looked at again at each start');
    expect(await retiredKeys()).toHaveLength(1);
  });

  test('a repair that failed is tried again at the next start, however long after, its retired copy pruned or not', async () => {
    await store(copy(1));
    await archive.blobs.retire(KEY, sha256(copy(1)).slice(0, 16));
    writeFileSync(join(dir, 'tmp', 'new.part'), copy(2));
    renameSync(join(dir, 'tmp', 'new.part'), join(dir, KEY));
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 2 * 24 * 3600 * 1000); // the first start, two days after the kill
    await restart();
    archive.keepFree(Number.MAX_SAFE_INTEGER); // a volume below MIN_FREE_DISK_BYTES: the repair's store is refused
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 0, failed: 1 });
    for (const key of await retiredKeys()) rmSync(join(dir, key)); // pruned meanwhile (RETIRED_RETENTION_DAYS)
    clock.mockReturnValue(now + 3 * 24 * 3600 * 1000);
    await restart();
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 1, failed: 0 });
    expect(listed()).toEqual({ instanceNumber: 2, sha256: sha256(copy(2)) });
  });

  test('a look whose clock ran ahead does not pass over copies retired once it is set right', async () => {
    await store(copy(1));
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 5 * 24 * 3600 * 1000); // booted with a clock days fast
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ checked: 0 });
    clock.mockReturnValue(now); // set right (NTP); then a replacement cut short
    await archive.blobs.retire(KEY, sha256(copy(1)).slice(0, 16));
    writeFileSync(join(dir, 'tmp', 'new.part'), copy(2));
    renameSync(join(dir, 'tmp', 'new.part'), join(dir, KEY));
    clock.mockReturnValue(now + 26 * 3600 * 1000); // the next start more than a day later, the fast mark still ahead
    await restart();
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 1 });
  });

  test('an instance it cannot mend does not hold the mark back: a later look reads newer copies, and that instance again', async () => {
    await store(copy(1));
    await store(copy(2));
    rmSync(join(dir, KEY)); // gone for good
    const other = '2.25.98303';
    const otherCopy = (n: number): Buffer => Buffer.from(syntheticPetInstance({ sopInstanceUid: other, seriesInstanceUid: SERIES,
      imagePositionPatient: [0, 0, 2], attributes: { StudyInstanceUID: STUDY, PatientID: 'REPAIR', InstanceNumber: n } }));
    await store(otherCopy(1));
    await store(otherCopy(2));
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 2 * 24 * 3600 * 1000);
    await restart();
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ checked: 2, failed: 1, examples: [SOP] });
    clock.mockReturnValue(now + 4 * 24 * 3600 * 1000);
    await restart();
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ checked: 1, failed: 1, examples: [SOP] });
  });

  test('a study deleted while the look reads its instance is not reported as a failure', async () => {
    await store(copy(1));
    await archive.blobs.retire(KEY, sha256(copy(1)).slice(0, 16));
    writeFileSync(join(dir, KEY), copy(2));
    const size = archive.blobs.size.bind(archive.blobs);
    jest.spyOn(archive.blobs, 'size').mockImplementationOnce(async (key) => {
      await archive.deleteStudy(STUDY); // between the look at the index and the file
      return size(key);
    });
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 0, failed: 0 });
    expect(archive.index.listInstances({ studyUid: STUDY })).toEqual([]);
  });

  test('puts back a file that is gone from a retired copy holding the very bytes its row names', async () => {
    await store(copy(1));
    await store(copy(2));
    await store(copy(1)); // replaced back: the first copy's retired file holds the row's bytes
    rmSync(join(dir, KEY));
    await restart();
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 1, failed: 0, examples: [SOP] });
    expect(readFileSync(join(dir, KEY))).toEqual(copy(1));
    expect(listed()).toEqual({ instanceNumber: 1, sha256: sha256(copy(1)) });
  });

  test('more instances it cannot mend than its list holds: the mark stays, and a later look still finds the one left off', async () => {
    await store(copy(1));
    await archive.blobs.retire(KEY, sha256(copy(1)).slice(0, 16));
    writeFileSync(join(dir, 'tmp', 'new.part'), copy(2));
    renameSync(join(dir, 'tmp', 'new.part'), join(dir, KEY));
    for (const n of [0, 1]) { // two more instances whose files are gone for good, found first (their names sort first)
      const sop = `2.25.98300${n}`;
      const bytes = Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, n],
        attributes: { StudyInstanceUID: STUDY, PatientID: 'REPAIR' } }));
      await store(bytes);
      await store(Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, n],
        attributes: { StudyInstanceUID: STUDY, PatientID: 'REPAIR', InstanceNumber: 9 } })));
      rmSync(join(dir, storageKeyFor(STUDY, SERIES, sop)));
    }
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 2 * 24 * 3600 * 1000);
    await restart();
    archive.keepFree(Number.MAX_SAFE_INTEGER); // the repair refused for space
    expect(await archive.repairInterruptedReplacements({ outstandingMax: 1 })).toMatchObject({ failed: 3 });
    clock.mockReturnValue(now + 5 * 24 * 3600 * 1000);
    await restart();
    expect(await archive.repairInterruptedReplacements({ outstandingMax: 1 })).toMatchObject({ repaired: 1 });
    expect(listed()).toEqual({ instanceNumber: 2, sha256: sha256(copy(2)) });
  });

  test('an unreadable record of those not yet mended means a look at every copy, not a failed start-up', async () => {
    await store(copy(1));
    await archive.blobs.retire(KEY, sha256(copy(1)).slice(0, 16));
    writeFileSync(join(dir, 'tmp', 'new.part'), copy(2));
    renameSync(join(dir, 'tmp', 'new.part'), join(dir, KEY));
    archive.index.setMetaValue('retired-copies-looked-at', String(Date.now() + 1000)); // a mark past the copy
    archive.index.setMetaValue('replacement-repairs-outstanding', '{"not": "a list"');
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 1 });
  });

  async function retiredKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of archive.blobs.listRetiredKeys()) keys.push(key);
    return keys;
  }
});
