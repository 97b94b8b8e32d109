import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { isMipsegError, MipsegError, toMipsegError } from '../errors';
import { readDicomJson } from '../dicom/dicom-json';
import { DicomJsonPool, parsesInline, readTimedOut } from '../dicom/dicom-json-pool';
import { parseInstanceHeader, type InstanceHeader } from '../dicom/parse-header';
import { fileMetaUids, walkFileMeta } from '../dicom/file-meta';
import { dicomParseOptions } from '../dicom/parse-options';
import { parseDicomReadingNewerVrs } from '../dicom/newer-vrs';
import { IMAGE_SOP_CLASSES, isSupportedStorageSopClass, MODALITIES_BY_SOP_CLASS, SopClass } from '../dicom/sop-classes';
import { isUncompressed } from '../dicom/transfer-syntaxes';
import { sameDataSet } from '../dicom/same-data-set';
import { assertUid } from '../dicom/uid';
import type { Logger } from '../log';
import { FileBlobStore, parseRetiredKey, type BlobStore } from './blob-store';
import { FreeSpaceFloor, type ReceivingFloorCheck } from './free-space-floor';
import { failsOverTheBytes, MetadataFailures, TIMED_OUT_READ_REMEMBERED_MS } from './metadata-failures';
import { DataDirLock } from './data-dir-lock';
import { separatePatientsWithoutId } from './patients-without-id';
import { storableEncodingRefusal } from './storable-encoding';
import { StudyGate } from './study-gate';
import { patientKeyOf, SqliteArchiveIndex, type ArchiveIndex, type RemainingHeaders, type RowsSummary, type StoredInstance } from './sqlite-index';

/** What happened to one received instance; the STOW response and C-STORE status are built from it. */
export type StoreOutcome =
  | {
      readonly status: 'stored' | 'unchanged';
      readonly header: InstanceHeader;
      readonly replaced: boolean;
      /** On a store that added the instance (no row of it before): what withdrawResult checks is still its copy. */
      readonly added?: { readonly sha256: string; readonly store: symbol };
    }
  | {
      readonly status: 'failed';
      readonly error: MipsegError;
      readonly sopClassUid?: string;
      readonly sopInstanceUid?: string;
    };

export interface StoreOptions {
  /** The {StudyInstanceUID} of a STOW URL: instances of other studies are refused. */
  readonly expectedStudyUid?: string;
  /**
   * Leave the directory fsync and the index's to {@link Archive.syncDeferred}, which the caller runs before it
   * acknowledges (one fsync per series folder and one of the index per STOW request instead of one per instance).
   */
  readonly deferDirSync?: boolean;
  /**
   * mipseg's own result (a MIP or SEG): stored below MIN_FREE_DISK_BYTES too, where it is one (isResultPastFloor). A
   * few hundred kilobytes of a study already received; refused, its analysis would run again and then fail for good.
   */
  readonly result?: boolean;
  /**
   * The series a result was derived from (SeriesInstanceUID): the instance is refused, as not found, unless that
   * series is still stored in the instance's study, checked in the study's gate. An analysis asks before it stores,
   * but a deletion can come between its question and the store, and the result would bring the study back.
   */
  readonly besideSeries?: string;
  /**
   * Store only the instance this place names, and only where it has no row and its series is still filed under its
   * study (findUnlistedFiles): any stored copy stays, whatever its bytes, and a series deleted meanwhile stays deleted.
   */
  readonly onlyIfUnindexed?: UnlistedPlace;
  /**
   * The file is a copy of the instance's stored file at this place, taken to write its index row again from it
   * (repairInterruptedReplacements): stored only while a row lists the instance there and the file in place still
   * holds these bytes, checked in the study's gate and the instance's turn.
   */
  readonly reindexStoredCopy?: UnlistedPlace;
}

/** Where an instance file lies (an unlisted one, or one whose row is written again): the UIDs its key names. */
export interface UnlistedPlace {
  readonly study: string;
  readonly series: string;
  readonly sop: string;
}

/** What findUnlistedFiles found: files no row lists in known series, and what became of them. */
export interface UnlistedFiles {
  readonly unlisted: number;
  readonly indexed: number;
  readonly refused: number;
  /** The first few keys, for the log. */
  readonly examples: readonly string[];
}

/** What repairInterruptedReplacements found and did. */
export interface InterruptedReplacements {
  /** Instances with a copy under retired/ that were looked at. */
  readonly checked: number;
  readonly repaired: number;
  readonly failed: number;
  /** The first few repaired or failed SOP Instance UIDs, for the log. */
  readonly examples: readonly string[];
}

const UNLISTED_EXAMPLES = 5;

/**
 * The meta key recording when repairInterruptedReplacements last looked at every retired copy: a start looks only at
 * copies retired since, less a day for replacements that were under way as it started, not at years of them again.
 */
const RETIRED_LOOKED_AT = 'retired-copies-looked-at';
const RETIRED_LOOK_MARGIN_MS = 24 * 60 * 60 * 1000;
/**
 * The meta key listing the instances (SOP Instance UIDs) a look could not mend, looked at again at each start whatever
 * the mark: a repair refused for now (a volume below MIN_FREE_DISK_BYTES), a file gone or unreadable. At most so many.
 */
const REPAIRS_OUTSTANDING = 'replacement-repairs-outstanding';
const REPAIRS_OUTSTANDING_MAX = 1000;

/** What a look at an instance with a retired copy finds (repairInterruptedReplacements). */
type ReplacementState = 'whole' | 'interrupted' | 'file-missing' | 'file-unreadable';

/** One run of repairInterruptedReplacements, as it goes. */
interface ReplacementLook {
  readonly checked: Set<string>;
  /** Instances mended or reported this run: their other retired copies are passed over. */
  readonly settled: Set<string>;
  /** Instances it could not mend, for the next start. */
  readonly outstanding: Set<string>;
  repaired: number;
  failed: number;
  readonly examples: string[];
}

/** Refuses a file read from an instance's place (an unlisted file, or one indexed again) that holds another instance. */
function assertHoldsPlace(header: InstanceHeader, place: UnlistedPlace): void {
  if (header.studyInstanceUid !== place.study || header.seriesInstanceUid !== place.series || header.sopInstanceUid !== place.sop) {
    throw new MipsegError('MIPSEG_INSTANCE_CONFLICT', `the file holds instance ${header.sopInstanceUid} of series ` +
      `${header.seriesInstanceUid}, not the one its place names`);
  }
}

/** Whether an index row names the bytes a retired copy was kept with (retire()'s reason: a hash's first 16 digits). */
function rowNamesRetiredCopy(row: StoredInstance, retiredKey: string): boolean {
  return row.sha256.startsWith(parseRetiredKey(retiredKey)?.reason ?? '-');
}

/** A received file in tmp/, with what the receiver learnt while writing it. */
export interface ReceivedFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** The file's first bytes (up to 1 MiB, or all of it): enough to parse the header without a re-read. */
  readonly head: Buffer;
  /** The receiver already fdatasync'ed the file. */
  readonly dataSynced: boolean;
}

/** Largest stored instance that a different copy is compared with, element by element (see holdsSameDataSet). */
export const SAME_DATA_SET_MAX_BYTES = 64 * 1024 * 1024;

/** A listener told about every instance that was stored or replaced (the pipeline's study tracker). */
export type InstanceStoredListener = (header: InstanceHeader) => void;

/** A listener told of every study a deletion took instances from (the worklist's live view). */
export type StudyDeletedFromListener = (studyInstanceUid: string) => void;

// Reading the header needs only the bytes before Pixel Data; this covers nearly every file in one read.
export const HEADER_PROBE_BYTES = 1 << 20;

/** What a deletion takes: a study, a series of it, or an instance of that series. */
interface DeletionTarget {
  readonly study: string;
  readonly series?: string;
  readonly sop?: string;
}

/**
 * A deletion bag's name under trash/: its state (pending until the rows are gone, then deleted), a unique stamp and
 * the target's UIDs, so that a start after a crash can tell what it held. UIDs hold no '~'.
 */
function bagName(state: 'pending' | 'deleted', target: DeletionTarget, stamp: string): string {
  return [state, stamp, target.study, target.series ?? '', target.sop ?? ''].join('~');
}

/** What a bag's name says: its state, its target, when it was made, and its target's rows then (RowsSummary). */
interface ParsedBag {
  readonly state: 'pending' | 'deleted';
  readonly madeAt: number;
  /** Absent in bags of releases before it was recorded. */
  readonly rows?: RowsSummary;
  readonly target: DeletionTarget;
}

function parseBagName(name: string): ParsedBag | undefined {
  const [state, stamp, study, series, sop, ...rest] = name.split('~');
  // <ms>-<random>[-<latest received_at>-<row count>]
  const [made, , latest, count] = (stamp ?? '').split('-');
  const madeAt = Number(made);
  if ((state !== 'pending' && state !== 'deleted') || !Number.isSafeInteger(madeAt) || !study || series === undefined || sop === undefined
    || rest.length > 0) return undefined;
  const rows = latest !== undefined && count !== undefined && /^\d{1,16}$/.test(latest) && /^\d{1,16}$/.test(count)
    ? { latestReceivedAt: Number(latest), count: Number(count) } : undefined;
  return { state, madeAt, ...(rows ? { rows } : {}), target: { study, ...(series ? { series } : {}), ...(sop ? { sop } : {}) } };
}

function deletionFields(target: DeletionTarget): Record<string, string> {
  return { studyInstanceUid: target.study, ...(target.series ? { seriesInstanceUid: target.series } : {}),
    ...(target.sop ? { sopInstanceUid: target.sop } : {}) };
}

