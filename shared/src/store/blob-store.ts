import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs, type Dirent, type ReadStream, type WriteStream } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { MipsegError } from '../errors';
import type { RangeReader } from '../dicom/encapsulated-ranges';

/** A blob open for reads at offsets (BlobStore.openRanged). */
export interface RangedBlob extends RangeReader {
  /** The file's size when it was opened: a replacement published since is another file, and this one stays as it was. */
  readonly size: number;
  close(): Promise<void>;
}

/** A name retire() gives: `{sop}.dcm.{reason}.{ms since the epoch}`. */
const RETIRED_NAME = /^(.+\.dcm)\.([^./]+)\.(\d{13})$/;

/**
 * The folder under retired/ where releases before the day folders kept every copy, laid out as the keys are (a key's
 * `instances/` being retired/instances/); moved into a day folder at start-up (adoptEarlierRetiredLayout).
 */
const EARLIER_LAYOUT = 'instances';
/**
 * A day folder under retired/: `YYYY-MM-DD` (UTC) holds the copies retire() kept that day, laid out as the keys are;
 * `YYYY-MM-DD.earlier-layout[-ms]` holds what the earlier layout held when a start of that day moved it.
 */
const DAY_FOLDER = /^(\d{4}-\d{2}-\d{2})(\.earlier-layout(?:-\d+)?)?$/;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The day folder of a copy retired at `ms`. */
function dayFolderOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * When the copies in a folder directly under retired/ were retired: from `from` (ms) on, before `until`; undefined for
 * a folder retire() does not make. A day folder's copies were retired that day, since retire() names the folder and the
 * copy from one reading of the clock; those moved from the earlier layout, on that day or before (a look for copies
 * retired since a mark passes over the folder once the mark is past its day, and pruning walks it whole).
 */
function retiredFolderSpan(name: string): { readonly from: number; readonly until: number } | undefined {
  if (name === EARLIER_LAYOUT) return { from: -Infinity, until: Infinity };
  const match = DAY_FOLDER.exec(name);
  const day = match ? Date.parse(`${match[1] as string}T00:00:00Z`) : NaN;
  if (!match || Number.isNaN(day)) return undefined;
  return { from: match[2] === undefined ? day : -Infinity, until: day + DAY_MS };
}

/**
 * What a key listRetiredKeys gave names: the key the copy was kept from, the reason retire() was given, and when.
 * Read from `retired/{day}/{key}.{reason}.{ms}` and from the earlier layout's `retired/{key}.{reason}.{ms}`.
 */
export function parseRetiredKey(retiredKey: string): { readonly key: string; readonly reason: string; readonly retiredAt: number } | undefined {
  const path = relative('retired', retiredKey);
  const [folder] = path.split(sep);
  if (folder === undefined || retiredFolderSpan(folder) === undefined) return undefined;
  const match = RETIRED_NAME.exec(folder === EARLIER_LAYOUT ? path : relative(folder, path));
  return match ? { key: match[1] as string, reason: match[2] as string, retiredAt: Number(match[3]) } : undefined;
}

/**
 * Where instance bytes live. Files are published atomically: written under tmp/, fsynced, then renamed
 * into place, so a crash never leaves a partial instance visible. Keys are relative paths built from
 * validated UIDs only. An object-store implementation can follow the same interface.
 */
