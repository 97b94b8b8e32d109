import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from '@mipseg/shared/log';
import { newestAnalysisBySeries, type AnalysisPlan, type JobQueue, type JobRecord } from '@mipseg/shared/queue';
import { IMAGE_SOP_CLASSES, SopClass } from '@mipseg/shared/dicom';
import { HEADER_PROBE_BYTES, type Archive, type StoredInstance } from '@mipseg/shared/store';
import { isMipsegError, toMipsegError } from '@mipseg/shared/errors';
import { computeSuvScaleFactors, readSuvMetadataFromDataSet } from '../suv';
import { parseInstanceHeaderOnly, type DataSet } from '../volume';
import {
  axialSpanMm, notPetImageStorage, readPetSeriesHeaderFromDataSet, readSlicePlacement, selectPetSeries, SERIES_ELIGIBILITY_RULES, sliceCount,
  type PetSeriesCandidate, type SeriesVerdict, type SlicePlacement,
} from '../selection';

export interface PlanOutcome {
  readonly kind: 'queued' | 'unchanged' | 'not-applicable';
  readonly jobId: string;
  /** Why not applicable; for an on-demand run left `unchanged`, the analysis of the same instances it joined. */
  readonly reason?: string;
}

function hashOf(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 20);
}

/** Makes an on-demand run's job id its own: the time, readable in the id, and random bits, since two clicks can share a millisecond. */
function onDemandSuffix(): string {
  return `-${Date.now()}-${randomBytes(3).toString('hex')}`;
}

function bySeries(instances: readonly StoredInstance[]): Map<string, StoredInstance[]> {
  const out = new Map<string, StoredInstance[]>();
  for (const i of instances) {
    const series = out.get(i.seriesInstanceUid);
    if (series) series.push(i);
    else out.set(i.seriesInstanceUid, [i]);
  }
  for (const [uid, all] of out) out.set(uid, petSlicesFirst(all));
  return out;
}

/**
 * A series' PET Image Storage instances, where it has any; else all of it. A scanner's screen capture (Secondary
 * Capture) filed under the PET series' UID would otherwise decide the series by the index's order: judged by its SOP
 * class when it came first, or, planned with the slices, failing the volume as a slice without a position.
 */
function petSlicesFirst(instances: StoredInstance[]): StoredInstance[] {
  const slices = instances.filter((i) => i.sopClassUid === SopClass.PositronEmissionTomographyImageStorage);
  return slices.length > 0 ? slices : instances;
}

/**
 * Errors that say this one file is gone, however often the check is retried (deleted or lost by hand). Anything else
 * fails the whole check, which is retried: EMFILE or EIO may pass, and so may EACCES or EPERM, which after a restore
 * or a migration affect every file until an administrator mends the ownership — leaving the PET series out for them
 * would record those studies as "not applicable" for good. Retrying a missing file, though, kept the study pending
 * for ever, its PET series never queued and every deletion of it refused as busy.
 */
const FILE_GONE: readonly string[] = ['ENOENT', 'ENOTDIR', 'EISDIR'];

const isFileGone = (err: unknown): boolean => FILE_GONE.includes(String((err as NodeJS.ErrnoException | undefined)?.code));

/**
 * Each series' header, or the verdict reached without one: a header that does not parse, a file gone, or a series
 * whose SOP class is no image's (judged from the index, nothing read).
 */
interface StudySeriesHeaders {
  readonly candidates: PetSeriesCandidate[];
  readonly unreadable: SeriesVerdict[];
}

/** The verdict on a series whose header could not be read: no rule can pass it, so it is not eligible. */
function unreadableVerdict(seriesInstanceUid: string, reason: string): SeriesVerdict {
  return { seriesInstanceUid, eligible: false, failures: [{ ruleId: 'header-readable', reason }] };
}

/**
 * Reads one series' header from its first instance. Bad data stays bad: a header that does not parse, or a file
 * gone, is this series' verdict, logged once here; any other read error is thrown (see above).
 */