export function storageKeyFor(studyUid: string, seriesUid: string, sopUid: string): string {
  return join('instances', assertUid(studyUid), assertUid(seriesUid), `${assertUid(sopUid)}.dcm`);
}

/**
 * Bumped when readDicomJson's output changes, so metadata cached by an earlier version is computed again.
 * 2: binary values inside sequence items inline (their old BulkDataURIs named no top-level element).
 * 3: AT values as 8 hex digits (they were numbers).
 * 4: a signed image's "US or SS" pixel values from an Implicit VR file as SS (they were US).
 * 5: text values without trailing padding (a DT kept its space).
 * 6: sequences sent as UN read; "US or SS" sent as UN signed by Pixel Representation (was VR "xs"); person names
 *    without NUL padding or empty trailing components and groups; no group lengths.
 * 7: OV, SV and OL elements with their own VRs (they were UN); SV and UV values as JSON Numbers within ±(2^53 − 1),
 *    decimal strings beyond (UV were bigints, which JSON could not hold).
 */
export const METADATA_FORMAT = 7;

function metadataKeyFor(instance: StoredInstance): string {
  return instance.storageKey.replace(/\.dcm$/, `.${instance.sha256.slice(0, 16)}.m${METADATA_FORMAT}.json`);
}

/**
 * The names of an instance's files in its series folder (storageKeyFor, metadataKeyFor) and under retired/
 * (BlobStore.retire: `<key>.<reason>.<ms>`), matched whole: one UID can begin another ("1.2.3" and "1.2.3.4").
 */
function instanceFileNames(sop: string): { file: RegExp; cachedMetadata: RegExp; retired: RegExp } {
  const uid = sop.replace(/\./g, '\\.');
  return {
    file: new RegExp(`^${uid}\\.dcm$`),
    cachedMetadata: new RegExp(`^${uid}\\.[0-9a-f]{16}\\.m\\d+\\.json$`),
    retired: new RegExp(`^${uid}\\.dcm\\.[^.]+\\.\\d{13}$`),
  };
}

/**
 * Moves the retired copies an earlier release kept in one folder into a day folder (FileBlobStore.adoptEarlierRetiredLayout).
 * Where it cannot, they stay where they are, and each look for unfinished replacements lists them all, as before.
 */
async function adoptEarlierRetiredLayout(blobs: FileBlobStore, log: Logger): Promise<void> {
  try {
    const folder = await blobs.adoptEarlierRetiredLayout();
    if (folder) log.info({ folder }, 'retired copies kept by an earlier release moved into a folder of their own (retired/ is now by day)');
  } catch (err) {
    log.warn({ err }, 'could not move the retired copies kept by an earlier release into a folder of their own: '
      + 'each start looks at all of them for unfinished replacements');
  }
}

function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readHeaderBytes(path: string, size: number): Promise<Buffer> {
  const handle = await fs.open(path, 'r');
  try {
    const length = Math.min(size, HEADER_PROBE_BYTES);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, 0);
    return buf;
  } finally {
    await handle.close();
  }
}

/**
 * The archive: instance files in a {@link BlobStore}, attributes in an {@link ArchiveIndex}.
 * Duplicate policy: the same SOP Instance UID with the same data set (identical bytes, or another encoding of
 * it) is acknowledged without change; with other content in the same series, the new copy replaces the old one,
 * which is kept under retired/ (until RETIRED_RETENTION_DAYS) and a warning is returned; under another study or
 * series it is refused (0x0111).
 */
/**
 * A copy whose data set is the stored one's first bytes and no more is the stored copy cut short (a transfer that
 * broke off), not a correction: it must not replace it. A cut at an element boundary parses as a whole file, and only
 * image SOP classes can be told by a Type 1 element missing (Pixel Data, see validate); an SR, a KOS or an RTSTRUCT
 * cannot. The data sets are compared, not the files: the File Meta differs between copies that came by C-STORE
 * (mipseg writes it) and by STOW-RS. A re-send that drops trailing elements on purpose (padding) is refused too;
 * sent with anything else changed, it replaces as any correction does.
 */
function assertNotCutFrom(stored: Buffer, received: Buffer): void {
  let storedSet: Buffer;
  let receivedSet: Buffer;
  try {
    storedSet = stored.subarray(walkFileMeta(stored).dataSetOffset);
    receivedSet = received.subarray(walkFileMeta(received).dataSetOffset);
  } catch {
    return; // a File Meta that cannot be walked is the parse's to refuse
  }
  if (receivedSet.length < storedSet.length && storedSet.subarray(0, receivedSet.length).equals(receivedSet)) {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE',
      `truncated: the data set received is the first ${receivedSet.length} of the ${storedSet.length} bytes of the copy stored`);
  }
}

/** How many unreadable instances a deletion passes over to find one that sets the study's attributes again. */
const UNREADABLE_SOURCES_PASSED_OVER = 16;
/** What mipseg writes as results: its MIP (a PET image) and its SEG. */
const RESULT_SOP_CLASSES: ReadonlySet<string> = new Set([SopClass.PositronEmissionTomographyImageStorage, SopClass.SegmentationStorage]);
/** Larger than any result (a MIP of 4096 × 4096 16-bit pixels is 32 MiB; the DM i AI sized ones are under 1 MiB). */
export const RESULT_MAX_BYTES = 64 * 1024 * 1024;
/** Most instances whose adding store is remembered for a withdrawal (noteLatestStore). */
const LATEST_ADDING_STORES_KEPT = 10_000;

/** Instances of the study remain, but none of those tried could be read: its attributes stay as they are. */
const UNREADABLE = Symbol('unreadable');

export class Archive {
  private readonly listeners: InstanceStoredListener[] = [];
  private readonly activityListeners: Array<(studyInstanceUid: string) => void> = [];
  private freeSpaceFloor: FreeSpaceFloor | undefined;
  /**
   * Instances stored whose listeners failed (the sender was told the store failed): a re-send tells them again. Kept in
   * the index too: a restart before the re-send would otherwise answer it "unchanged" and tell no one, and a study
   * whose last instance it was would never be analysed.
   */
  private readonly unheard: Set<string>;
  private readonly deletionListeners: StudyDeletedFromListener[] = [];
  /** Per SOP Instance UID that a store added, that store while no other store of it has been answered (noteLatestStore). */
  private readonly latestAddingStore = new Map<string, symbol>();
  private readonly syncTargets: Array<() => Promise<void>> = [];
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly studies = new StudyGate();
  private readonly metadataFailures = new MetadataFailures();
  /** Metadata being computed, by copy (metadataKeyFor): see readMetadata. */
  private readonly metadataReadsInFlight = new Map<string, Promise<string>>();
  /** Where large files' metadata is read, off the event loop; its threads start at the first such read. */
  private readonly dicomJsonPool = new DicomJsonPool();
  /**
   * Stores, deletions and metadata writes under way, each with how settle() waits for it: `drain`, received instances
   * and the rest, also those that begin while it waits (a part a cut connection's handler finishes parsing); `snapshot`,
   * mipseg's own results, only those under way when it is called (analyses still running would otherwise keep adding).
   */
  private readonly inProgress = new Map<Promise<unknown>, 'drain' | 'snapshot'>();

  constructor(
    readonly blobs: BlobStore,
    readonly index: ArchiveIndex,
    private readonly log: Logger,
    private readonly lock?: DataDirLock,
  ) {
    this.unheard = new Set(index.unheardInstances());
  }

  /**
   * Opens the archive in `dataDir`, which this process then owns until {@link close}: the lock comes first,
   * since what follows (removing crash leftovers from tmp/) is only right when no other process is using it.
   */
  static async open(dataDir: string, log: Logger): Promise<Archive> {
    const lock = DataDirLock.acquire(dataDir);
    let index: SqliteArchiveIndex | undefined;
    try {
      const blobs = new FileBlobStore(dataDir);
      await blobs.init();
      const removed = await blobs.cleanTemp();
      if (removed) log.warn({ removed }, 'removed partial uploads left by an earlier crash');
      index = new SqliteArchiveIndex(join(dataDir, 'index.sqlite'));
      const archive = new Archive(blobs, index, log, lock);
      await archive.settleDeletionBags();
      // After the bags: a deletion of an earlier release put back puts its copies back in the earlier layout.
      await adoptEarlierRetiredLayout(blobs, log);
      await separatePatientsWithoutId(index, (instance) => archive.headerOf(instance), log);
      return archive;
    } catch (err) {
      index?.close();
      lock.release();
      throw err;
    }
  }

  /**
   * Refuses new instances (MIPSEG_STORAGE_FULL) while DATA_DIR's volume has fewer than `minFreeBytes` free
   * (MIN_FREE_DISK_BYTES; 0: never). A re-send of a stored instance is still answered "stored".
   */
  keepFree(minFreeBytes: number): void {
    this.freeSpaceFloor = new FreeSpaceFloor(() => this.blobs.freeBytes(), minFreeBytes);
  }

  /**
   * For an instance being received into a temp file: checks MIN_FREE_DISK_BYTES as its bytes are written (see
   * FreeSpaceFloor.receivingCheck); storeReceived checks it again, and counts the instance, once it is whole. Not up to
   * the size of a copy the archive holds of the instance: a re-send is still answered "stored" below the floor.
   */
  receivingFloorCheck(sopInstanceUid: string | undefined): ReceivingFloorCheck {
    const check = this.freeSpaceFloor?.receivingCheck();
    if (!check) return () => undefined;
    // Up to the stored copy's size: past it (a "replacement" far larger than the copy it names) the floor holds.
    const stored = sopInstanceUid === undefined ? undefined : this.index.findInstance(sopInstanceUid);
    return stored ? (received) => (received <= stored.size ? undefined : check(received)) : check;
  }