export interface BlobStore {
  /** A new temporary file to stream an incoming instance into. */
  createTemp(): { path: string; stream: WriteStream };
  /**
   * fsyncs the temporary file (unless `dataSynced`) and renames it to `key`, replacing any older file;
   * then fsyncs the directory, or (with `deferDirSync`) leaves that to {@link syncPendingDirs}.
   */
  publish(tempPath: string, key: string, options?: PublishOptions): Promise<void>;
  /** fsyncs every directory a deferred publish touched. */
  syncPendingDirs(): Promise<void>;
  /**
   * Keeps the file at `key` under retired/ and returns where (in the folder of the day, retired/{YYYY-MM-DD}/{key}…);
   * the file stays at `key` too, until a publish replaces it, so that no crash between the two leaves `key` without a
   * file. Undefined when `key` has no file to keep.
   */
  retire(key: string, reason: string): Promise<string | undefined>;
  /**
   * Removes the files that {@link retire} moved aside before `retiredBefore` (ms since the epoch), and the folders
   * that leaves empty. Returns how many files and bytes went. `stop` aborted ends it before the next file (a shutdown
   * must not wait for a first run over years of retired copies).
   */
  pruneRetired(retiredBefore: number, stop?: AbortSignal): Promise<{ files: number; bytes: number }>;
  /** Puts a file that {@link retire} moved aside back at `key`, replacing what is there. */
  restore(retiredKey: string, key: string): Promise<void>;
  /** Removes the file at `key`, if there is one. */
  remove(key: string): Promise<void>;
  /** Removes the files directly in the folder `prefix` whose names `matches` accepts (nothing when there is no such folder). */
  removeMatching(prefix: string, matches: (name: string) => boolean): Promise<void>;
  /**
   * Moves the folder `prefix` (or, with `matches`, the files directly in it whose names it accepts) into the deletion
   * bag `bag` under trash/, keeping its path there; nothing when there is no such folder. A rename: what a deletion
   * takes away is out of readers' sight at once, and can be put back (restoreBag) or removed (emptyBag) whole.
   */
  moveIntoBag(bag: string, prefix: string, matches?: (name: string) => boolean): Promise<void>;
  /** Puts everything in `bag` back where it was moved from. */
  restoreBag(bag: string): Promise<void>;
  /** Renames `bag` to `name`, durably: how a deletion records that its index rows are gone. */
  renameBag(bag: string, name: string): Promise<void>;
  /** Removes `bag` and all it holds. */
  emptyBag(bag: string): Promise<void>;
  /** The bags under trash/, by name. */
  listBags(): Promise<string[]>;
  /** Every instance file's key (instances/{study}/{series}/{sop}.dcm), folder by folder; ends early once `stop` aborts. */
  listInstanceKeys(stop?: AbortSignal): AsyncGenerator<string>;
  /**
   * The copies {@link retire} kept (retired/{day}/instances/{study}/{series}/{sop}.dcm.{reason}.{ms}), as
   * listInstanceKeys: every one retired at or after `retiredSince` (ms since the epoch; all by default), and those of
   * older days only where a folder also holds newer ones. The folders of days before it are not read at all: a start
   * that looks at what was retired since its mark does not walk years of copies.
   */
  listRetiredKeys(stop?: AbortSignal, retiredSince?: number): AsyncGenerator<string>;
  /**
   * The folders under retired/ laid out as instances/ is (retired/{day}/instances, and the earlier layout's
   * retired/instances): a deletion takes a study's, series' or instance's copies from each.
   */
  listRetiredFolders(): Promise<string[]>;
  /** Whether two keys name one file (a copy {@link retire} kept as a second name, and the key it kept it from). */
  sameFile(a: string, b: string): Promise<boolean>;
  /** A copy of the file at `key` in tmp/, for storing as if received; its path. */
  copyToTemp(key: string): Promise<string>;
  read(key: string): Promise<Buffer>;
  /**
   * Opens a blob for reads at offsets, all from the one file opened (a replacement published meanwhile under the
   * same key is not mixed in); `read` gives fewer bytes where the blob ends sooner. The caller closes it.
   */
  openRanged(key: string): Promise<RangedBlob>;
  /** The local file that holds `key`, for readers in other threads; undefined where blobs are not local files. */
  localPath(key: string): string | undefined;
  openRead(key: string, start?: number, end?: number): ReadStream;
  writeAtomic(key: string, data: Buffer | string): Promise<void>;
  exists(key: string): Promise<boolean>;
  size(key: string): Promise<number>;
  discardTemp(tempPath: string): Promise<void>;
  /** Removes temporary files left behind by a crash. */
  cleanTemp(): Promise<number>;
  /** Free bytes on the volume, for the 507 check. */
  freeBytes(): Promise<number>;
}

export interface PublishOptions {
  readonly dataSynced?: boolean;
  readonly deferDirSync?: boolean;
}

/** A folder's entries; undefined where there is no such folder (`absent`: the error codes that mean so). */
async function entriesIn(dir: string, absent: readonly string[] = ['ENOENT']): Promise<Dirent[] | undefined> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (absent.includes(String((err as NodeJS.ErrnoException).code))) return undefined;
    throw err;
  }
}