async function readSeriesHeader(archive: Archive, uid: string, instances: StoredInstance[], log: Logger):
  Promise<PetSeriesCandidate | SeriesVerdict> {
  const first = instances[0] as StoredInstance;
  const { storageKey } = first;
  // A series of anything but images (raw data, whose private payload can be a gigabyte, a PDF, an SR) is told apart
  // by the SOP class the index holds: nothing of it is read, and its verdict is the SOP-class rule's.
  const notImage = IMAGE_SOP_CLASSES.has(first.sopClassUid) ? null : notPetImageStorage(first.sopClassUid);
  if (notImage !== null) return { seriesInstanceUid: uid, eligible: false, failures: [{ ruleId: 'pet-image-storage', reason: notImage }] };
  let bytes: Buffer;
  try {
    bytes = await readHeaderPart(archive, first);
  } catch (err) {
    if (!isFileGone(err)) throw err;
    const code = String((err as NodeJS.ErrnoException).code);
    log.warn({ err, seriesInstanceUid: uid, storageKey }, "series' first file cannot be read; series not eligible");
    return unreadableVerdict(uid, `its first instance's file ${storageKey} cannot be read (${code})`);
  }
  let ds: DataSet;
  let candidate: PetSeriesCandidate;
  try {
    // Parsed once for both: the eligibility header and what SUV needs come from the same elements.
    ds = parseInstanceHeaderOnly(bytes);
    candidate = { header: readPetSeriesHeaderFromDataSet(ds), instanceCount: instances.length, suvReady: suvComputable(ds, log) };
  } catch (err) {
    log.warn({ err, seriesInstanceUid: uid, storageKey }, 'series header unreadable; series skipped');
    return unreadableVerdict(uid, `the header in ${storageKey} does not parse: ${toMipsegError(err).message}`);
  }
  const axialSpanMm = await measuredSpan(archive, candidate, instances, ds, log);
  return axialSpanMm === undefined ? candidate : { ...candidate, axialSpanMm };
}

/**
 * Most headers read to measure a series' span: the copies of its lowest and highest InstanceNumber, or as many of
 * them, evenly spaced in the index's order (by number, then SOP Instance UID), where there are more.
 */
const SPAN_SAMPLES = 32;

/**
 * The axial span of a series holding more slices than NumberOfSlices, between the outermost of its instances numbered
 * lowest and highest (InstanceNumber): its slice count cannot tell a head-and-neck series sent twice (not applicable)
 * from a whole-body one whose scanner gives NumberOfSlices per bed position. Every copy of those two numbers is read
 * (past SPAN_SAMPLES, that many of them): a scanner that numbers each bed from 1 has one of each per bed, and any one pair could be
 * a single bed's ends. Undefined where it is not measured: the series is not overfull, has no two numbers, or a
 * header cannot be read (its slice count then judges it, as before).
 */
async function measuredSpan(archive: Archive, series: PetSeriesCandidate, instances: readonly StoredInstance[], firstDs: DataSet,
  log: Logger): Promise<number | undefined> {
  const spacing = series.header.sliceSpacingMm;
  if (spacing === null || series.header.numberOfSlices === null || sliceCount(series) <= series.header.numberOfSlices) return undefined;
  const numbers = instances.map((i) => i.instanceNumber).filter((n): n is number => n !== null);
  if (numbers.length < 2) return undefined;
  const [lowest, highest] = [Math.min(...numbers), Math.max(...numbers)];
  if (lowest === highest) return undefined;
  const ends = evenlySpaced(instances.filter((i) => i.instanceNumber === lowest || i.instanceNumber === highest), SPAN_SAMPLES);
  const placements: SlicePlacement[] = [];
  for (const instance of ends) {
    const placement = instance === instances[0] ? readSlicePlacement(firstDs) : await readPlacement(archive, instance, log);
    if (placement === null) return undefined;
    placements.push(placement);
  }
  return axialSpanMm(placements, spacing);
}

/** At most `count` of `items`, evenly spaced from the first to the last (all of them where there are no more). */
function evenlySpaced<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, k) => items[Math.round((k * (items.length - 1)) / (count - 1))] as T);
}

/** An instance's slice placement from its header; null where it cannot be read (logged) or has none. */
async function readPlacement(archive: Archive, instance: StoredInstance, log: Logger): Promise<SlicePlacement | null> {
  let bytes: Buffer;
  try {
    bytes = await readHeaderPart(archive, instance);
  } catch (err) {
    if (!isFileGone(err)) throw err;
    return null;
  }
  try {
    return readSlicePlacement(parseInstanceHeaderOnly(bytes));
  } catch (err) {
    log.warn({ err, seriesInstanceUid: instance.seriesInstanceUid, storageKey: instance.storageKey },
      "an instance's header does not parse; its series' coverage is judged by its slice count");
    return null;
  }
}