  onInstanceStored(listener: InstanceStoredListener): void {
    this.listeners.push(listener);
  }

  /** Listens for studies still arriving with nothing stored (see noteStudyActivity). */
  onStudyActivity(listener: (studyInstanceUid: string) => void): void {
    this.activityListeners.push(listener);
  }

  /**
   * Says that a study is still arriving although nothing of it was stored just now: an association that stored some
   * of it is still open (a PACS pausing between instances, a large instance on a slow link) or has just ended. Its
   * quiet period starts again, as at a store; nothing is written, so nothing here needs to be durable.
   */
  noteStudyActivity(studyInstanceUid: string): void {
    for (const listener of this.activityListeners) {
      try {
        listener(studyInstanceUid);
      } catch (err) {
        this.log.warn({ err, studyInstanceUid }, 'could not restart the quiet period of a study still arriving');
      }
    }
  }

  /** Makes the stores made with `deferDirSync` durable (their folders and index rows); run before acknowledging them. */
  async syncDeferred(): Promise<void> {
    await Promise.all([this.blobs.syncPendingDirs(), this.syncWrites()]);
  }

  /**
   * Also makes `target` durable wherever a store is acknowledged: what a store listener wrote elsewhere (the embedded
   * job runner's pending study check) must survive a power loss with the instance, or the study is never analysed.
   */
  syncAlso(target: () => Promise<void>): void {
    this.syncTargets.push(target);
  }

  private async syncWrites(): Promise<void> {
    await Promise.all([this.index.syncToDisk(), ...this.syncTargets.map((target) => target())]);
  }

  onDeletedFrom(listener: StudyDeletedFromListener): void {
    this.deletionListeners.push(listener);
  }

  /** Stores a received file (already on disk under tmp/); the temp file is consumed either way. */
  storeFromTemp(tempPath: string, options: StoreOptions = {}): Promise<StoreOutcome> {
    // Counted from here, not from the study gate: reading a large file's header comes first, and settle() must wait for it.
    return this.track(this.storeFromTempNow(tempPath, options), options.result === true ? 'snapshot' : 'drain');
  }

  private async storeFromTempNow(tempPath: string, options: StoreOptions): Promise<StoreOutcome> {
    try {
      const { size } = await fs.stat(tempPath);
      const bytes = await fs.readFile(tempPath);
      const sha256 = sha256Of(bytes);
      return await this.storeReceivedNow({ path: tempPath, size, sha256, head: bytes, dataSynced: false }, options);
    } catch (err) {
      await this.blobs.discardTemp(tempPath);
      return { status: 'failed', error: toMipsegError(err) };
    }
  }

  /**
   * Stores a file whose hash and first bytes the receiver computed while it streamed in (STOW), which
   * saves reading it again. The temp file is consumed either way.
   */
  storeReceived(file: ReceivedFile, options: StoreOptions = {}): Promise<StoreOutcome> {
    return this.track(this.storeReceivedNow(file, options), options.result === true ? 'snapshot' : 'drain');
  }

  private async storeReceivedNow(file: ReceivedFile, options: StoreOptions): Promise<StoreOutcome> {
    let header: InstanceHeader | undefined;
    try {
      header = await this.readHeader(file);
      this.validate(header, options);
      const h = header;
      // Not tracked again: the store as a whole is, as a result or not.
      return await this.studies.share(h.studyInstanceUid, () => this.serialised(h.sopInstanceUid,
        async () => this.noteLatestStore(await this.commit(h, file, options))));
    } catch (err) {
      await this.blobs.discardTemp(file.path);
      const error = toMipsegError(err);
      if (error.code === 'MIPSEG_INTERNAL') this.log.error({ err }, 'storing an instance failed');
      // The sender is told to try again later (503, 0xA700) and pointed at this log: the cause must be in it.
      else if (error.code === 'MIPSEG_STORAGE_BUSY') this.log.warn({ err: error.cause ?? err }, 'storing an instance failed for now; the sender may retry');
      const uids = header ? { sopClassUid: header.sopClassUid, sopInstanceUid: header.sopInstanceUid } : fileMetaUids(file.head);
      return { status: 'failed', error, ...uids };
    }
  }

  /**
   * Records which store answered last for an instance that a store added (StoreOutcome.added): a copy another sender was
   * since told is stored (a re-send answered "unchanged", two attempts of one result at once) is not withdrawn under it.
   */
  private noteLatestStore(outcome: StoreOutcome): StoreOutcome {
    if (outcome.status === 'failed') return outcome;
    const sop = outcome.header.sopInstanceUid;
    this.latestAddingStore.delete(sop);
    if (outcome.status === 'stored' && outcome.added) {
      this.latestAddingStore.set(sop, outcome.added.store);
      // Withdrawals follow their stores within seconds: the oldest entries are long past needing.
      if (this.latestAddingStore.size > LATEST_ADDING_STORES_KEPT) this.latestAddingStore.delete(this.latestAddingStore.keys().next().value as string);
    }
    return outcome;
  }

  private async readHeader(file: ReceivedFile): Promise<InstanceHeader> {
    const probe = file.head.length >= Math.min(file.size, HEADER_PROBE_BYTES) ? file.head : await readHeaderBytes(file.path, file.size);
    let header: InstanceHeader;
    try {
      header = parseInstanceHeader(probe, file.size);
    } catch (err) {
      if (file.size <= probe.length) throw err;
      header = parseInstanceHeader(await fs.readFile(file.path), file.size);
    }
    if (header.encapsulated) await assertEncapsulatedComplete(file.path, file.size);
    return header;
  }

  private validate(header: InstanceHeader, options: StoreOptions): void {
    if (!isSupportedStorageSopClass(header.sopClassUid)) {
      throw new MipsegError('MIPSEG_SOP_CLASS_NOT_SUPPORTED', header.sopClassUid);
    }
    const encoding = storableEncodingRefusal(header);
    if (encoding) throw encoding;
    // By STOW the File Meta is the client's own (an anonymiser may leave a stale one); by C-STORE it is written from
    // the command's Affected SOP Class and Instance UIDs. The words name each path's attribute by its keyword, within a
    // C-STORE ErrorComment's 64 characters. Two instance UIDs leave the instance's unknown (0xC000), which is no data
    // set failing its SOP class (0xA900).
    if (header.mediaStorageSopInstanceUid !== header.sopInstanceUid) {
      throw new MipsegError('MIPSEG_SOP_INSTANCE_UID_MISMATCH', 'SOPInstanceUID differs from MediaStorage/AffectedSOPInstanceUID');
    }
    if (header.mediaStorageSopClassUid !== header.sopClassUid) {
      throw new MipsegError('MIPSEG_SOP_CLASS_MISMATCH', 'SOPClassUID differs from MediaStorage/AffectedSOPClassUID');
    }
    // Type 1 in every image SOP class: an image without it is one cut short at an element boundary (no parse can
    // tell that from a whole file), and would replace a good copy with an empty one.
    if (IMAGE_SOP_CLASSES.has(header.sopClassUid) && !header.hasPixelData) {
      throw new MipsegError('MIPSEG_DICOM_MISSING_ATTRIBUTE', 'PixelData (7FE0,0010): the image has none (cut short?)');
    }
    const modalities = MODALITIES_BY_SOP_CLASS[header.sopClassUid];
    if (modalities && !modalities.includes(header.modality)) {
      throw new MipsegError('MIPSEG_SOP_CLASS_MISMATCH', `Modality "${header.modality}" in a ${modalities.join('/')} SOP class`);
    }
    if (options.expectedStudyUid && options.expectedStudyUid !== header.studyInstanceUid) {
      throw new MipsegError('MIPSEG_STUDY_MISMATCH', header.studyInstanceUid);
    }
  }

