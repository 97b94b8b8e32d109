import { promises as fsPromises } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlobStore } from './blob-store';

describe('FileBlobStore.retire', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'mipseg-blobs-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  test('keeps the file under retired/ and leaves it in place, so that no crash before the replacement leaves the key empty', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.init();
    await blobs.writeAtomic('instances/1/2/3.dcm', 'old copy');
    const retired = await blobs.retire('instances/1/2/3.dcm', 'abc');
    // In the folder of the day it was retired on, named by the same reading of the clock.
    const [, day, at] = /^retired\/(\d{4}-\d{2}-\d{2})\/instances\/1\/2\/3\.dcm\.abc\.(\d{13})$/.exec(String(retired)) ?? [];
    expect(day).toBe(new Date(Number(at)).toISOString().slice(0, 10));
    expect(await readFile(join(root, 'instances/1/2/3.dcm'), 'utf8')).toBe('old copy');
    expect(await readFile(join(root, String(retired)), 'utf8')).toBe('old copy');
    expect(await blobs.retire('instances/1/2/4.dcm', 'abc')).toBeUndefined(); // nothing there to keep
  });

  test('where the file system has no hard links, the copy it keeps is synced before it counts as kept', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.init();
    await blobs.writeAtomic('instances/1/2/3.dcm', 'old copy');
    const link = jest.spyOn(fsPromises, 'link').mockRejectedValue(Object.assign(new Error('no links here'), { code: 'EPERM' }));
    const open = fsPromises.open.bind(fsPromises);
    const opened: string[] = [];
    const spy = jest.spyOn(fsPromises, 'open').mockImplementation(async (path, flags, mode) => {
      const handle = await open(path, flags, mode);
      if (String(path).includes(`${join(root, 'retired')}`)) {
        const datasync = handle.datasync.bind(handle);
        handle.datasync = async () => {
          opened.push(String(path));
          return datasync();
        };
      }
      return handle;
    });
    try {
      const retired = await blobs.retire('instances/1/2/3.dcm', 'abc');
      expect(await readFile(join(root, String(retired)), 'utf8')).toBe('old copy');
      expect(opened).toEqual([join(root, String(retired))]);
    } finally {
      spy.mockRestore();
      link.mockRestore();
    }
  });

  test('a copy put back over a failed replacement whose rename never happened leaves no retired name beside it', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.init();
    await blobs.writeAtomic('instances/1/2/3.dcm', 'old copy');
    const retired = String(await blobs.retire('instances/1/2/3.dcm', 'abc')); // a second name of the same file
    await blobs.restore(retired, 'instances/1/2/3.dcm');
    expect(await readFile(join(root, 'instances/1/2/3.dcm'), 'utf8')).toBe('old copy');
    await expect(stat(join(root, retired))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('FileBlobStore.syncPendingDirs', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'mipseg-blobs-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  test('a caller whose renames an earlier caller is syncing waits for that sync, rather than answering at once', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.init();
    for (const name of ['1', '2']) {
      const { path, stream } = blobs.createTemp();
      await new Promise<void>((resolve, reject) => stream.end(`copy ${name}`, () => resolve()).on('error', reject));
      await blobs.publish(path, `instances/1/2/${name}.dcm`, { deferDirSync: true });
    }
    const done: string[] = [];
    const first = blobs.syncPendingDirs().then(() => done.push('first'));
    const second = blobs.syncPendingDirs().then(() => done.push('second')); // its set is empty: the first took the folder
    await Promise.all([first, second]);
    expect(done).toEqual(['first', 'second']);
  });

  test('a folder whose fsync failed is synced again by the next call, not forgotten', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.init();
    const { path, stream } = blobs.createTemp();
    await new Promise<void>((resolve, reject) => stream.end('copy', () => resolve()).on('error', reject));
    await blobs.publish(path, 'instances/1/2/1.dcm', { deferDirSync: true });
    const folder = join(root, 'instances', '1', '2');
    const open = fsPromises.open.bind(fsPromises);
    let tries = 0;
    const spy = jest.spyOn(fsPromises, 'open').mockImplementation(async (p, flags, mode) => {
      if (flags === 'r' && String(p) === folder && tries++ === 0) throw Object.assign(new Error('I/O error'), { code: 'EIO' });
      return open(p, flags, mode);
    });
    try {
      await expect(blobs.syncPendingDirs()).rejects.toMatchObject({ code: 'EIO' });
      await blobs.syncPendingDirs();
      expect(tries).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('FileBlobStore.writeAtomic', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'mipseg-blobs-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  test('leaves no temporary file behind when the write cannot be published', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.init();
    await blobs.writeAtomic('instances/1', 'a file where a folder must go');
    await expect(blobs.writeAtomic('instances/1/2/3.json', '{}')).rejects.toThrow();
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });
});