/** A second name for the file (a hard link); a copy where the file system has no links. */
async function keepAs(source: string, target: string): Promise<void> {
  try {
    await fs.link(source, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EMLINK') throw err;
    await fs.copyFile(source, target);
    // A link shares the synced data; a copy's must be synced itself, before the original's name goes to the replacement.
    // Opened read-only: the copy has the original's mode, which an administrator may have made read-only.
    const copy = await fs.open(target, 'r');
    try {
      await copy.datasync();
    } finally {
      await copy.close();
    }
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class FileBlobStore implements BlobStore {
  private readonly tmpDir: string;
  /** Folders made (or being made) by ensureDir, with the promise of their parents' fsyncs. */
  private readonly createdDirs = new Map<string, Promise<void>>();
  private readonly pendingDirs = new Set<string>();
  /**
   * Directory fsyncs started and not yet done. A caller whose renames another caller's sync took over must wait for
   * that sync too: its own set is empty by then, and answering at once would acknowledge a rename not yet durable.
   */
  private readonly syncingDirs = new Set<Promise<void>>();

  constructor(private readonly root: string) {
    this.tmpDir = join(root, 'tmp');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    await fs.mkdir(join(this.root, 'instances'), { recursive: true });
    await fs.mkdir(join(this.root, 'trash'), { recursive: true });
  }

  private resolve(key: string): string {
    const path = join(this.root, key);
    const rel = relative(this.root, path);
    if (rel.startsWith('..') || rel.startsWith(sep) || rel === '') {
      throw new MipsegError('MIPSEG_INVALID_UID', `storage key ${key}`);
    }
    return path;
  }

  localPath(key: string): string {
    return this.resolve(key);
  }

  /** A fresh name under tmp/, which cleanTemp clears at the next start should a crash leave the file there. */
  private newTempPath(): string {
    return join(this.tmpDir, `${randomUUID()}.part`);
  }

  createTemp(): { path: string; stream: WriteStream } {
    const path = this.newTempPath();
    return { path, stream: createWriteStream(path, { flags: 'wx' }) };
  }

  /**
   * Makes `dir` and the folders above it that are missing. Each new folder's entry is in its parent, which is fsynced
   * here (`dir`'s own entries are the caller's to sync): else a power loss after an acknowledged store could lose a new
   * study's or series' folder, and the files in it with it, although each file and `dir` itself were synced.
   */
  private ensureDir(dir: string): Promise<void> {
    // The promise is kept, not a flag: a second store into the same new series must wait for the first one's
    // parent fsyncs, or it could be acknowledged before its folder is durable.
    let made = this.createdDirs.get(dir);
    if (!made) {
      made = this.makeDir(dir);
      this.createdDirs.set(dir, made);
      // Only this attempt's entry: a deletion may have forgotten it, and a newer attempt taken its place meanwhile.
      made.catch(() => { if (this.createdDirs.get(dir) === made) this.createdDirs.delete(dir); });
    }
    return made;
  }

  /**
   * Makes `dir` once its parent is made (through ensureDir, so that two stores making folders under one new parent
   * both wait for that parent's own fsync), then fsyncs the parent, which holds `dir`'s entry. One `mkdir -p` per
   * store did not: of two new series of one new study stored at once, the second found the study's folder made and
   * was acknowledged before the first had fsynced the folder above it.
   */
  private async makeDir(dir: string): Promise<void> {
    const parent = dirname(dir);
    if (parent !== this.root && parent !== dir && relative(this.root, parent).split(sep)[0] !== '..') await this.ensureDir(parent);
    try {
      await fs.mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Something else in its place (a file) is no folder: failing here keeps it from being remembered as made.
      if (!(await fs.stat(dir)).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR' });
      return;
    }
    await fsyncDir(parent);
  }

  async publish(tempPath: string, key: string, options: PublishOptions = {}): Promise<void> {
    const target = this.resolve(key);
    if (!options.dataSynced) {
      const handle = await fs.open(tempPath, 'r+');
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }
    await this.ensureDir(dirname(target));
    await fs.rename(tempPath, target);
    if (options.deferDirSync) this.pendingDirs.add(dirname(target));
    else await fsyncDir(dirname(target));
  }

  async syncPendingDirs(): Promise<void> {
    const dirs = [...this.pendingDirs];
    this.pendingDirs.clear();
    for (const dir of dirs) {
      const sync = fsyncDir(dir).catch((err: unknown) => {
        // Removed since (a deleted study): nothing in it is left to make durable.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        // Still to be made durable: a re-send answered "unchanged", or the next store, must not pass it by.
        this.pendingDirs.add(dir);
        throw err;
      });
      this.syncingDirs.add(sync);
      void sync.finally(() => this.syncingDirs.delete(sync)).catch(() => undefined);
    }
    await Promise.all([...this.syncingDirs]);
  }

  async retire(key: string, reason: string): Promise<string | undefined> {
    const source = this.resolve(key);
    if (!(await this.exists(key))) return undefined; // lost to a crash of an earlier release: nothing to keep
    // One reading of the clock names both the day folder and the copy (see retiredFolderSpan).
    const now = Date.now();
    const retiredKey = join('retired', dayFolderOf(now), `${key}.${reason}.${now}`);
    const target = this.resolve(retiredKey);
    await this.ensureDir(dirname(target));
    try {
      await keepAs(source, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // pruneRetired removed the folder since it was made: make it again.
      this.createdDirs.delete(dirname(target));
      await this.ensureDir(dirname(target));
      await keepAs(source, target);
    }
    // The kept copy must outlive a power loss with the replacement that is about to take its name (README: kept).
    await fsyncDir(dirname(target));
    return retiredKey;
  }

  async pruneRetired(retiredBefore: number, stop?: AbortSignal): Promise<{ files: number; bytes: number }> {
    const pruned = { files: 0, bytes: 0 };
    await this.pruneFolder(join(this.root, 'retired'), retiredBefore, pruned, stop);
    return pruned;
  }

  /** Prunes one folder of retired/ depth first; true when it is left empty. */
  private async pruneFolder(dir: string, retiredBefore: number, pruned: { files: number; bytes: number }, stop?: AbortSignal): Promise<boolean> {
    const entries = await entriesIn(dir);
    if (!entries) return false;
    const top = dir === join(this.root, 'retired');
    let left = entries.length;
    for (const entry of entries) {
      if (stop?.aborted) return false;
      const path = join(dir, entry.name);
      // A day folder of the cut-off's day or later holds nothing to prune: not walked, so that a daily run (and the
      // first, at each start) reads the days passing out of the retention, not every copy kept.
      if (top && entry.isDirectory() && (retiredFolderSpan(entry.name)?.from ?? -Infinity) >= retiredBefore) continue;
      if (entry.isDirectory()) {
        if (await this.pruneFolder(path, retiredBefore, pruned, stop)) {
          this.createdDirs.delete(path);
          await fs.rmdir(path).catch(() => undefined); // a retire may have just put a file there
          left--;
        }
        continue;
      }
      // retire() names a file <key>.<reason>.<ms since the epoch>; anything else here was put by hand and stays.
      const retiredAt = Number(/\.(\d{13})$/.exec(entry.name)?.[1] ?? NaN);
      if (!(retiredAt < retiredBefore)) continue;
      // Gone since the listing (a deletion moved its study's retired copies into a bag): passed over, not a failed run.
      const size = (await fs.stat(path).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return undefined; throw err; }))?.size;
      left--;
      if (size === undefined) continue;
      await fs.rm(path, { force: true });
      pruned.files++;
      pruned.bytes += size;
    }
    return left === 0 && !top;
  }

  async restore(retiredKey: string, key: string): Promise<void> {
    const target = this.resolve(key);
    const retired = this.resolve(retiredKey);
    // retire() made a second name for the file, and a publish that failed before its rename left the first in place:
    // rename() of one name of a file onto another does nothing, and the retired name would stay beside the live copy.
    const [a, b] = await Promise.all([fs.stat(retired), fs.stat(target).catch(() => undefined)]);
    if (b && a.ino === b.ino && a.dev === b.dev) await fs.rm(retired);
    else await fs.rename(retired, target);
    await fsyncDir(dirname(target));
  }

  async remove(key: string): Promise<void> {
    await fs.rm(this.resolve(key), { force: true });
  }

  async removeMatching(prefix: string, matches: (name: string) => boolean): Promise<void> {
    const folder = this.resolve(prefix);
    const entries = await entriesIn(folder);
    if (!entries) return;
    const doomed = entries.filter((e) => e.isFile() && matches(e.name));
    for (const entry of doomed) await fs.rm(join(folder, entry.name), { force: true });
    if (doomed.length > 0) await fsyncDir(folder);
  }

  async moveIntoBag(bag: string, prefix: string, matches?: (name: string) => boolean): Promise<void> {
    const folder = this.resolve(prefix);
    const target = this.resolve(join('trash', bag, prefix));
    const holder = matches ? target : dirname(target);
    const entries = await entriesIn(folder);
    if (!entries) return;
    const names = matches ? entries.filter((e) => e.isFile() && matches(e.name)).map((e) => e.name) : undefined;
    if (names?.length === 0) return;
    try {
      await fs.mkdir(holder, { recursive: true });
      if (names) for (const name of names) await fs.rename(join(folder, name), join(target, name));
      else await fs.rename(folder, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (!matches) this.forgetDirsUnder(folder);
    await fsyncDir(matches ? folder : dirname(folder));
    // The bag's folders were just made: each is synced into its parent, up to trash/, so that a start after a power
    // loss finds the bag (and its name) the renames went into.
    for (let dir = holder; dir !== join(this.root, 'trash'); dir = dirname(dir)) await fsyncDir(dir);
    await fsyncDir(join(this.root, 'trash'));
  }

  async restoreBag(bag: string): Promise<void> {
    const root = this.resolve(join('trash', bag));
    const entries = await entriesIn(root);
    if (!entries) return; // nothing was moved into it
    await this.moveBack(root, this.root, entries);
    await fs.rm(root, { recursive: true, force: true });
  }

  /**
   * Moves what `from` holds into `to`: a folder missing there goes whole, one present is merged file by file, and a file
   * present there stays (stored since the deletion began: a re-send, perhaps corrected), the bag's copy dropped.
   */
  private async moveBack(from: string, to: string, entries?: readonly Dirent[]): Promise<void> {
    for (const entry of entries ?? await fs.readdir(from, { withFileTypes: true })) {
      const source = join(from, entry.name);
      const target = join(to, entry.name);
      const there = await fs.stat(target).catch(() => undefined);
      if (entry.isDirectory() && there?.isDirectory()) {
        await this.moveBack(source, target);
        continue;
      }
      if (there) continue;
      await fs.mkdir(to, { recursive: true });
      await fs.rename(source, target);
      await fsyncDir(to);
    }
  }

  async renameBag(bag: string, name: string): Promise<void> {
    try {
      await fs.rename(this.resolve(join('trash', bag)), this.resolve(join('trash', name)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // nothing was moved into it
      throw err;
    }
    await fsyncDir(join(this.root, 'trash'));
  }

  async emptyBag(bag: string): Promise<void> {
    await fs.rm(this.resolve(join('trash', bag)), { recursive: true, force: true });
    await fsyncDir(join(this.root, 'trash'));
  }

  async listBags(): Promise<string[]> {
    return ((await entriesIn(join(this.root, 'trash'))) ?? []).map((e) => e.name);
  }

  listInstanceKeys(stop?: AbortSignal): AsyncGenerator<string> {
    return this.listSeriesFiles('instances', (name) => name.endsWith('.dcm'), stop);
  }

  async *listRetiredKeys(stop?: AbortSignal, retiredSince = -Infinity): AsyncGenerator<string> {
    // Not `until > retiredSince`: a time that is no number (a mark written by hand) passes over nothing.
    for (const folder of await this.retiredFolders((span) => !(span.until <= retiredSince))) {
      if (stop?.aborted) return;
      yield* this.listSeriesFiles(folder, (name) => RETIRED_NAME.test(name), stop);
    }
  }

  listRetiredFolders(): Promise<string[]> {
    return this.retiredFolders(() => true);
  }

  /** The folders under retired/ laid out as instances/ is, of the folders directly under it whose span `wanted` accepts. */
  private async retiredFolders(wanted: (span: { from: number; until: number }) => boolean): Promise<string[]> {
    const entries = (await entriesIn(join(this.root, 'retired'), ['ENOENT', 'ENOTDIR'])) ?? [];
    return entries.filter((e) => {
      const span = e.isDirectory() ? retiredFolderSpan(e.name) : undefined;
      return span !== undefined && wanted(span);
    }).map((e) => (e.name === EARLIER_LAYOUT ? join('retired', e.name) : join('retired', e.name, 'instances'))).sort();
  }

  /**
   * Moves the copies that releases before the day folders kept in retired/instances/ into a day folder of today
   * (`YYYY-MM-DD.earlier-layout`, with the time after it where a start of the same day moved one already): one rename,
   * after which a look for copies retired since a mark passes them over once the mark is a day past it, as it does the
   * folders of older days. Until then every look lists the earlier layout whole, as those releases did. Returns the
   * folder they went to; undefined when there was nothing to move. Called at start-up, before anything is retired.
   */
  async adoptEarlierRetiredLayout(): Promise<string | undefined> {
    const retired = join(this.root, 'retired');
    const earlier = join(retired, EARLIER_LAYOUT);
    if (!(await entriesIn(earlier, ['ENOENT', 'ENOTDIR']))) return undefined;
    let folder = `${dayFolderOf(Date.now())}.earlier-layout`;
    if (await this.exists(join('retired', folder, 'instances'))) folder = `${folder}-${Date.now()}`;
    // Made, and synced into retired/, before the rename: a power loss must not take the folder and the copies with it.
    // One a crash left empty before its rename is used again.
    await fs.mkdir(join(retired, folder), { recursive: true });
    await fsyncDir(retired);
    await fs.rename(earlier, join(retired, folder, 'instances'));
    await fsyncDir(join(retired, folder));
    await fsyncDir(retired);
    return join('retired', folder);
  }

  /** The files `wanted` accepts in the series folders ({study}/{series}/) under `top`, folder by folder. */
  private async *listSeriesFiles(top: string, wanted: (name: string) => boolean, stop?: AbortSignal): AsyncGenerator<string> {
    const names = async (dir: string, files: boolean): Promise<string[]> => {
      const entries = (await entriesIn(join(this.root, dir), ['ENOENT', 'ENOTDIR'])) ?? [];
      return entries.filter((e) => (files ? e.isFile() && wanted(e.name) : e.isDirectory())).map((e) => e.name).sort();
    };
    for (const study of await names(top, false)) {
      for (const series of await names(join(top, study), false)) {
        if (stop?.aborted) return;
        for (const file of await names(join(top, study, series), true)) yield join(top, study, series, file);
      }
    }
  }

  async sameFile(a: string, b: string): Promise<boolean> {
    const [x, y] = await Promise.all([fs.stat(this.resolve(a)).catch(() => undefined), fs.stat(this.resolve(b)).catch(() => undefined)]);
    return x !== undefined && y !== undefined && x.ino === y.ino && x.dev === y.dev;
  }

  async copyToTemp(key: string): Promise<string> {
    const path = this.newTempPath();
    await fs.copyFile(this.resolve(key), path);
    return path;
  }

  /** Forgets the folders under `folder` as made: a store into one moved or removed makes it again. */
  private forgetDirsUnder(folder: string): void {
    const inside = (dir: string) => dir === folder || dir.startsWith(`${folder}${sep}`);
    for (const dir of this.createdDirs.keys()) if (inside(dir)) this.createdDirs.delete(dir);
    for (const dir of this.pendingDirs) if (inside(dir)) this.pendingDirs.delete(dir);
  }

  read(key: string): Promise<Buffer> {
    return fs.readFile(this.resolve(key));
  }

  async openRanged(key: string): Promise<RangedBlob> {
    const handle = await fs.open(this.resolve(key), 'r');
    let size: number;
    try {
      ({ size } = await handle.stat());
    } catch (err) {
      await handle.close();
      throw err;
    }
    return {
      size,
      read: async (start, length) => {
        const out = Buffer.alloc(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(out, filled, length - filled, start + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return out.subarray(0, filled);
      },
      close: () => handle.close(),
    };
  }

  openRead(key: string, start?: number, end?: number): ReadStream {
    return createReadStream(this.resolve(key), { start, end });
  }

  async writeAtomic(key: string, data: Buffer | string): Promise<void> {
    const path = this.newTempPath();
    try {
      await fs.writeFile(path, data, { flag: 'wx' });
      await this.publish(path, key);
    } catch (err) {
      await fs.rm(path, { force: true }).catch(() => undefined); // a write cut short by a full disk leaves a part
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await fs.access(this.resolve(key));
      return true;
    } catch {
      return false;
    }
  }

  async size(key: string): Promise<number> {
    return (await fs.stat(this.resolve(key))).size;
  }

  async discardTemp(tempPath: string): Promise<void> {
    await fs.rm(tempPath, { force: true });
  }

  async cleanTemp(): Promise<number> {
    const names = await fs.readdir(this.tmpDir);
    await Promise.all(names.map((n) => fs.rm(join(this.tmpDir, n), { force: true })));
    return names.length;
  }

  async freeBytes(): Promise<number> {
    const s = await fs.statfs(this.root);
    return s.bavail * s.bsize;
  }
}