  private async commit(header: InstanceHeader, file: ReceivedFile, options: StoreOptions): Promise<StoreOutcome> {
    const { path: tempPath, size, sha256 } = file;
    const existing = this.index.findInstance(header.sopInstanceUid);
    const seriesStudy = this.index.findSeriesStudy(header.seriesInstanceUid);
    if (seriesStudy !== undefined && seriesStudy !== header.studyInstanceUid) {
      throw new MipsegError('MIPSEG_INSTANCE_CONFLICT', `series ${header.seriesInstanceUid} belongs to study ${seriesStudy}`);
    }
    if (existing && (existing.studyInstanceUid !== header.studyInstanceUid || existing.seriesInstanceUid !== header.seriesInstanceUid)) {
      throw new MipsegError('MIPSEG_INSTANCE_CONFLICT', `${header.sopInstanceUid} is stored in series ${existing.seriesInstanceUid}`);
    }
    if (options.besideSeries !== undefined && this.index.findSeriesStudy(options.besideSeries) !== header.studyInstanceUid) {
      throw new MipsegError('MIPSEG_NOT_FOUND', `series ${options.besideSeries} of study ${header.studyInstanceUid} (deleted: its result is not stored)`);
    }
    if (options.reindexStoredCopy && !(await this.stillHoldsCopy(header, sha256, existing, options.reindexStoredCopy))) {
      await this.blobs.discardTemp(tempPath);
      return { status: 'unchanged', header, replaced: false };
    }
    const place = options.onlyIfUnindexed;
    if (place) {
      // Checked here, in the study's gate and the instance's turn: a deletion or a store may have come between the
      // look at the index and now.
      assertHoldsPlace(header, place);
      if (existing || seriesStudy !== header.studyInstanceUid) {
        await this.blobs.discardTemp(tempPath);
        return { status: 'unchanged', header, replaced: false };
      }
    }
    // The stored copy stays, unless its file is gone or not the one indexed (a crash mid-replacement): then this copy
    // takes its place, and the instance can be read again.
    if (existing && (existing.sha256 === sha256 ? await this.storedFileIntact(existing) : await this.holdsSameDataSet(existing, tempPath, size))) {
      await this.blobs.discardTemp(tempPath);
      // A re-send changes nothing and tells no one, unless the listeners failed when it was stored (its study check
      // not recorded, after the row was written): the sender was told the store failed, and this is its retry.
      if (this.unheard.has(header.sopInstanceUid)) this.notifyStored(header);
      // The stored copy may be one a STOW request committed with its fsyncs left to the request's end, still to come:
      // this sender is told "stored" now, so what is pending is made durable first (little, or nothing, to do).
      if (options.deferDirSync !== true) await this.syncDeferred();
      return { status: 'unchanged', header, replaced: false };
    }
    if (!this.isResultPastFloor(header, size, options)) await this.freeSpaceFloor?.assertRoomFor(size);
    const storageKey = storageKeyFor(header.studyInstanceUid, header.seriesInstanceUid, header.sopInstanceUid);
    // A replacement's study attributes are merged with the study's other series (a correction of a PET slice does not
    // clear the AccessionNumber its CT carries): their sources are read before anything changes.
    const others = existing ? await this.seriesSourceHeaders(header.studyInstanceUid, {}, header.seriesInstanceUid) : [];
    // Of the patient the copy names (a corrected PatientID moves the study), not the one it is filed under now.
    const ofPatient = existing ? await this.patientHeaderWithout(header.studyInstanceUid, patientKeyOf(header)) : undefined;
    // Named by the bytes it keeps, as a look for unfinished replacements reads them: the copy a repair indexes again
    // (reindexStoredCopy) is not the one its row named, but the one it names now, and needs no second look.
    const retiredAs = options.reindexStoredCopy ? 'reindexed' : existing?.sha256.slice(0, 16);
    const retired = existing ? await this.blobs.retire(existing.storageKey, String(retiredAs)) : undefined;
    try {
      await this.blobs.publish(tempPath, storageKey, { dataSynced: file.dataSynced, deferDirSync: options.deferDirSync === true });
      this.index.putInstance(header, { storageKey, size, sha256 },
        existing ? 'replacement' : seriesStudy !== undefined ? 'in-known-series' : 'new-series', others, ofPatient ? [ofPatient] : []);
    } catch (err) {
      await this.unpublish(storageKey, retired);
      throw err;
    }
    // Told at once, with the row committed: a process killed during anything slower (the clean-up below) would leave a
    // stored copy whose study check was never recorded, and the sender's re-send is answered "unchanged".
    this.notifyStored(header);
    // The replaced copy's cached metadata would otherwise stay beside the new copy for good, with the attributes
    // (a patient's name, say) the replacement corrected.
    if (existing) await this.removeCachedMetadata(header.studyInstanceUid, header.seriesInstanceUid, header.sopInstanceUid);
    if (retired) this.log.warn({ sopInstanceUid: header.sopInstanceUid, retired }, 'instance replaced by a different copy');
    else if (existing) this.log.warn({ sopInstanceUid: header.sopInstanceUid }, 'the file of a stored instance was missing: the copy received takes its place');
    // After the listeners (what they wrote is synced too), outside the undo above: the row is committed, and an
    // fsync that fails must not take away its file.
    if (options.deferDirSync !== true) await this.syncWrites();
    return { status: 'stored', header, replaced: retired !== undefined, ...(existing ? {} : { added: { sha256, store: Symbol(header.sopInstanceUid) } }) };
  }

  /**
   * Whether an instance said to be mipseg's own result (StoreOptions.result) is one, as far as the archive can tell:
   * a MIP (PET) or a SEG, of a result's size, into a study already stored. A client that says so of anything else
   * (the STOW header is a client's word) meets the floor like any other instance.
   */
  private isResultPastFloor(header: InstanceHeader, size: number, options: StoreOptions): boolean {
    return options.result === true && RESULT_SOP_CLASSES.has(header.sopClassUid) && size <= RESULT_MAX_BYTES
      && this.index.findRepresentativeInstance({ studyUid: header.studyInstanceUid }) !== undefined;
  }

  private notifyStored(header: InstanceHeader): void {
    try {
      for (const listener of this.listeners) listener(header);
    } catch (err) {
      this.unheard.add(header.sopInstanceUid);
      try {
        this.index.setUnheard(header.sopInstanceUid, true);
      } catch (recordErr) {
        // The same full or failing volume, likely: the in-memory record still serves a re-send before a restart.
        this.log.warn({ err: recordErr, sopInstanceUid: header.sopInstanceUid }, 'could not record that a stored instance\'s study check failed');
      }
      // A failure the sender can mend by sending again (0xA700, 503; not 0x0110, which senders take as final): the
      // instance is stored, and its re-send tells the listeners again (see commit).
      const error = toMipsegError(err);
      throw error.code === 'MIPSEG_INTERNAL'
        ? new MipsegError('MIPSEG_STORAGE_BUSY', `stored, but its study check could not be recorded (${error.message})`, { cause: err })
        : error;
    }
    if (!this.unheard.delete(header.sopInstanceUid)) return;
    try {
      this.index.setUnheard(header.sopInstanceUid, false);
    } catch (err) {
      // Heard now; a stale record only tells the listeners once more at a later re-send, which they take as a no-op.
      this.log.warn({ err, sopInstanceUid: header.sopInstanceUid }, 'could not clear the record of a failed study check');
    }
  }

  /**
   * Whether a copy with other bytes is the stored instance re-encoded: other File Meta (a STOW-RS client's, or the
   * one written for a C-STORE association), another little-endian transfer syntax, other sequence lengths. Such a
   * re-send keeps the stored copy, as an identical one does; replacing it would analyse the study again.
   */
  private async holdsSameDataSet(existing: StoredInstance, tempPath: string, size: number): Promise<boolean> {
    // Both copies are read whole to compare them: past this size the new copy replaces the stored one unread, as
    // before, rather than hold two large multi-frame instances in memory per association.
    if (existing.size > SAME_DATA_SET_MAX_BYTES || size > SAME_DATA_SET_MAX_BYTES) return false;
    let stored: Buffer;
    let received: Buffer;
    try {
      [stored, received] = await Promise.all([this.blobs.read(existing.storageKey), fs.readFile(tempPath)]);
    } catch {
      return false; // the stored file cannot be read: the new copy replaces it
    }
    // Read once for both questions: is the stored file the one indexed (see storedFileIntact), and the same data set.
    if (sha256Of(stored) !== existing.sha256) return false;
    assertNotCutFrom(stored, received);
    const same = sameDataSet(stored, received);
    if (same) this.log.debug({ sopInstanceUid: existing.sopInstanceUid }, 'instance sent again in another encoding; the stored copy is kept');
    return same;
  }

  /**
   * Undoes a publish that failed (ENOSPC, say) or whose index row could not be written (SQLITE_FULL), so that the
   * files agree with the index again: the copy the index still lists goes back in place, and a new instance's
   * file, which nothing lists, is removed (else it would lie in instances/ unseen until the sender re-sent it).
   */
  private async unpublish(storageKey: string, retired: string | undefined): Promise<void> {
    try {
      // A replaced copy lived at the same key: its study, series and UID are the new one's.
      if (retired) await this.blobs.restore(retired, storageKey);
      else await this.blobs.remove(storageKey);
    } catch (err) {
      this.log.error({ err, storageKey }, 'could not undo a store whose index write failed: the file and the index disagree');
    }
  }