/**
 * Whether an instance's header holds what SUVbw needs (Units, decay correction, dose, weight, a factor for counts).
 * One instance stands for the series: a preference between reconstructions, not a verdict (the analysis computes SUV
 * from every instance, and a GE series whose scan start differs from the first instance's is judged by it alone).
 */
function suvComputable(ds: DataSet, log: Logger): boolean {
  try {
    computeSuvScaleFactors([readSuvMetadataFromDataSet(ds)]);
    return true;
  } catch (err) {
    if (isMipsegError(err, 'MIPSEG_SUV_UNAVAILABLE')) return false;
    // Not a property of the series (a fault here): no preference either way.
    log.warn({ err }, 'could not tell whether a series\' SUV can be computed; not preferring by it');
    return true;
  }
}

/**
 * The first HEADER_PROBE_BYTES of an instance's file where its header ends inside them (its parse reaches Pixel
 * Data), else the whole file: a check runs on every late instance and after every result, and a series may start
 * with a multi-frame instance of hundreds of megabytes. The parse must be seen to reach Pixel Data: cut inside an
 * Implicit VR element it stops without an error, and the attributes after the cut would read as absent.
 */
async function readHeaderPart(archive: Archive, instance: StoredInstance): Promise<Buffer> {
  if (instance.size > HEADER_PROBE_BYTES) {
    const file = await archive.blobs.openRanged(instance.storageKey);
    let probe: Buffer;
    try {
      probe = await file.read(0, HEADER_PROBE_BYTES);
    } finally {
      await file.close();
    }
    if (reachesPixelData(probe)) return probe;
  }
  return archive.blobs.read(instance.storageKey);
}

function reachesPixelData(bytes: Buffer): boolean {
  try {
    return parseInstanceHeaderOnly(bytes).elements['x7fe00010'] !== undefined;
  } catch {
    return false;
  }
}

async function readSeriesHeaders(archive: Archive, series: Map<string, StoredInstance[]>, log: Logger): Promise<StudySeriesHeaders> {
  const out: StudySeriesHeaders = { candidates: [], unreadable: [] };
  for (const [uid, instances] of series) {
    const read = await readSeriesHeader(archive, uid, instances, log);
    if ('header' in read) out.candidates.push(read);
    else out.unreadable.push(read);
  }
  return out;
}

/** The series' newest analysis (newestAnalysisBySeries), and whether the study was found not applicable since. */
async function newestAnalysisOf(queue: JobQueue, studyInstanceUid: string, seriesInstanceUid: string):
  Promise<{ newest: JobRecord | undefined; verdictSince: boolean }> {
  const jobs = await queue.listJobs({ studyInstanceUid, limit: 1000, offset: 0 });
  const newest = newestAnalysisBySeries(jobs).get(seriesInstanceUid);
  // A "not applicable" recorded since (the series was gone, then sent again): the study shows that verdict, not
  // the analysis, so the same content must be analysed again for a result to show.
  const analysedAt = newest?.createdAt;
  const verdictSince = analysedAt !== undefined && jobs.some((j) => j.state === 'not-applicable' && j.createdAt > analysedAt);
  return { newest, verdictSince };
}

/**
 * The id of a new analysis of this content. Content seen before, but not in the newest analysis (a late instance
 * deleted again: A, B, A), needs an id of its own, or A's existing job would stand in for it and the newest result
 * would stay B's; it is derived from the job it follows, so two planners of the same moment still agree on it.
 */
async function analysisJobId(queue: JobQueue, seriesUid: string, contentHash: string, newest: JobRecord | undefined, force: boolean):
  Promise<string> {
  const id = `seg-${hashOf([seriesUid])}-${contentHash}`;
  if (force) return `${id}${onDemandSuffix()}`;
  if (newest && await queue.hasJob(id)) return `${id}-after-${hashOf([newest.id]).slice(0, 8)}`;
  return id;
}

/** An analysis not yet finished: one asked for on demand now would analyse the same instances again. */
const UNFINISHED: ReadonlySet<string> = new Set(['queued', 'running']);

/**
 * Plans under way, by archive and study. Study checks and on-demand runs of a study are planned where its archive
 * is (the gateway's process in queue mode, the only one in embedded mode), so one process sees them all: run one
 * at a time, a planner reads the jobs the one before it queued, and a double click or a check of the same moment
 * makes one analysis, not two versions of the same content, each exported.
 */
const planning = new WeakMap<Archive, Map<string, Promise<unknown>>>();

