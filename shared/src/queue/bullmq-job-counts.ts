import type { Job, JobType, Queue } from 'bullmq';
import type IORedis from 'ioredis';
import type { AnalysisData } from './bullmq-finished-requests';
import type { DoneAnalysis, ExportCount, ExportState, JobCounts, JobState, Stage } from './job-types';

/**
 * Our job state for each BullMQ state that /metrics counts. A not-applicable record is a completed job like a done
 * analysis: telling them apart would read every job, so in queue mode it counts as done.
 */
const JOB_STATE_BY_BULLMQ: Readonly<Partial<Record<JobType, JobState>>> = {
  waiting: 'queued', prioritized: 'queued', delayed: 'queued', 'waiting-children': 'queued', active: 'running', completed: 'done', failed: 'failed',
};

/**
 * An export's state by its BullMQ state, as far as the counts tell: a delayed export is waiting after a failed attempt
 * (retrying); a completed one was sent, or superseded (its return value says which, and reading every one costs a
 * round trip each), so it counts as sent.
 */
const EXPORT_STATE_BY_BULLMQ: Readonly<Partial<Record<JobType, ExportState>>> = {
  waiting: 'pending', prioritized: 'pending', active: 'pending', delayed: 'retrying', completed: 'sent', failed: 'failed',
};

function countsAs<S extends string>(counts: Record<string, number>, states: Readonly<Partial<Record<JobType, S>>>): Map<S, number> {
  const byState = new Map<S, number>();
  for (const [type, state] of Object.entries(states) as Array<[JobType, S]>) byState.set(state, (byState.get(state) ?? 0) + (counts[type] ?? 0));
  return byState;
}

/** How many exports of the shared queue of earlier releases are read for their destination at one scrape, at most. */
const LEGACY_EXPORTS_READ = 10_000;

interface LegacyCount {
  readonly destination: string;
  readonly state: ExportState;
}

/** What was read of each shared queue of earlier releases, with its counts by BullMQ state then. */
const legacyRead = new WeakMap<Queue, { readonly counts: string; readonly exports: readonly LegacyCount[] }>();

async function readLegacyExports(legacy: Queue, types: readonly JobType[]): Promise<LegacyCount[]> {
  const exports: LegacyCount[] = [];
  for (const type of types) {
    const state = EXPORT_STATE_BY_BULLMQ[type] as ExportState;
    for (const job of await legacy.getJobs([type], 0, LEGACY_EXPORTS_READ - 1)) {
      const destination: unknown = (job.data as { destination?: unknown } | undefined)?.destination;
      if (typeof destination === 'string') exports.push({ destination, state });
    }
  }
  return exports;
}

/**
 * The exports left in the shared queue of earlier releases, by the destination each names (as the jobs API shows
 * them). Its ids do not give the destination back, so each is read; but nothing is added to it since, and its jobs
 * are kept for ever, so they are read again only when its counts by state have moved. Most installations' is empty.
 */
async function legacyExportCounts(legacy: Queue, add: (destination: string, state: ExportState, n: number) => void): Promise<void> {
  const types = Object.keys(EXPORT_STATE_BY_BULLMQ) as JobType[];
  const byType = await legacy.getJobCounts(...types);
  const counts = JSON.stringify(types.map((type) => byType[type] ?? 0));
  let read = legacyRead.get(legacy);
  if (read?.counts !== counts) {
    read = { counts, exports: types.some((type) => (byType[type] ?? 0) > 0) ? await readLegacyExports(legacy, types) : [] };
    legacyRead.set(legacy, read);
  }
  for (const { destination, state } of read.exports) add(destination, state, 1);
}

/**
 * Queue mode's answer to JobQueue.jobCounts: BullMQ's counts (LLEN, ZCARD: a few round trips, however many jobs), the
 * exports of each destination's queue and those left in `legacyExports`, the shared queue of earlier releases.
 */
export async function bullMqJobCounts(analyses: Queue, exportQueues: ReadonlyMap<string, Queue>, legacyExports?: Queue): Promise<JobCounts> {
  const types = Object.keys(JOB_STATE_BY_BULLMQ) as JobType[];
  const byState: Record<JobState, number> = { queued: 0, running: 0, done: 0, 'not-applicable': 0, failed: 0 };
  for (const [state, n] of countsAs(await analyses.getJobCounts(...types), JOB_STATE_BY_BULLMQ)) byState[state] = n;
  // BullMQ pushes new jobs on the left of `wait`: the oldest waiting is the last. A retry waits in `delayed` until due.
  const [oldest] = await analyses.getJobs(['waiting'], 0, 0, true);
  const byDestination = new Map<string, Map<ExportState, number>>();
  const add = (destination: string, state: ExportState, n: number): void => {
    const counts = byDestination.get(destination) ?? new Map<ExportState, number>();
    byDestination.set(destination, counts.set(state, (counts.get(state) ?? 0) + n));
  };
  for (const [destination, queue] of exportQueues) {
    const counts = countsAs(await queue.getJobCounts(...(Object.keys(EXPORT_STATE_BY_BULLMQ) as JobType[])), EXPORT_STATE_BY_BULLMQ);
    for (const [state, count] of counts) add(destination, state, count);
  }
  if (legacyExports) await legacyExportCounts(legacyExports, add);
  const exports: ExportCount[] = [];
  for (const [destination, counts] of [...byDestination].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [state, count] of counts) if (count > 0) exports.push({ destination, state, count });
  }
  return { byState, oldestWaitingCreatedAt: oldest?.timestamp ?? null, exports };
}

interface ProgressData {
  readonly timingsMs?: Partial<Record<Stage, number>>;
}

/** A done analysis as analysesDoneSince gives it; a not-applicable record (completed too) is none. */
function doneAnalysisOf(job: Job): DoneAnalysis | undefined {
  const data = job.data as AnalysisData;
  if (!data.request || job.finishedOn === undefined) return undefined;
  const progress = (typeof job.progress === 'object' ? job.progress : {}) as ProgressData;
  return { id: job.id ?? '', studyInstanceUid: data.request.studyInstanceUid, reason: data.request.reason, createdAt: job.timestamp,
    finishedAt: job.finishedOn, timingsMs: progress.timingsMs ?? {} };
}

/**
 * Queue mode's answer to JobQueue.analysesDoneSince: the ids from the completed set (scored by finishedOn), then the
 * jobs not counted yet read whole, `limit` at a time, until `limit` analyses are found.
 */
export async function bullMqAnalysesDoneSince(connection: IORedis, analyses: Queue, since: number, limit: number,
  except: ReadonlySet<string>): Promise<DoneAnalysis[]> {
  const ids = (await connection.zrangebyscore(analyses.toKey('completed'), since, '+inf')).filter((id) => !except.has(id));
  const done: DoneAnalysis[] = [];
  for (let at = 0; at < ids.length && done.length < limit; at += limit) {
    const jobs = await Promise.all(ids.slice(at, at + limit).map((id) => analyses.getJob(id)));
    for (const job of jobs) {
      const analysis = job ? doneAnalysisOf(job) : undefined;
      if (analysis && done.length < limit) done.push(analysis);
    }
  }
  return done.sort((a, b) => a.finishedAt - b.finishedAt || a.id.localeCompare(b.id));
}