  /** Runs `fn` after any other store of the same SOP Instance UID has finished. */
  private async serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    this.locks.set(key, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(key) === next) this.locks.delete(key);
    }
  }

  /**
   * The instance files under instances/ that no row lists, in series the index knows: one published by a store whose
   * process ended before its row was written (its sender was never told "stored", and may not send it again), one
   * stored into a known series after the index backup an administrator restored (README, Backup) — or one an earlier
   * release failed to remove when it deleted the instance, which must not come back by itself. So by default they are
   * only counted (`unlisted`, the first few named in `examples`) for the log; with `index`, which an administrator asks
   * for (`mipseg serve --index-unlisted-files`), each is stored as a received copy would be (the same checks, its study
   * checked for analysis), only where the file holds the instance its place names and that instance still has no row
   * in a series still there when its turn comes (see commit). Nothing is removed. Files of a series or study the index
   * does not know are left alone either way: a study deleted for privacy must not come back. `stop` ends it before
   * its next file.
   */
  async findUnlistedFiles(options: { index: boolean; stop?: AbortSignal }): Promise<UnlistedFiles> {
    const found = { unlisted: 0, indexed: 0, refused: 0, examples: [] as string[] };
    for await (const key of this.blobs.listInstanceKeys(options.stop)) {
      if (options.stop?.aborted) break;
      const [, study, series, name] = key.split('/') as [string, string, string, string];
      const sop = name.slice(0, -'.dcm'.length);
      if (this.index.findSeriesStudy(series) !== study || this.index.findInstance(sop) !== undefined) continue;
      found.unlisted++;
      if (found.examples.length < UNLISTED_EXAMPLES) found.examples.push(key);
      if (!options.index) continue;
      const outcome = await this.indexUnlisted(key, { study, series, sop });
      if (outcome === 'indexed') found.indexed++;
      else if (outcome === 'refused') found.refused++;
    }
    return found;
  }

  /**
   * Finds the replacements a process did not finish and writes their index rows again from the files in place. A
   * replacement keeps the old copy under retired/ (a second name of its file), renames the new copy into place, then
   * writes the row: a kill between the rename and the row leaves the new bytes under the old copy's row (QIDO and the
   * cached metadata tell of one copy, a retrieve and an analysis read the other), and a power loss can keep the row
   * but not the rename. Only an instance with a retired copy can be in either state, so only those are looked at:
   * one whose retired copy is still the file in place while its row names other bytes, or whose row names a retired
   * copy's bytes while the file in place is another (hashed to tell: an instance replaced back to an earlier copy is
   * fine). Its file is then stored again as a received copy would be, its study checked again: the index follows the
   * file. The sender of an unfinished replacement was never told "stored", and a re-send finds it stored. Copies
   * retired before the last complete look (less a day: RETIRED_LOOKED_AT) are passed over, so a start does not hash
   * years of them again, nor list them (retired/ is by day, and the folders of days before are not read); the instances a look could not mend are looked at again at each start (REPAIRS_OUTSTANDING).
   * `stop` ends it before its next file.
   */
  async repairInterruptedReplacements(options: { stop?: AbortSignal; outstandingMax?: number } = {}): Promise<InterruptedReplacements> {
    const startedAt = Date.now();
    const mark = Number(this.index.metaValue(RETIRED_LOOKED_AT) ?? 0);
    const carried = this.outstandingRepairs();
    // A mark ahead of now was set while the clock ran fast: it says nothing of what was retired once it was set right.
    // And without the list of those not yet mended, only a look at every copy finds them again.
    const since = (carried === undefined || mark > startedAt ? 0 : mark) - RETIRED_LOOK_MARGIN_MS;
    const look = { checked: new Set<string>(), settled: new Set<string>(), outstanding: new Set<string>(), repaired: 0, failed: 0, examples: [] as string[] };
    // First those no earlier look could mend, whose retired copies pruning may since have removed.
    for (const sop of carried ?? []) {
      if (options.stop?.aborted) break;
      const row = this.index.findInstance(sop);
      if (row) await this.lookAt(row, look, () => this.fileStateOf(row));
    }
    // Only the day folders from the mark's on are read: a start with nothing retired since reads one or two folders.
    for await (const retiredKey of this.blobs.listRetiredKeys(options.stop, since)) {
      if (options.stop?.aborted) break;
      const row = this.rowOfRetiredCopy(retiredKey, since);
      if (row && !look.settled.has(row.sopInstanceUid)) await this.lookAt(row, look, () => this.replacementStateAt(row, retiredKey), retiredKey);
    }
    // An aborted look records nothing: the next start looks again from the same mark, at the same outstanding ones.
    if (!options.stop?.aborted) this.recordLook(startedAt, look.outstanding, new Set(carried), options.outstandingMax ?? REPAIRS_OUTSTANDING_MAX);
    return { checked: look.checked.size, repaired: look.repaired, failed: look.failed, examples: look.examples };
  }

  /** The instances earlier looks could not mend; undefined where that record cannot be read. */
  private outstandingRepairs(): string[] | undefined {
    try {
      const value: unknown = JSON.parse(this.index.metaValue(REPAIRS_OUTSTANDING) ?? '[]');
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
    } catch {
      // Said below, as a value of the wrong shape is.
    }
    this.log.warn({ key: REPAIRS_OUTSTANDING }, 'the record of replacements not yet mended cannot be read: every retired copy is looked at');
    return undefined;
  }

  /**
   * Records a complete look: its mark, and the instances it could not mend, those found by this look first. Past
   * `max` of them the mark stays where it was, so that the next look finds again, by their retired copies, those the
   * list has no room for.
   */
  private recordLook(startedAt: number, outstanding: ReadonlySet<string>, carried: ReadonlySet<string>, max: number): void {
    const list = [...[...outstanding].filter((sop) => !carried.has(sop)), ...[...outstanding].filter((sop) => carried.has(sop))];
    if (list.length > max) {
      this.log.error({ outstanding: list.length, listed: max }, 'more instances with unfinished replacements than can be listed: '
        + 'each start looks at every copy retired since the last look that listed them all');
    } else {
      this.index.setMetaValue(RETIRED_LOOKED_AT, String(startedAt));
    }
    this.index.setMetaValue(REPAIRS_OUTSTANDING, JSON.stringify(list.slice(0, max)));
  }

  /**
   * Looks at one instance for repairInterruptedReplacements, mending it where `state` says its replacement did not
   * finish, or putting back its file from `retiredKey` where the file is gone and that copy holds the bytes the row names.
   */
  private async lookAt(row: StoredInstance, look: ReplacementLook, state: () => Promise<ReplacementState>, retiredKey?: string): Promise<void> {
    const sop = row.sopInstanceUid;
    look.checked.add(sop);
    const found = await state();
    if (found === 'whole') return;
    look.settled.add(sop);
    const outcome = found === 'interrupted' ? await this.reindexStoredFile(row)
      : found === 'file-missing' && retiredKey !== undefined && await this.restoreFromRetired(row, retiredKey) ? 'repaired'
        : this.reportUnreadableFile(row, found);
    if (outcome === 'unchanged') return;
    look[outcome]++;
    if (outcome === 'failed') look.outstanding.add(sop);
    if (look.examples.length < UNLISTED_EXAMPLES) look.examples.push(sop);
  }

  /**
   * Puts a retired copy back in place of an instance's file that is gone, where that copy holds the very bytes the row
   * names (an instance replaced back to an earlier copy keeps one): checked whole, in the study's gate and the
   * instance's turn, so that no deletion or store since is undone.
   */
  private async restoreFromRetired(row: StoredInstance, retiredKey: string): Promise<boolean> {
    if (!rowNamesRetiredCopy(row, retiredKey)) return false;
    const restored = await this.inStudyGate('share', row.studyInstanceUid, () => this.serialised(row.sopInstanceUid, async () => {
      if (!this.isStillStored(row) || await this.blobs.exists(row.storageKey)) return false;
      if ((await this.storedFileSha256(retiredKey).catch(() => undefined)) !== row.sha256) return false;
      await this.blobs.restore(retiredKey, row.storageKey);
      return true;
    }));
    if (restored) this.log.warn({ storageKey: row.storageKey, sopInstanceUid: row.sopInstanceUid, retiredKey }, 'the file of an instance was gone: put back from its retired copy, which holds the bytes its row names');
    return restored;
  }

  /**
   * The index row of the instance a retired copy was kept from, while the row still places it where the copy came from;
   * undefined for a copy retired before `since` (looked at by an earlier start).
   */
  private rowOfRetiredCopy(retiredKey: string, since: number): StoredInstance | undefined {
    const retired = parseRetiredKey(retiredKey);
    if (!retired || retired.retiredAt < since) return undefined;
    const row = this.index.findInstance(basename(retired.key).slice(0, -'.dcm'.length));
    return row?.storageKey === retired.key ? row : undefined;
  }

  /** Whether an unfinished replacement, which this retired copy of it shows, left the file in place other than its row. */
  private async replacementStateAt(row: StoredInstance, retiredKey: string): Promise<ReplacementState> {
    const size = await this.sizeInPlace(row);
    if (typeof size !== 'number') return size;
    const rowNamesRetired = rowNamesRetiredCopy(row, retiredKey);
    const retiredInPlace = await this.blobs.sameFile(retiredKey, row.storageKey);
    // The file in place is the retired one and the row its: stopped before the rename, and nothing changed.
    if (retiredInPlace && rowNamesRetired) return 'whole';
    // A finished replacement: its own file in place. Where retire() had to copy (no hard links on the volume), a file
    // that lost its rename is not the retired one either, and only its size can tell it cheaply.
    if (!retiredInPlace && !rowNamesRetired && size === row.size) return 'whole';
    return (await this.storedFileIntact(row)) ? 'whole' : 'interrupted';
  }

  /** Whether the file in place is the one the row names (hashed), without a retired copy to go by. */
  private async fileStateOf(row: StoredInstance): Promise<ReplacementState> {
    const size = await this.sizeInPlace(row);
    if (typeof size !== 'number') return size;
    return (await this.storedFileIntact(row)) ? 'whole' : 'interrupted';
  }

  /** The size of an instance's file in place, or why there is none to read. */
  private async sizeInPlace(row: StoredInstance): Promise<number | 'file-missing' | 'file-unreadable'> {
    try {
      return await this.blobs.size(row.storageKey);
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file-missing' : 'file-unreadable';
    }
  }

  /**
   * An instance whose file is gone or cannot be read, which no repair here can mend: said at each start until it is
   * mended. Unless the row went too (its study deleted while the look read it): then there is nothing to say.
   */
  private reportUnreadableFile(row: StoredInstance, state: 'file-missing' | 'file-unreadable'): 'failed' | 'unchanged' {
    if (!this.isStillStored(row)) return 'unchanged';
    this.log.error({ storageKey: row.storageKey, sopInstanceUid: row.sopInstanceUid }, state === 'file-missing'
      ? 'the file of an instance with a replacement is missing: left as it is, looked at again at each start'
      : 'the file of an instance with a replacement cannot be read: left as it is, looked at again at each start');
    return 'failed';
  }

  /** Stores an instance's file in place again, to write its row from it (repairInterruptedReplacements). */
  private async reindexStoredFile(row: StoredInstance): Promise<'repaired' | 'failed' | 'unchanged'> {
    const place = { study: row.studyInstanceUid, series: row.seriesInstanceUid, sop: row.sopInstanceUid };
    let outcome: StoreOutcome;
    try {
      outcome = await this.storeFromTemp(await this.blobs.copyToTemp(row.storageKey), { reindexStoredCopy: place });
    } catch (err) {
      outcome = { status: 'failed', error: toMipsegError(err) };
    }
    if (outcome.status === 'stored') {
      this.log.warn({ storageKey: row.storageKey, sopInstanceUid: row.sopInstanceUid },
        'a replacement the process did not finish: the index row is written again from the file in place');
      return 'repaired';
    }
    // Deleted (its study) while the look read it: nothing is left to mend.
    if (outcome.status === 'failed' && this.index.findInstance(row.sopInstanceUid) !== undefined) {
      this.log.error({ storageKey: row.storageKey, code: outcome.error.code, err: outcome.error.message },
        'the file of an instance whose replacement did not finish cannot be stored: its index row names other bytes');
      return 'failed';
    }
    return 'unchanged';
  }

  /**
   * Whether a copy taken to write an instance's row again (StoreOptions.reindexStoredCopy) is still what a row of that
   * instance lies on: a re-send or deletion since the copy was taken goes first, and a file that holds another instance
   * than its place names is refused.
   */
  private async stillHoldsCopy(header: InstanceHeader, sha256: string, existing: StoredInstance | undefined, place: UnlistedPlace): Promise<boolean> {
    assertHoldsPlace(header, place);
    return existing !== undefined && existing.storageKey === storageKeyFor(place.study, place.series, place.sop)
      && (await this.storedFileSha256(existing.storageKey)) === sha256;
  }

  /** Stores one unlisted file (findUnlistedFiles); a file that cannot even be copied is refused, and the run goes on. */
  private async indexUnlisted(key: string, expected: UnlistedPlace): Promise<'indexed' | 'refused' | 'skipped'> {
    let outcome: StoreOutcome;
    try {
      outcome = await this.storeFromTemp(await this.blobs.copyToTemp(key), { onlyIfUnindexed: expected });
    } catch (err) {
      outcome = { status: 'failed', error: toMipsegError(err) };
    }
    if (outcome.status === 'stored') {
      this.log.warn({ storageKey: key, sopInstanceUid: expected.sop }, 'indexed an instance file that no index row listed');
      return 'indexed';
    }
    if (outcome.status === 'failed') {
      this.log.error({ storageKey: key, code: outcome.error.code, err: outcome.error.message },
        'an instance file that no index row lists cannot be stored: left where it is');
      return 'refused';
    }
    return 'skipped';
  }

  /**
   * Deletes a study: its index rows (and its patient's, when no other study has that patient), its files with
   * their cached metadata, and the copies of its instances that replacements moved to retired/, since a study
   * deleted for privacy must leave none behind. Stores of the study in progress finish first; stores arriving
   * meanwhile run after it. Returns how many instances it held; undefined when the study is not known.
   * Files and rows go together, across a failure or a crash (see deleteWithFiles).
   */
  async deleteStudy(studyUid: string): Promise<number | undefined> {
    const uid = assertUid(studyUid);
    return this.inStudyGate('exclusive', uid, async () => {
      if (this.index.findRepresentativeInstance({ studyUid: uid }) === undefined) return undefined;
      const patientAfter = await this.patientHeaderWithout(uid);
      const retired = (await this.blobs.listRetiredFolders()).map((folder) => ({ folder: join(folder, uid) }));
      return this.deleteWithFiles({ study: uid }, [{ folder: join('instances', uid) }, ...retired],
        () => this.index.deleteStudy(uid, patientAfter));
    });
  }

  /**
   * Deletes one series of a study as deleteStudy deletes a study: rows (the study's and patient's too when it was
   * the last series), files with their cached metadata, retired copies. Undefined when the study has no such series.
   */
  async deleteSeries(studyUid: string, seriesUid: string): Promise<number | undefined> {
    const study = assertUid(studyUid);
    const series = assertUid(seriesUid);
    return this.inStudyGate('exclusive', study, () => this.deleteSeriesOfHeldStudy(study, series));
  }

  /** deleteSeries's work, inside the study's gate. */
  private async deleteSeriesOfHeldStudy(study: string, series: string): Promise<number | undefined> {
    const remaining = await this.remainingHeaders(study, { seriesUid: series });
    const kept = remaining !== undefined;
    // The study's last series: the study's rows go with it, and its patient, if other studies keep it, is set from those.
    const patientAfter = kept ? undefined : await this.patientHeaderWithout(study);
    // The study's folders when no other series had an instance: its last series goes (and its rows with it).
    const within = kept ? [study, series] : [study];
    const folders = ['instances', ...await this.blobs.listRetiredFolders()].map((top) => join(top, ...within));
    return this.deleteWithFiles({ study, series }, folders.map((folder) => ({ folder })), () =>
      this.index.deleteSeries(study, series, remaining === UNREADABLE ? undefined : remaining ?? (patientAfter && { patientAfter })));
  }

  /**
   * Takes out what was stored of a result (a MIP and its SEG, mipseg's own) not stored whole (an instance failed, or the
   * request was cut): half a result would stay in the study for good, a series no job lists, exports or replaces. Its
   * UIDs are the job's own, so a retry stores the whole result again under them. Only instances these stores added are
   * taken out, and only while no other store of them has been answered (checked in the study's gate): a copy that was
   * there before (an earlier attempt's whole result, anything a client sending RESULT_HEADER names), or that another
   * store has since put in its place or been told is stored, stays. What cannot be taken out is logged; the store's
   * failure is what the caller reports.
   * @returns the SOP Instance UIDs taken out.
   */
  async withdrawResult(outcomes: readonly StoreOutcome[]): Promise<Set<string>> {
    const withdrawn = new Set<string>();
    for (const outcome of outcomes) {
      if (outcome.status !== 'stored' || !outcome.added) continue;
      const h = outcome.header;
      const { sha256, store } = outcome.added;
      try {
        if (await this.deleteInstance(h.studyInstanceUid, h.seriesInstanceUid, h.sopInstanceUid,
          { onlyIf: (instance) => instance.sha256 === sha256 && this.latestAddingStore.get(h.sopInstanceUid) === store })) {
          this.latestAddingStore.delete(h.sopInstanceUid);
          withdrawn.add(h.sopInstanceUid);
          this.log.warn({ studyInstanceUid: h.studyInstanceUid, sopInstanceUid: h.sopInstanceUid },
            'instance of a result not stored whole taken out again');
        }
      } catch (err) {
        this.log.error({ err, sopInstanceUid: h.sopInstanceUid }, 'could not take out an instance of a result not stored whole');
      }
    }
    return withdrawn;
  }

  /**
   * Deletes one instance (a duplicate slice that keeps its series from being analysed, say) as deleteSeries deletes
   * a series: its row, its file with its cached metadata, its retired copies; the series and study with it when it
   * was their last instance. False when the series has no such instance (none `onlyIf` holds for, asked in the
   * study's gate, where no store can come between).
   */
  async deleteInstance(studyUid: string, seriesUid: string, sopInstanceUid: string,
    options: { readonly onlyIf?: (instance: StoredInstance) => boolean } = {}): Promise<boolean> {
    const study = assertUid(studyUid);
    const series = assertUid(seriesUid);
    const sop = assertUid(sopInstanceUid);
    return this.inStudyGate('exclusive', study, async () => {
      const instance = this.index.findInstance(sop);
      if (!instance || instance.studyInstanceUid !== study || instance.seriesInstanceUid !== series) return false;
      if (options.onlyIf && !options.onlyIf(instance)) return false;
      const inStudy = this.index.listInstances({ studyUid: study });
      if (!inStudy.some((i) => i.seriesInstanceUid === series && i.sopInstanceUid !== sop)) {
        return (await this.deleteSeriesOfHeldStudy(study, series)) !== undefined;
      }
      const found = await this.remainingHeaders(study, { sopInstanceUid: sop });
      if (!found) return false;
      // The series' attributes again too, from its newest remaining instance: the deleted one may have set them.
      const seriesSource = found === UNREADABLE ? undefined : await this.seriesSourceHeader(series, sop);
      const remaining = found === UNREADABLE || !seriesSource ? found : { ...found, series: seriesSource };
      const names = instanceFileNames(sop);
      const moves = [
        { folder: join('instances', study, series), matches: (name: string) => names.file.test(name) || names.cachedMetadata.test(name) },
        ...(await this.blobs.listRetiredFolders()).map((top) => ({ folder: join(top, study, series), matches: (name: string) => names.retired.test(name) })),
      ];
      const deleted = await this.deleteWithFiles({ study, series, sop }, moves,
        () => (this.index.deleteInstance(study, sop, remaining === UNREADABLE ? undefined : remaining) ? true : undefined));
      return deleted === true;
    });
  }

  /**
   * A deletion's files and rows, as one step that survives a crash: the files are first moved into a bag under
   * trash/ (renames, out of readers' sight at once), then the rows go (`commit`, one transaction), then the bag is
   * marked deleted and emptied. A commit that fails or finds nothing puts the files back. A bag left by a crash or a
   * failed removal is settled at the next start (settleDeletionBags): emptied where its rows are gone, else put back.
   * Before, the files were removed after the rows, and one that could not be (or a crash between) stayed for good,
   * unseen and unlisted — in a study deleted for privacy.
   */
  private async deleteWithFiles<T>(target: DeletionTarget, moves: ReadonlyArray<{ folder: string; matches?: (name: string) => boolean }>,
    commit: () => T | undefined): Promise<T | undefined> {
    const fields = deletionFields(target);
    // With the target's rows as they are now: at the next start, the same rows mean the deletion did not commit.
    const rows = this.index.rowsSummary(target);
    const stamp = `${Date.now()}-${randomUUID().slice(0, 8)}-${rows.latestReceivedAt}-${rows.count}`;
    const pending = bagName('pending', target, stamp);
    let result: T | undefined;
    try {
      for (const { folder, matches } of moves) await this.blobs.moveIntoBag(pending, folder, matches);
      result = commit();
    } catch (err) {
      await this.putBack(pending, fields);
      throw err;
    }
    if (result === undefined) {
      await this.putBack(pending, fields);
      return undefined;
    }
    for (const listener of this.deletionListeners) {
      // The rows are gone whatever a listener does: its failure must not leave the files in a pending bag.
      try {
        listener(target.study);
      } catch (err) {
        this.log.error({ err, ...fields }, 'a listener told of a deletion failed');
      }
    }
    // The rows' deletion on disk before the bag is marked deleted: after a power loss the rows must not come back
    // beside files already removed. If it cannot be synced, the bag stays pending for the next start to settle.
    try {
      await this.index.syncToDisk();
    } catch (err) {
      this.log.error({ err, ...fields, bag: pending }, 'the deletion is not yet on disk: its files are settled at the next start');
      return result;
    }
    const deleted = bagName('deleted', target, stamp);
    try {
      await this.blobs.renameBag(pending, deleted);
    } catch (err) {
      // Left "pending", a re-send of the study before the next start would have its rows make the start put the
      // deleted files back: the bag goes now, while nothing can be stored into the study (the gate is held).
      this.log.warn({ err, ...fields, bag: pending }, 'could not mark a deletion\'s files deleted; removing them at once');
      await this.emptyBagLogged(pending, fields);
      return result;
    }
    await this.emptyBagLogged(deleted, fields);
    return result;
  }

  private async emptyBagLogged(bag: string, fields: Record<string, string>): Promise<void> {
    try {
      await this.blobs.emptyBag(bag);
    } catch (err) {
      this.log.error({ err, ...fields, bag }, 'deleted files could not all be removed yet: the next start removes them');
    }
  }

  /** Puts a deletion's files back after it failed; what cannot be is logged, and the next start tries again. */
  private async putBack(bag: string, fields: Record<string, string>): Promise<void> {
    try {
      await this.blobs.restoreBag(bag);
    } catch (err) {
      this.log.error({ err, ...fields, bag }, 'files of a deletion that failed could not be put back yet: the next start does');
    }
  }

  /**
   * Settles the deletion bags an earlier process left (see deleteWithFiles): one marked deleted, or whose rows are
   * gone, is emptied; one whose rows are still there (the process stopped before its commit) is put back.
   */
  private async settleDeletionBags(): Promise<void> {
    for (const name of await this.blobs.listBags()) {
      const bag = parseBagName(name);
      const gone = bag === undefined || bag.state === 'deleted' || !this.stillIndexed(bag);
      const fields = bag ? deletionFields(bag.target) : {};
      try {
        if (gone) await this.blobs.emptyBag(name);
        else await this.blobs.restoreBag(name);
        this.log.warn({ ...fields, bag: name }, gone ? 'removed the files of a deletion an earlier process left unfinished'
          : 'put back the files of a deletion that an earlier process did not complete');
      } catch (err) {
        this.log.error({ err, ...fields, bag: name }, 'could not settle the files of an earlier deletion: the next start tries again');
      }
    }
  }

  /**
   * Whether the target still has the rows it had when its bag was made (as many, received no later than its newest
   * then): its deletion did not commit, and the files go back. Fewer are a re-send after a deletion that did commit
   * (a bag left pending by a failed sync): putting the bag back would bring back the files that were not sent again.
   * Counted, not judged by the bag's time, which NTP may have stepped either way. A bag of an earlier release, without
   * its rows' summary, is judged by the rows received before it was made.
   */
  private stillIndexed(bag: ParsedBag): boolean {
    if (!bag.rows) return this.index.rowsSummary(bag.target, bag.madeAt - 1).count > 0;
    // All the rows it had are still there, whatever was stored beside them since (a deletion that failed, and whose
    // files could not be put back, leaves the study open to new series until the next start).
    return bag.rows.count > 0 && this.index.rowsSummary(bag.target, bag.rows.latestReceivedAt).count === bag.rows.count;
  }

  /**
   * The headers that set a study's and its patient's attributes once `gone` is deleted (RemainingHeaders); undefined
   * when nothing of the study remains. The patient's is read only where it comes from another study of the patient.
   */
  private async remainingHeaders(study: string, gone: { seriesUid?: string; sopInstanceUid?: string }):
    Promise<RemainingHeaders | typeof UNREADABLE | undefined> {
    const source = await this.readableAttributeSource(study, gone);
    if (source === undefined || source === UNREADABLE) return source;
    const { kept, header } = source;
    const ofPatient = this.index.attributeSource({ studyUid: study, patientKey: patientKeyOf(header) }, gone);
    // Read without holding that other study's gate: were it being deleted meanwhile, this deletion goes on with the
    // study's own instance setting the patient, as before.
    const patient = ofPatient && ofPatient.sopInstanceUid !== kept.sopInstanceUid
      ? await this.headerOrLogged(ofPatient, "another study's instance could not be read; the patient is set from this study") : undefined;
    const others = await this.seriesSourceHeaders(study, gone, kept.seriesInstanceUid);
    return { study: header, ...(patient ? { patient } : {}), ...(others.length ? { others } : {}) };
  }

  /** The header of a series' newest instance but `goneSop`; undefined where it cannot be read (logged): the row stays. */
  private async seriesSourceHeader(series: string, goneSop: string): Promise<InstanceHeader | undefined> {
    const source = this.index.sourceOfSeries(series, goneSop);
    return source && this.headerOrLogged(source, "a series' instance could not be read; its series' attributes stay as they were");
  }

  /**
   * The headers of the study's series' attribute sources (ArchiveIndex.seriesSources), newest first, but for
   * `exceptSeriesUid` and what `gone` names. A file that cannot be read is left out, logged: a merge without it
   * is better than a store or deletion refused.
   */
  private async seriesSourceHeaders(study: string, gone: { seriesUid?: string; sopInstanceUid?: string }, exceptSeriesUid: string):
    Promise<InstanceHeader[]> {
    const headers: InstanceHeader[] = [];
    for (const source of this.index.seriesSources(study, gone, exceptSeriesUid)) {
      const header = await this.headerOrLogged(source, "a series' instance could not be read; the study's attributes are merged without it");
      if (header) headers.push(header);
    }
    return headers;
  }

  /**
   * The study's attribute source once `gone` is deleted and its header; undefined when nothing of the study remains.
   * A source whose file cannot be read (lost under its row) is passed over for the next, and where none can be read
   * (UNREADABLE) the deletion leaves the study's attributes as they are: an administrator clearing up after a disk
   * fault must be able to delete, not be answered 500 for ever.
   */
  private async readableAttributeSource(study: string, gone: { seriesUid?: string; sopInstanceUid?: string }):
    Promise<{ kept: StoredInstance; header: InstanceHeader } | typeof UNREADABLE | undefined> {
    for (let skip = 0; skip < UNREADABLE_SOURCES_PASSED_OVER; skip++) {
      const kept = this.index.attributeSource({ studyUid: study }, gone, skip);
      if (!kept) return skip === 0 ? undefined : UNREADABLE;
      try {
        return { kept, header: await this.headerOf(kept) };
      } catch (err) {
        this.log.warn({ err, sopInstanceUid: kept.sopInstanceUid }, "an instance's file could not be read to set its study's attributes again");
      }
    }
    return UNREADABLE;
  }

  /**
   * The header that sets a study's patient once the study is deleted, from the patient's other studies; undefined
   * when there are none, or none of their files can be read (the patient is then left as it was, the deletion going on).
   */
  private async patientHeaderWithout(study: string, patientKey?: string): Promise<InstanceHeader | undefined> {
    for (let skip = 0; skip < UNREADABLE_SOURCES_PASSED_OVER; skip++) {
      const source = this.index.patientSourceWithout(study, skip, patientKey);
      if (!source) return undefined;
      const header = await this.headerOrLogged(source, "another study's instance could not be read to set its patient's attributes again");
      if (header) return header;
    }
    return undefined;
  }

  /** An instance's header, or undefined where its file cannot be read: logged, saying what goes on without it. */
  private async headerOrLogged(instance: StoredInstance, without: string): Promise<InstanceHeader | undefined> {
    try {
      return await this.headerOf(instance);
    } catch (err) {
      this.log.warn({ err, sopInstanceUid: instance.sopInstanceUid }, without);
      return undefined;
    }
  }

  /** Removes the metadata cached for an instance (every copy, every format). */
  private async removeCachedMetadata(study: string, series: string, sop: string): Promise<void> {
    const { cachedMetadata } = instanceFileNames(sop);
    await this.removeMatching(join('instances', study, series), (name) => cachedMetadata.test(name),
      { studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop });
  }

  private async removeMatching(folder: string, matches: (name: string) => boolean, fields: Record<string, string>): Promise<void> {
    try {
      await this.blobs.removeMatching(folder, matches);
    } catch (err) {
      this.log.error({ err, ...fields, folder }, 'files that should have gone could not all be removed: remove them by hand');
    }
  }

  /** A stored instance's header: from its first MiB where that holds it, else from the whole file. */
  private async headerOf(instance: StoredInstance): Promise<InstanceHeader> {
    const path = this.blobs.localPath(instance.storageKey);
    if (path && instance.size > HEADER_PROBE_BYTES) {
      try {
        return parseInstanceHeader(await readHeaderBytes(path, instance.size), instance.size);
      } catch {
        // The header runs past the probe (or the probe is unreadable): the whole file decides.
      }
    }
    const bytes = await this.blobs.read(instance.storageKey);
    return parseInstanceHeader(bytes, bytes.length);
  }

  /**
   * Whether the stored file is the one the index names (its SHA-256): after a power loss the index row of a
   * replacement can be durable while its rename is not, and a re-send must then store it again, not be told
   * "unchanged". A re-send reads the stored copy once (a re-encoded one in holdsSameDataSet, which checks the same).
   */
  private async storedFileIntact(instance: StoredInstance): Promise<boolean> {
    try {
      if ((await this.blobs.size(instance.storageKey)) !== instance.size) return false;
      return (await this.storedFileSha256(instance.storageKey)) === instance.sha256;
    } catch {
      return false;
    }
  }

  /** The SHA-256 of a stored file, streamed: a stored multi-frame instance can be hundreds of megabytes. */
  private async storedFileSha256(key: string): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of this.blobs.openRead(key)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  /**
   * The copy's DICOM JSON; what a copy fails with is remembered, as the JSON is cached, so that it is parsed once. A
   * file larger than a few slices is read on a metadata thread (see parsesInline): its bytes move there.
   */
  private async metadataJsonOf(key: string, bytes: Buffer, instance: StoredInstance): Promise<string> {
    const encapsulated = !isUncompressed(instance.transferSyntaxUid);
    try {
      if (parsesInline(bytes.length)) return JSON.stringify(readDicomJson(bytes, instance.bitsAllocated, encapsulated));
      return await this.dicomJsonPool.read({ bytes, bitsAllocated: instance.bitsAllocated, encapsulated });
    } catch (err) {
      // Only while the index still names the copy: bytes read after a replacement committed are not those `key` names.
      if (isMipsegError(err) && this.isStillStored(instance)) throw this.rememberedMetadataFailure(key, err, instance);
      throw err;
    }
  }

  /**
   * What a failed metadata read of the copy answers, remembered where the next read would fail alike: for good when it
   * failed over the bytes; for TIMED_OUT_READ_REMEMBERED_MS when it ran past its time limit. The limit is wall time on
   * the thread, which a machine short of CPU spends for a genuine file as a crafted one does: so 503 MIPSEG_BUSY with
   * a Retry-After of the time left (a client tries a 503 again, not a 400), not read again meanwhile so that a crafted
   * copy cannot hold a thread each time it is asked for. Its cause stays the pool's marker: readTimedOut tells it.
   */
  private rememberedMetadataFailure(key: string, err: MipsegError, instance: StoredInstance): MipsegError {
    if (failsOverTheBytes(err)) {
      this.metadataFailures.remember(key, err);
      return err;
    }
    if (!readTimedOut(err)) return err;
    const retryAt = new Date(Date.now() + TIMED_OUT_READ_REMEMBERED_MS).toISOString();
    const failure = new MipsegError('MIPSEG_BUSY', `${err.detail} (a server short of CPU, or a crafted file); the read `
      + `will be tried again at ${retryAt}`, { cause: err.cause, retryAfterS: TIMED_OUT_READ_REMEMBERED_MS / 1000 });
    this.metadataFailures.remember(key, failure, TIMED_OUT_READ_REMEMBERED_MS);
    this.log.warn({ sopInstanceUid: instance.sopInstanceUid, storageKey: instance.storageKey, retryAt },
      'metadata read ran past its time limit: the copy answers MIPSEG_BUSY until retryAt');
    return failure;
  }

  /**
   * Until when the copy's metadata is not read, its last read having run past its time limit (then it answers
   * MIPSEG_BUSY); undefined where it is read as usual. A study's metadata lists such a copy in part for that while, and
   * its ETag names it, so that a viewer's cached partial answer is not confirmed as current once the copy is read whole.
   */
  metadataReadPausedUntil(instance: StoredInstance): number | undefined {
    return this.metadataFailures.pausedUntil(metadataKeyFor(instance));
  }

  /**
   * The instance's DICOM JSON (pixel data by BulkDataURI placeholder), computed once and cached beside it. Reads of one
   * copy at once share one computation: each would otherwise take a metadata thread (a crafted file: for a minute).
   */
  async readMetadata(instance: StoredInstance): Promise<string> {
    const key = metadataKeyFor(instance);
    try {
      return (await this.blobs.read(key)).toString('utf8');
    } catch {
      // Not cached yet: computed below.
    }
    const failure = this.metadataFailures.get(key);
    if (failure) throw failure;
    const inFlight = this.metadataReadsInFlight.get(key);
    if (inFlight) return inFlight;
    const reading = this.computeMetadata(key, instance).finally(() => this.metadataReadsInFlight.delete(key));
    this.metadataReadsInFlight.set(key, reading);
    return reading;
  }

  /** readMetadata's computation: the copy's file read, its DICOM JSON made and cached. */
  private async computeMetadata(key: string, instance: StoredInstance): Promise<string> {
    let bytes: Buffer;
    try {
      bytes = await this.blobs.read(instance.storageKey);
    } catch (err) {
      // Deleted (its study) or replaced since the caller looked it up: not found. A file missing under a row that
      // still lists it is the server's fault, and stays an internal error.
      const gone = (err as NodeJS.ErrnoException).code === 'ENOENT' && !this.isStillStored(instance);
      if (gone) throw new MipsegError('MIPSEG_NOT_FOUND', `instance ${instance.sopInstanceUid}`);
      throw err;
    }
    const json = await this.metadataJsonOf(key, bytes, instance);
    // Cached only while the instance is still stored as it was read, and inside the study's gate: a deletion of the
    // study must never find this file written back into the folder it removed, with the patient's data in it.
    try {
      // And in the instance's turn: a replacement committing meanwhile removes the cached copies it finds, and one
      // renamed into place after that would keep the replaced copy's attributes (a corrected name) on disk.
      await this.inStudyGate('share', instance.studyInstanceUid, () => this.serialised(instance.sopInstanceUid, async () => {
        if (this.isStillStored(instance)) await this.blobs.writeAtomic(key, json);
      }));
    } catch (err) {
      // Only a cache: a full disk must not keep viewers from the metadata they ask for.
      this.log.warn({ err, sopInstanceUid: instance.sopInstanceUid }, 'metadata could not be cached; served uncached');
    }
    return json;
  }

  /**
   * Whether the index still lists this copy of the instance (not deleted, nor replaced by another), and no deletion of
   * its study is under way: a deletion moves the files before it removes the rows, and a reader that finds the file
   * gone then is told "not found", not an internal error.
   */
  isStillStored(instance: StoredInstance): boolean {
    return !this.studies.isClosed(instance.studyInstanceUid) && this.index.findInstance(instance.sopInstanceUid)?.sha256 === instance.sha256;
  }

  /** Runs `work` in the study's gate (shared or exclusive), counted among the work in progress. */
  private inStudyGate<T>(mode: 'share' | 'exclusive', studyUid: string, work: () => Promise<T>): Promise<T> {
    return this.track(mode === 'share' ? this.studies.share(studyUid, work) : this.studies.exclusive(studyUid, work));
  }

  /**
   * Counts `running` among the work in progress until it settles (see settle). Receivers count a received part from
   * its end, before what comes ahead of storeReceived (the fdatasync of a large file, the parts ahead of it).
   */
  track<T>(running: Promise<T>, kind: 'drain' | 'snapshot' = 'drain'): Promise<T> {
    this.inProgress.set(running, kind);
    const done = (): void => void this.inProgress.delete(running);
    running.then(done, done);
    return running;
  }

  /**
   * Waits for the stores, deletions and metadata writes under way, at most `timeoutMs`; true when none is left. A
   * shutdown calls it before {@link close}: a STOW whose connection its grace period cut may still be storing a part
   * that arrived whole, and the index closed under it would fail the store after its file was published.
   */
  async settle(timeoutMs: number): Promise<boolean> {
    const results = new Set([...this.inProgress].filter(([, kind]) => kind === 'snapshot').map(([work]) => work));
    const awaited = (): Array<Promise<unknown>> =>
      [...this.inProgress].filter(([work, kind]) => kind === 'drain' || results.has(work)).map(([work]) => work);
    const deadline = Date.now() + timeoutMs;
    for (let pending = awaited(); pending.length > 0; pending = awaited()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, left)));
      await Promise.race([Promise.allSettled(pending), timedOut]);
      clearTimeout(timer);
    }
    return true;
  }

  close(): void {
    // Its threads end on their own: nothing here waits for them, and none keeps the process alive while it ends.
    void this.dicomJsonPool.close();
    this.index.close();
    this.lock?.release();
  }
}

const SEQUENCE_DELIMITER = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);

/** Encapsulated pixel data has no declared length: a complete file ends with the sequence delimiter. */
async function assertEncapsulatedComplete(path: string, size: number): Promise<void> {
  const tail = Buffer.alloc(8);
  const handle = await fs.open(path, 'r');
  try {
    await handle.read(tail, 0, 8, Math.max(0, size - 8));
  } finally {
    await handle.close();
  }
  if (tail.equals(SEQUENCE_DELIMITER)) return;
  // Something follows the pixel data (trailing padding, say): only a full parse can tell.
  try {
    parseDicomReadingNewerVrs(await fs.readFile(path), dicomParseOptions());
  } catch {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', 'truncated: encapsulated Pixel Data lacks its sequence delimiter');
  }
}

