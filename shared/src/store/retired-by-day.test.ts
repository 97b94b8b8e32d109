import { createHash } from 'node:crypto';
import { existsSync, promises as fsPromises, linkSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive, storageKeyFor } from './archive';

const DAY_MS = 24 * 3600 * 1000;
const OLD_STUDY = '2.25.98400';
const NEW_STUDY = '2.25.98500';

/** Copy `n` of instance `${study}.1.{i}` of `study` (series `${study}.1`): copies differ in InstanceNumber. */
const copy = (study: string, n: number, i = 1): Buffer => Buffer.from(syntheticPetInstance({ sopInstanceUid: `${study}.1.${i}`,
  seriesInstanceUid: `${study}.1`, imagePositionPatient: [0, 0, i], attributes: { StudyInstanceUID: study, PatientID: 'BYDAY', InstanceNumber: n } }));
const keyOf = (study: string): string => storageKeyFor(study, `${study}.1`, `${study}.1.1`);
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

describe('retired copies are kept by day, and a start reads only the days since its last look', () => {
  let dir: string;
  let archive: Archive;
  let log: Array<{ msg: string; folder?: string }>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-retired-by-day-'));
    await restart();
  });
  afterEach(() => {
    jest.restoreAllMocks();
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens the archive (again: a new process on the same data folder). */
  async function restart(): Promise<void> {
    archive?.close();
    log = [];
    archive = await Archive.open(dir, createLogger('info', { write: (l: string) => void log.push(JSON.parse(l) as { msg: string }) }));
  }

  async function store(bytes: Buffer): Promise<string> {
    const temp = join(dir, 'tmp', `${sha256(bytes)}.part`);
    writeFileSync(temp, bytes);
    return (await archive.storeFromTemp(temp)).status;
  }

  /** The folders `work` reads (readdir), as paths under the data folder. */
  async function foldersRead(work: () => Promise<unknown>): Promise<string[]> {
    const readdir = fsPromises.readdir.bind(fsPromises);
    const read: string[] = [];
    const spy = jest.spyOn(fsPromises, 'readdir').mockImplementation(((path: string, options: never) => {
      read.push(String(path).slice(dir.length + 1));
      return readdir(path, options);
    }) as unknown as typeof fsPromises.readdir);
    try {
      await work();
    } finally {
      spy.mockRestore();
    }
    return read;
  }

  /** What an earlier release left: the old copy kept as retired/{key}.{hash}.{ms}, the new copy in place, the row the old's. */
  function killedReplacementOfEarlierRelease(study: string, first: Buffer, second: Buffer, retiredAt: number): string {
    const retired = join(dir, 'retired', `${keyOf(study)}.${sha256(first).slice(0, 16)}.${retiredAt}`);
    mkdirSync(dirname(retired), { recursive: true });
    linkSync(join(dir, keyOf(study)), retired);
    writeFileSync(join(dir, 'tmp', 'new.part'), second);
    renameSync(join(dir, 'tmp', 'new.part'), join(dir, keyOf(study)));
    return retired;
  }

  test('a start with nothing retired since its last look reads no folder of the copies retired before it', async () => {
    const clock = jest.spyOn(Date, 'now').mockReturnValue(Date.now() - 10 * DAY_MS);
    for (const n of [1, 2, 3]) expect(await store(copy(OLD_STUDY, n))).toBe('stored'); // ten days ago: two copies retired
    clock.mockRestore();
    expect(await store(copy(NEW_STUDY, 1))).toBe('stored');
    expect(await store(copy(NEW_STUDY, 2))).toBe('stored'); // today: one copy retired
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ checked: 2, repaired: 0, failed: 0 }); // the first look reads all
    await restart();

    let found: unknown;
    const read = await foldersRead(async () => (found = await archive.repairInterruptedReplacements()));
    expect(found).toMatchObject({ checked: 1, repaired: 0, failed: 0 }); // today's copy, within the day's margin
    expect(read.filter((path) => path.includes(OLD_STUDY))).toEqual([]);
    expect(read).not.toContain(join('retired', day(Date.now() - 10 * DAY_MS), 'instances'));
  });

  test('a mark that is no number passes over no folder', async () => {
    const clock = jest.spyOn(Date, 'now').mockReturnValue(Date.now() - 10 * DAY_MS);
    expect(await store(copy(OLD_STUDY, 1))).toBe('stored');
    await archive.blobs.retire(keyOf(OLD_STUDY), sha256(copy(OLD_STUDY, 1)).slice(0, 16)); // cut short after its rename:
    writeFileSync(join(dir, 'tmp', 'new.part'), copy(OLD_STUDY, 2));
    renameSync(join(dir, 'tmp', 'new.part'), join(dir, keyOf(OLD_STUDY)));
    clock.mockRestore();
    archive.index.setMetaValue('retired-copies-looked-at', 'yesterday'); // put there by hand
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 1 });
  });

  test('a data folder of an earlier release: its replacement cut short is mended, and a later start no longer reads its copies', async () => {
    expect(await store(copy(OLD_STUDY, 1))).toBe('stored');
    archive.index.setMetaValue('retired-copies-looked-at', String(Date.now() - 3600_000)); // that release's last look, an hour ago
    archive.close();
    killedReplacementOfEarlierRelease(OLD_STUDY, copy(OLD_STUDY, 1), copy(OLD_STUDY, 2), Date.now() - 60_000);

    await restart(); // the upgrade: retired/instances moved whole into a folder of today
    const moved = join('retired', `${day(Date.now())}.earlier-layout`);
    expect(log).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(/^retired copies kept by an earlier release moved/) as string, folder: moved }));
    expect(readdirSync(join(dir, 'retired'))).toEqual([`${day(Date.now())}.earlier-layout`]);
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 1, failed: 0 });
    expect(archive.index.findInstance(`${OLD_STUDY}.1.1`)?.instanceNumber).toBe(2);

    jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 3 * DAY_MS);
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ checked: 1, repaired: 0 }); // the next day's look
    await restart();
    const read = await foldersRead(() => archive.repairInterruptedReplacements());
    expect(read.filter((path) => path.startsWith(moved))).toEqual([]);
  });

  test('copies of the earlier layout found again on a day that already moved some (a release rolled back, then forward) go beside them', async () => {
    expect(await store(copy(OLD_STUDY, 1))).toBe('stored');
    expect(await store(copy(NEW_STUDY, 1))).toBe('stored');
    archive.close();
    killedReplacementOfEarlierRelease(OLD_STUDY, copy(OLD_STUDY, 1), copy(OLD_STUDY, 2), Date.now() - 60_000);
    await restart();
    archive.close();
    killedReplacementOfEarlierRelease(NEW_STUDY, copy(NEW_STUDY, 1), copy(NEW_STUDY, 2), Date.now());
    await restart();

    const folders = readdirSync(join(dir, 'retired')).sort();
    expect(folders).toEqual([`${day(Date.now())}.earlier-layout`, expect.stringMatching(new RegExp(`^${day(Date.now())}\\.earlier-layout-\\d+$`)) as string]);
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 2, failed: 0 });
  });

  test('copies an earlier release\'s unfinished deletion put back are moved with the rest', async () => {
    expect(await store(copy(OLD_STUDY, 1))).toBe('stored');
    archive.close();
    // A deletion of that release that did not commit (its rows still there): its bag holds the copy it had moved.
    const name = `${keyOf(OLD_STUDY)}.0123456789abcdef.${Date.now() - DAY_MS}`;
    const inBag = join(dir, 'trash', `pending~${Date.now() + 1000}-abcd1234~${OLD_STUDY}~~`, 'retired', name);
    mkdirSync(dirname(inBag), { recursive: true });
    writeFileSync(inBag, copy(OLD_STUDY, 0));
    await restart();
    expect(existsSync(join(dir, 'retired', 'instances'))).toBe(false);
    expect(existsSync(join(dir, 'retired', `${day(Date.now())}.earlier-layout`, name))).toBe(true);
  });

  test('copies of the earlier layout that could not be moved are still read at each start, and the start goes on', async () => {
    expect(await store(copy(OLD_STUDY, 1))).toBe('stored');
    archive.close();
    killedReplacementOfEarlierRelease(OLD_STUDY, copy(OLD_STUDY, 1), copy(OLD_STUDY, 2), Date.now() - 60_000);
    const rename = fsPromises.rename.bind(fsPromises);
    jest.spyOn(fsPromises, 'rename').mockImplementation(async (from, to) => {
      if (String(from) === join(dir, 'retired', 'instances')) throw Object.assign(new Error('EACCES: permission denied, rename'), { code: 'EACCES' });
      return rename(from, to);
    });
    await restart();
    expect(log.map((l) => l.msg)).toContainEqual(expect.stringMatching(/^could not move the retired copies kept by an earlier release/));
    expect(await archive.repairInterruptedReplacements()).toMatchObject({ repaired: 1, failed: 0 });
  });

  /** The names of the retired copies of `study` anywhere under retired/. */
  const retiredOf = (study: string): string[] => readdirSync(join(dir, 'retired'), { recursive: true })
    .map(String).filter((path) => path.includes(`${study}.1.1.dcm.`));

  test('a deletion takes the copies of every day folder and of the earlier layout', async () => {
    const clock = jest.spyOn(Date, 'now').mockReturnValue(Date.now() - 3 * DAY_MS);
    for (const study of [OLD_STUDY, NEW_STUDY]) for (const n of [1, 2]) expect(await store(copy(study, n))).toBe('stored');
    clock.mockRestore();
    for (const study of [OLD_STUDY, NEW_STUDY]) expect(await store(copy(study, 3))).toBe('stored');
    // One more, as a release before the day folders kept it (where the start could not move them).
    const earlier = join(dir, 'retired', `${keyOf(OLD_STUDY)}.0123456789abcdef.${Date.now() - 30 * DAY_MS}`);
    mkdirSync(dirname(earlier), { recursive: true });
    writeFileSync(earlier, copy(OLD_STUDY, 0));
    expect(retiredOf(OLD_STUDY)).toHaveLength(3);

    expect(await archive.deleteStudy(OLD_STUDY)).toBe(1);
    expect(retiredOf(OLD_STUDY)).toEqual([]);
    expect(existsSync(earlier)).toBe(false);
    expect(retiredOf(NEW_STUDY)).toHaveLength(2);
    expect(await store(copy(NEW_STUDY, 1, 2))).toBe('stored'); // a neighbour: the instance goes alone, by name
    expect(await archive.deleteInstance(NEW_STUDY, `${NEW_STUDY}.1`, `${NEW_STUDY}.1.1`)).toBe(true);
    expect(retiredOf(NEW_STUDY)).toEqual([]);
  });

  test('pruning reads no day folder of the cut-off\'s day or later, and prunes the older ones', async () => {
    const clock = jest.spyOn(Date, 'now').mockReturnValue(Date.now() - 10 * DAY_MS);
    for (const n of [1, 2]) expect(await store(copy(OLD_STUDY, n))).toBe('stored');
    clock.mockRestore();
    for (const n of [1, 2]) expect(await store(copy(NEW_STUDY, n))).toBe('stored');

    let pruned: unknown;
    const read = await foldersRead(async () => (pruned = await archive.blobs.pruneRetired(Date.now() - 7 * DAY_MS)));
    expect(pruned).toMatchObject({ files: 1 });
    expect(retiredOf(OLD_STUDY)).toEqual([]);
    expect(retiredOf(NEW_STUDY)).toHaveLength(1);
    expect(read.filter((path) => path.includes(NEW_STUDY) || path.startsWith(join('retired', day(Date.now()))))).toEqual([]);
  });
});