describe('FileBlobStore: folders made durable with the files in them', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'mipseg-blobs-'));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await rm(root, { recursive: true, force: true });
  });

  /** The folders opened read-only (to be fsynced) while `work` runs. */
  async function foldersSynced(work: () => Promise<unknown>): Promise<string[]> {
    const opened: string[] = [];
    const open = fsPromises.open.bind(fsPromises);
    const spy = jest.spyOn(fsPromises, 'open').mockImplementation(async (path, flags, mode) => {
      if (flags === 'r' && (await stat(path)).isDirectory()) opened.push(String(path));
      return open(path, flags, mode);
    });
    try {
      await work();
    } finally {
      spy.mockRestore();
    }
    return opened;
  }

  test('the first file of a new study fsyncs every folder made for it, so that a power loss cannot lose the study\'s folder', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.init();
    const synced = await foldersSynced(() => blobs.writeAtomic('instances/1/2/3.dcm', 'copy'));
    for (const dir of ['instances', 'instances/1', 'instances/1/2']) expect(synced).toContain(join(root, dir));
    // The next file of the series needs its own folder's fsync only.
    expect(await foldersSynced(() => blobs.writeAtomic('instances/1/2/4.dcm', 'copy'))).toEqual([join(root, 'instances/1/2')]);
  });

  /**
   * Stores `firstKey`, then `secondKey` while the fsync of `heldFolder` (made for the first) is held: the second must
   * not be acknowledged before it is released, though its own folders need nothing more of it.
   */
  async function expectSecondWaitsForFolder(heldFolder: string, firstKey: string, secondKey: string): Promise<void> {
    const blobs = new FileBlobStore(root);
    await blobs.init();
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const open = fsPromises.open.bind(fsPromises);
    const spy = jest.spyOn(fsPromises, 'open').mockImplementation(async (path, flags, mode) => {
      if (flags === 'r' && String(path) === join(root, heldFolder)) await held;
      return open(path, flags, mode);
    });
    try {
      const settled: string[] = [];
      const first = blobs.writeAtomic(firstKey, 'first').then(() => settled.push('first'));
      await new Promise((r) => setTimeout(r, 50));
      const second = blobs.writeAtomic(secondKey, 'second').then(() => settled.push('second'));
      await new Promise((r) => setTimeout(r, 100));
      expect(settled).toEqual([]);
      release();
      await Promise.all([first, second]);
      expect(settled.sort()).toEqual(['first', 'second']);
    } finally {
      spy.mockRestore();
    }
  }

  test('a second store into a series folder being made waits for the first store\'s fsyncs of its parents', async () => {
    // The study folder's fsync (of the entry of its series) is held.
    await expectSecondWaitsForFolder(join('instances', '1'), 'instances/1/2/3.dcm', 'instances/1/2/4.dcm');
  });

  test('a store into a second new series of a new study waits for the fsync of the folder above the study', async () => {
    // The fsync of instances/ (the entry of the study folder) is held: the second series' store must wait for it too.
    await expectSecondWaitsForFolder('instances', 'instances/7/1/1.dcm', 'instances/7/2/1.dcm');
  });

  test('a retired copy\'s folder is fsynced, so that the copy kept survives with the replacement', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.init();
    await blobs.writeAtomic('instances/1/2/3.dcm', 'old copy');
    let retired: string | undefined;
    const synced = await foldersSynced(async () => { retired = await blobs.retire('instances/1/2/3.dcm', 'abc'); });
    const day = String(retired).split('/')[1] as string;
    for (const dir of ['.', 'retired', `retired/${day}`, `retired/${day}/instances`, `retired/${day}/instances/1`, `retired/${day}/instances/1/2`]) {
      expect(synced).toContain(join(root, dir));
    }
  });
});