function oneAtATime<T>(archive: Archive, studyInstanceUid: string, plan: () => Promise<T>): Promise<T> {
  let studies = planning.get(archive);
  if (!studies) planning.set(archive, (studies = new Map<string, Promise<unknown>>()));
  const before = studies.get(studyInstanceUid) ?? Promise.resolve();
  const mine = before.then(plan, plan);
  const settled = mine.then(() => undefined, () => undefined);
  studies.set(studyInstanceUid, settled);
  void settled.then(() => {
    if (studies.get(studyInstanceUid) === settled) studies.delete(studyInstanceUid);
  });
  return mine;
}

/** What planning needs: the archive and queue, and the eligibility limits (MIN_PET_SLICES, MIN_PET_COVERAGE_MM; default 500 mm). */
export interface PlanDeps {
  readonly archive: Archive;
  readonly queue: JobQueue;
  readonly log: Logger;
  readonly minPetSlices: number;
  readonly minPetCoverageMm?: number;
}

/**
 * Decides what to analyse in a study once it is quiet: the eligible PET series, as a job whose id is
 * derived from the series' content (SOP Instance UIDs and file hashes). Content the series' newest analysis
 * already had adds nothing (a re-send, or mipseg's own results arriving); a late, changed or deleted instance
 * gives a new id and a new result version. `force` (on demand) makes a new version unless an analysis of the same
 * content is still queued or running: its result is the one asked for.
 */
export function planStudy(
  studyInstanceUid: string,
  deps: PlanDeps,
  options: { force?: boolean } = {},
): Promise<PlanOutcome> {
  return oneAtATime(deps.archive, studyInstanceUid, () => planQuietStudy(studyInstanceUid, deps, options));
}

async function planQuietStudy(
  studyInstanceUid: string,
  deps: PlanDeps,
  options: { force?: boolean },
): Promise<PlanOutcome> {
  const { archive, queue, log } = deps;
  const series = bySeries(archive.index.listInstances({ studyUid: studyInstanceUid }));
  const { candidates, unreadable } = await readSeriesHeaders(archive, series, log);
  const selection = selectPetSeries(candidates,
    { minSlices: deps.minPetSlices, ...(deps.minPetCoverageMm === undefined ? {} : { minCoverageMm: deps.minPetCoverageMm }) },
    SERIES_ELIGIBILITY_RULES, unreadable);
  if (selection.status === 'not-applicable') {
    // The instance counts too: a series still arriving ("200 of 267 slices") gets a new verdict with each check.
    const seen = [...series].map(([uid, instances]) => `${uid}:${instances.length}`).sort();
    const jobId = `na-${hashOf([studyInstanceUid, ...seen])}${options.force ? onDemandSuffix() : ''}`;
    await queue.recordNotApplicable(jobId, studyInstanceUid, selection.reason);
    log.info({ studyInstanceUid, reason: selection.reason }, 'study not applicable');
    return { kind: 'not-applicable', jobId, reason: selection.reason };
  }
  const seriesUid = selection.series.header.seriesInstanceUid;
  const instances = series.get(seriesUid) ?? [];
  const contentHash = hashOf(instances.map((i) => `${i.sopInstanceUid}:${i.sha256}`).sort());
  const { newest, verdictSince } = await newestAnalysisOf(queue, studyInstanceUid, seriesUid);
  if (!verdictSince && newest?.request?.contentHash === contentHash) {
    if (!options.force) return { kind: 'unchanged', jobId: newest.id };
    if (UNFINISHED.has(newest.state)) {
      return { kind: 'unchanged', jobId: newest.id, reason: `an analysis of the same instances is already ${newest.state}` };
    }
  }
  const jobId = await analysisJobId(queue, seriesUid, contentHash, newest, options.force === true);
  const plan: AnalysisPlan = {
    studyInstanceUid,
    seriesInstanceUid: seriesUid,
    sopInstanceUids: instances.map((i) => i.sopInstanceUid),
    contentHash,
    reason: options.force ? 'on-demand' : 'study-complete',
    resultUidSeed: randomUUID(),
  };
  const queued = await queue.enqueueAnalysis(jobId, plan);
  if (!queued.created) return { kind: 'unchanged', jobId };
  log.info({ jobId, studyInstanceUid, seriesInstanceUid: seriesUid, version: queued.version }, 'analysis queued');
  return { kind: 'queued', jobId };
}
