import { DelayedError, isNotConnectionError, Job, Queue, UnrecoverableError, Worker, type ConnectionOptions, type JobType, type MinimalJob, type WorkerOptions } from 'bullmq';
import { createHash } from 'node:crypto';
import IORedis from 'ioredis';
import { withTimeout } from '../async';
import { DEFAULT_JOB_MAX_STALLS, MAX_QUIET_PERIOD_MS } from '../config/config';
import { MipsegError, toMipsegError } from '../errors';
import { RepeatedFailureLog, type Logger } from '../log';
import type { JobHandlers, JobQueue, ProcessingOptions } from './job-queue';
import type {
  AnalysisPlan, AnalysisRequest, DoneAnalysis, ExportStatus, JobCounts, JobFilter, JobRecord, JobState, ResultInstances, ResultUids, Stage,
} from './job-types';
import { bullMqAnalysesDoneSince, bullMqJobCounts } from './bullmq-job-counts';
import { FinishedRequests, type AnalysisData } from './bullmq-finished-requests';
import { GatewayUnavailableError } from './gateway-unavailable-error';
import { readSettled } from './bullmq-settled-read';
import { StudyJobIndex } from './bullmq-study-index';
import { newestFirstThenId } from './job-order';
import { supersededExportDetail } from './newest-analysis';
import { prunableJobIds } from './job-retention';
import { summariseRequest } from './request-summary';
import { closeConnection, closeWorkers, JobsInHand, whileRedisAnswers } from './bullmq-worker-close';
import { backoffDelay, EXPORTS_PER_DESTINATION, isUnrecoverable, STUDY_CHECK_RETRY_MS, type RetryPolicy } from './retry-policy';

export interface BullMqQueueOptions {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly analysisRetry: RetryPolicy;
  readonly exportRetry: RetryPolicy;
  readonly exportDestinations: readonly string[];
  /** How long a worker holds a job without renewing its lock; a killed worker's job is retried after it. */
  readonly lockDurationMs: number;
  /** Default STUDY_CHECK_RETRY_MS. */
  readonly studyCheckRetryMs?: number;
  /** How often an analysis or export may stall before it is failed (JOB_MAX_STALLS, see MAX_STALLS); default DEFAULT_JOB_MAX_STALLS. */
  readonly maxStalls?: number;
  /** Default GATEWAY_WAIT_MAX_MS (tests shorten it). */
  readonly gatewayWaitMaxMs?: number;
  /** Default RECENT_JOBS_PER_STATE (tests shorten it). */
  readonly recentJobsPerState?: number;
}

interface ProgressData {
  readonly stage: Stage | null;
  readonly progress: number;
  readonly timingsMs: Partial<Record<Stage, number>>;
}

type ExportHandler = NonNullable<JobHandlers['exportResult']>;

/** Where a job list looks for exports: these destinations, and the shared queue of earlier releases if it holds any. */
interface ExportLookup {
  readonly destinations: readonly string[];
  readonly legacy: boolean;
}

interface ExportData {
  readonly jobId: string;
  readonly destination: string;
  readonly result: ResultUids;
  /** As AnalysisData's: a worker reads the result back through GATEWAY_URL to send it. */
  readonly gatewayUnreachableSince?: number;
}

/** What a job that reads or stores through the gateway keeps of its wait for it. */
interface GatewayWait {
  readonly gatewayUnreachableSince?: number;
}

/**
 * One export job per result and destination. BullMQ job ids must not contain ':', so the destination is named by
 * its hash: folding each other character to '_', as before, gave pacs-a and pacs_a one job (one was never sent).
 */
function exportJobId(jobId: string, destination: string): string {
  return `${jobId}--${destinationDigest(destination).slice(0, 32)}`;
}

/** A destination's name where ':' and other URL characters may not stand: its SHA-256, in hex. */
function destinationDigest(destination: string): string {
  return createHash('sha256').update(destination).digest('hex');
}

/**
 * Each destination's exports have their own queue (and workers): in one shared queue a PACS that hangs held every
 * export slot in turn, and the results for every other destination waited behind it.
 */
function exportQueueName(destination: string): string {
  return `exports-${destinationDigest(destination).slice(0, 16)}`;
}

/** The id earlier releases gave an export job: still looked up, so that exports queued before an upgrade show. */
function legacyExportJobId(jobId: string, destination: string): string {
  return `${jobId}--${destination.replace(/[^A-Za-z0-9]/g, '_')}`;
}

/**
 * Stack traces a job keeps in Redis, the last failure's. BullMQ otherwise appends one per failed attempt and rewrites
 * them all at each: a study check retried every STUDY_CHECK_RETRY_MS while its fault lasts (files unreadable after
 * a restore) grew by about 800 bytes a failure, for every study waiting. The jobs API shows failedReason; logs have
 * every failure. (0 would mean no limit to BullMQ.)
 */
const FAILURE_TRACES_KEPT = 1;

/** Deletes a hash field only if it still holds the value read (a later schedule's due time stays). */
const DELETE_IF_UNCHANGED = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0`;

/** The keys BullMQ keeps beside a queue's jobs, under the same prefix (its Queue keys, and the migration and marker ones). */
const BULLMQ_QUEUE_KEYS: ReadonlySet<string> = new Set(['meta', 'events', 'id', 'wait', 'waiting', 'active', 'paused', 'delayed',
  'completed', 'failed', 'stalled', 'stalled-check', 'limiter', 'prioritized', 'pc', 'marker', 'repeat', 'waiting-children',
  'metrics', 'de', 'migrations']);

/**
 * Analyses and exports wait between attempts as the embedded runner has them wait (backoffDelay: doubling from the
 * job's base, capped at MAX_BACKOFF_MS), not by BullMQ's own exponential backoff, which has no cap. Jobs queued by
 * earlier releases keep 'exponential', which BullMQ still answers itself.
 */
const CAPPED_EXPONENTIAL = 'capped-exponential';

export function cappedBackoff(attemptsMade: number, _type?: string, _err?: Error, job?: MinimalJob): number {
  const backoff = job?.opts.backoff;
  const baseDelayMs = typeof backoff === 'number' ? backoff : backoff?.delay ?? 0;
  return backoffDelay({ attempts: attemptsMade, baseDelayMs }, attemptsMade);
}

/**
 * How often a study check may be taken back from a process that died holding it. BullMQ's default is once: a check
 * running during two gateway crashes then failed for good ("job stalled more than allowable limit"), its unlimited
 * attempts notwithstanding, and its study was never analysed. Unlimited, as the attempts are: a check reads the index
 * and one header per series and plans, so running it again is harmless, and it is not what brings a process down.
 */
const STUDY_CHECK_MAX_STALLS = Number.MAX_SAFE_INTEGER;

/**
 * How often an analysis or export may be taken back from a worker that stopped renewing its lock (JOB_MAX_STALLS). A stall
 * is not the job's fault: a worker killed or restarted (a shutdown that outlasts WORKER_SHUTDOWN_MS), or a Redis
 * outage longer than JOB_LOCK_MS (every running job's lock expires), each counts one. Tied to JOB_ATTEMPTS, as it
 * was, one killed worker failed a job of JOB_ATTEMPTS=1 for good, and three Redis restarts during one analysis failed
 * it with no worker dead. Bounded all the same: an input that kills its worker each time (out of memory) must end
 * failed, saying why, not take down workers for ever. A job that only stalls is started this many times plus one
 * (BullMQ fails it at the stall that takes its count past this); stalls and failed attempts are counted apart.
 */
const MAX_STALLS = DEFAULT_JOB_MAX_STALLS;

/** What BullMQ writes as the failure of a job taken back from its workers more than its maxStalledCount. */
const BULLMQ_STALLED_LIMIT = 'job stalled more than allowable limit';

/** BullMQ's failure reason, with what a stall-limit failure means to someone reading the job. */
function explainFailure(text: string | undefined): string | undefined {
  return text === BULLMQ_STALLED_LIMIT
    ? `${text}: its worker stopped while running it (killed, out of memory, or cut off from Redis for longer than JOB_LOCK_MS) `
      + 'each time it was taken up; if no worker was restarted, the input may be what brings it down (see the worker\'s log)'
    : text;
}

/** How long /readyz and the study-deletion guard wait for Redis to answer PING; it answers in well under 1 ms. */
const PING_TIMEOUT_MS = 2000;

/** Socket errors that mean "Redis cannot be reached now", which ioredis retries by itself. */
const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

function isConnectionError(err: Error): boolean {
  return NETWORK_ERROR_CODES.has(String((err as { code?: unknown }).code)) || !isNotConnectionError(err);
}

/** What a failure reason adds where the gateway could not be reached. */
function unreachableGateway(socketError: string | undefined): string {
  return socketError ? ` (gateway unreachable: ${socketError}; check GATEWAY_URL)` : '';
}

/**
 * Beside NETWORK_ERROR_CODES, how undici says the gateway could not be reached: the connection not made in time. Not a
 * connection cut mid-answer (UND_ERR_SOCKET, fetch's body throwing "terminated"): the gateway cuts a series' answer so
 * itself when a stored file fails past the first part, and such a series would be fetched again every few seconds for
 * the whole wait, its failure then blamed on GATEWAY_URL. A gateway killed mid-answer costs one attempt; the next finds
 * its connection refused, which is waited for.
 */
const GATEWAY_SOCKET_ERROR_CODES: ReadonlySet<string> = new Set([...NETWORK_ERROR_CODES, 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Why an analysis's failure means the gateway could not be reached, where it does: the socket error code
 * (ECONNREFUSED, UND_ERR_CONNECT_TIMEOUT, …) or the status by which the gateway or its proxy said it is away (HTTP 503, see
 * GatewayUnavailableError). A queue-mode worker reads the series and stores the results through GATEWAY_URL, and
 * fetch throws "fetch failed" (or the source or sink an error made of it) with either somewhere down its causes.
 */
function gatewaySocketError(err: unknown): string | undefined {
  // Not `instanceof Error`: fetch's errors are made in undici's realm, which need not be the caller's (Jest's is not).
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof GatewayUnavailableError) return e.message;
    const code = String((e as { code?: unknown }).code);
    if (GATEWAY_SOCKET_ERROR_CODES.has(code)) return code;
  }
  return undefined;
}

/**
 * How long an analysis waits for an unreachable gateway before it is tried again. Such a wait uses no attempt: a
 * gateway restart (its shutdown alone may take tens of seconds) outlasts JOB_ATTEMPTS at
 * a 5 s base, and every job running or queued then failed, for good, since a later check of the same content
 * finds the failed job and plans nothing.
 */
const GATEWAY_RETRY_MIN_MS = 1000;

/**
 * How long an analysis waits, in all, for the gateway before its failures count as attempts again: longer than any
 * restart, short enough that a GATEWAY_URL that names no gateway (a typo, a decommissioned host) shows as failed
 * jobs with the reason, not as jobs queued for ever.
 */
export const GATEWAY_WAIT_MAX_MS = 10 * 60_000;

const STATES_BY_BULLMQ: Record<string, JobState> = {
  waiting: 'queued', delayed: 'queued', prioritized: 'queued', 'waiting-children': 'queued',
  active: 'running', completed: 'done', failed: 'failed',
};

/**
 * The BullMQ states a job of ours in `state` can be in: STATES_BY_BULLMQ read backwards, except a not-applicable
 * record, which is added waiting and then completed by a worker.
 */
function bullMqStatesHolding(state: JobState): string[] {
  return state === 'not-applicable' ? ['completed', 'waiting', 'active']
    : Object.keys(STATES_BY_BULLMQ).filter((type) => STATES_BY_BULLMQ[type] === state);
}

/**
 * How many of the newest jobs of each BullMQ state the job list (all studies) and the worklist's AI-status filters
 * read. One study's jobs come from the study index, whatever their number.
 */
const RECENT_JOBS_PER_STATE = 5000;

/**
 * The time the jobs read of one BullMQ state go back to: no job of the state left unread was made after it. BullMQ
 * orders finished jobs by when they finished and running ones by when they started (a job is made before either).
 * Queued jobs have no such time: a retry goes back to `delayed` (ordered by when it is due, in the future) or to the
 * head of `wait` long after it was made, so nothing read bounds the unread ones; those states set no end (-Infinity),
 * and past RECENT_JOBS_PER_STATE queued jobs (a backlog that large) the list may leave some out.
 */
function readBackTo(read: ReadonlyArray<{ readonly job: Job; readonly type: string }>): number {
  const orderedBy = ({ job, type }: { readonly job: Job; readonly type: string }): number =>
    type === 'completed' || type === 'failed' ? job.finishedOn ?? job.timestamp
      : type === 'active' ? job.processedOn ?? job.timestamp : -Infinity;
  return read.reduce((oldest, entry) => Math.min(oldest, orderedBy(entry)), Infinity);
}

/** The study of an analysis job, from its data (an analysis or a not-applicable record). */
function studyOf(job: Job): string {
  const data = job.data as AnalysisData;
  return data.request?.studyInstanceUid ?? data.notApplicable?.studyInstanceUid ?? '';
}

/**
 * Queue mode: BullMQ queues on Redis — study checks (debounced per study: each new instance moves the check to
 * the end of the quiet period), analyses (job id derived from the series content, so a re-send adds nothing) and
 * one queue of exports per destination (one job per result, retried with backoff). The single 'exports' queue of
 * earlier releases is still read and worked, so that exports queued before an upgrade are sent and shown.
 */
export class BullMqJobQueue implements JobQueue {
  readonly mode = 'bullmq' as const;
  private readonly connection: IORedis;
  private readonly studyChecks: Queue;
  /**
   * A Redis hash: when each study's check falls due, as it was last scheduled (by any gateway), kept until a check of
   * that schedule has run. BullMQ reschedules only a delayed check and drops the add of a waiting one, so the process
   * that runs the check reads the due time here: in Redis, it is the same for every gateway and outlives a restart.
   */
  private readonly studyChecksDueKey: string;
  private readonly analyses: Queue;
  /** Each destination's export queue: the configured ones, and any other that still holds exports (see workFormerDestinations). */
  private readonly exportQueues = new Map<string, Queue>();
  private readonly legacyExports: Queue;
  /** A Redis set of every destination an export was ever queued for: what to look at after EXPORT_DESTINATIONS changed. */
  private readonly destinationsKey: string;
  private closing = false;
  /** The look for former destinations' exports at start-up (close() waits for it, so that it starts no worker after). */
  private formerScan: Promise<void> = Promise.resolve();
  private readonly finishedRequests: FinishedRequests;
  private readonly studyIndex: StudyJobIndex;
  /** The indexing of earlier releases' jobs by study at start-up (close() waits for it). */
  private studyIndexBuild: Promise<void> = Promise.resolve();
  /** The summary of finished jobs of earlier releases at start-up (close() waits for it). */
  private earlierSummaries: Promise<void> = Promise.resolve();
  private readonly workers: Worker[] = [];
  /** The analyses and exports running here (their handlers, not the queue's reads and writes around them): what a shutdown waits for. */
  private readonly jobsInHand = new JobsInHand();
  /**
   * While Redis is away every client (ours, and each worker's blocking one) reports every reconnect attempt,
   * about 25 a second in all: logged once, summarised, and once when Redis is back.
   */
  private readonly redisFailures: RepeatedFailureLog;
  /** Analyses put back while the gateway cannot be reached: every job would log each try, every few seconds. */
  private readonly gatewayFailures: RepeatedFailureLog;

  constructor(private readonly options: BullMqQueueOptions, private readonly log: Logger) {
    this.gatewayFailures = new RepeatedFailureLog(log, { level: 'warn',
      message: 'gateway unreachable; analysis put back, using no attempt', recoveredMessage: 'gateway reachable again' });
    this.redisFailures = new RepeatedFailureLog(log, { level: 'warn', message: 'Redis unreachable; reconnecting',
      recoveredMessage: 'Redis reachable again' });
    // BullMQ needs maxRetriesPerRequest null so that blocking commands wait through a Redis restart.
    this.connection = new IORedis(options.redisUrl, { maxRetriesPerRequest: null });
    // Without a listener ioredis prints each failed attempt on stderr ("Unhandled error event"), outside the log.
    this.connection.on('error', this.onError('connection'));
    this.connection.on('ready', () => this.redisFailures.recovered());
    this.destinationsKey = `${options.prefix}:export-destinations`;
    this.studyChecksDueKey = `${options.prefix}:study-checks-due`;
    this.finishedRequests = new FinishedRequests(this.connection, options.prefix, log);
    this.studyIndex = new StudyJobIndex(this.connection, options.prefix, log);
    this.studyChecks = this.newQueue('study-checks');
    this.analyses = this.newQueue('analyses');
    for (const destination of options.exportDestinations) this.exportQueueFor(destination);
    this.legacyExports = this.newQueue('exports');
  }

  private newQueue(name: string): Queue {
    const queue = new Queue(name, { connection: this.connection, prefix: this.options.prefix });
    // A BullMQ queue re-emits its connection's errors, and prints them raw on stderr (console.error) if no one listens.
    queue.on('error', this.onError(`queue ${name}`));
    return queue;
  }

  private exportQueueFor(destination: string): Queue {
    let queue = this.exportQueues.get(destination);
    if (!queue) {
      queue = this.newQueue(exportQueueName(destination));
      this.exportQueues.set(destination, queue);
    }
    return queue;
  }

  /** Destinations an export was queued for that EXPORT_DESTINATIONS no longer names. */
  private async formerDestinations(): Promise<string[]> {
    const configured = new Set(this.options.exportDestinations);
    return (await this.connection.smembers(this.destinationsKey)).filter((d) => !configured.has(d)).sort();
  }

  private queues(): Queue[] {
    return [this.studyChecks, this.analyses, ...this.exportQueues.values(), this.legacyExports];
  }

  /** Connection errors go to the rate-limited log; anything else is logged as it comes. */
  private onError(source: string): (err: Error) => void {
    return (err) => {
      if (isConnectionError(err)) this.redisFailures.failed(err);
      else this.log.error({ err, source }, 'BullMQ error');
    };
  }

  async scheduleStudyCheck(studyInstanceUid: string, delayMs: number): Promise<void> {
    await this.connection.hset(this.studyChecksDueKey, studyInstanceUid, String(Date.now() + delayMs));
    await this.studyChecks.add('check', { studyInstanceUid }, {
      delay: delayMs,
      deduplication: { id: studyInstanceUid, reschedule: true, keepLastIfActive: true },
      // BullMQ's default is one attempt: a check that failed once (Redis or the index unavailable) would be
      // dropped with its study. Retried without limit, as the embedded runner does.
      attempts: Number.MAX_SAFE_INTEGER,
      backoff: { type: 'fixed', delay: this.options.studyCheckRetryMs ?? STUDY_CHECK_RETRY_MS },
      removeOnComplete: true,
      removeOnFail: 1000,
      stackTraceLimit: FAILURE_TRACES_KEPT,
    });
  }

  async pendingStudies(): Promise<string[]> {
    this.assertConnected();
    // 'active': a study being planned counts, as in the embedded runner, whose entry goes once its check has finished;
    // the deletion guard must see it, or a study deleted while planned gets an analysis queued for it.
    const jobs = await this.studyChecks.getJobs(['delayed', 'waiting', 'active'], 0, 10_000);
    return [...new Set(jobs.map((j) => (j.data as { studyInstanceUid: string }).studyInstanceUid))];
  }

  async enqueueAnalysis(jobId: string, plan: AnalysisPlan): Promise<{ created: true; version: number } | { created: false }> {
    if (await this.existsIndexed(plan.studyInstanceUid, jobId)) return { created: false };
    // HINCRBY allots the version in one Redis command, so two planners (gateways, a double click) never share
    // one. Two planners adding the same job id at once both pass the check above: one add wins, and the
    // other's version is left unused — a gap in the numbering, never a duplicate.
    const version = await this.connection.hincrby(`${this.options.prefix}:series-versions`, plan.seriesInstanceUid, 1);
    const request: AnalysisRequest = { ...plan, version };
    const madeAt = await this.madeAt(plan.studyInstanceUid);
    await this.studyIndex.add(plan.studyInstanceUid, jobId, madeAt);
    await this.analyses.add('analyze', { request } satisfies AnalysisData, {
      jobId,
      timestamp: madeAt,
      attempts: this.options.analysisRetry.attempts,
      backoff: { type: CAPPED_EXPONENTIAL, delay: this.options.analysisRetry.baseDelayMs },
      removeOnComplete: false,
      removeOnFail: false,
      stackTraceLimit: FAILURE_TRACES_KEPT,
    });
    // BullMQ ignores an add of an id it holds (and says so only by an event): the job stored tells whose add won.
    const stored = await this.analyses.getJob(jobId);
    if ((stored?.data as AnalysisData | undefined)?.request?.version !== version) return { created: false };
    return { created: true, version };
  }

  async recordNotApplicable(jobId: string, studyInstanceUid: string, reason: string): Promise<void> {
    if (await this.existsIndexed(studyInstanceUid, jobId)) return;
    const madeAt = await this.madeAt(studyInstanceUid);
    await this.studyIndex.add(studyInstanceUid, jobId, madeAt);
    await this.analyses.add('not-applicable', { notApplicable: { studyInstanceUid, reason } } satisfies AnalysisData, { jobId, timestamp: madeAt });
  }

  /**
   * When a new job of the study counts as made (its createdAt and study index score): now, unless that is before the
   * study's newest job's (the wall clock stepped back: NTP correcting a clock that ran ahead), then a millisecond after
   * it, so that the job made last is still the study's newest (its latest result, the planner's look at verdicts since).
   * As the embedded runner does.
   */
  private async madeAt(studyInstanceUid: string): Promise<number> {
    const now = Date.now();
    const newest = await this.studyIndex.newestAddedAt(studyInstanceUid);
    return newest !== undefined && Number.isFinite(newest) && newest > now ? newest + 1 : now;
  }

  /** Whether the job exists; if it does, it is indexed again under its study (which heals an entry a crash left out). */
  private async existsIndexed(studyInstanceUid: string, jobId: string): Promise<boolean> {
    const existing = await this.analyses.getJob(jobId);
    if (existing) await this.studyIndex.add(studyInstanceUid, jobId, existing.timestamp);
    return existing !== undefined;
  }

  async hasJob(id: string): Promise<boolean> {
    return (await this.analysisJob(id)) !== undefined;
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    this.assertConnected();
    const job = await this.analysisJob(id);
    return job ? this.toRecord(job, await this.exportLookup()) : undefined;
  }

  /**
   * The analysis job of that id. BullMQ reads `{prefix}:analyses:{id}` as a hash whatever the id, so an id such as
   * "meta", "events" or "x:logs" would read the queue's own records: a hash made into a job nobody made, or a
   * WRONGTYPE error (a 500). Such ids, and any record that carries no analysis, name no job.
   */
  private async analysisJob(id: string): Promise<Job | undefined> {
    if (!/^[A-Za-z0-9._-]+$/.test(id) || BULLMQ_QUEUE_KEYS.has(id)) return undefined;
    const job = (await this.analyses.getJob(id)) as Job | undefined;
    const data = job?.data as Partial<AnalysisData> | undefined;
    return data?.request !== undefined || data?.notApplicable !== undefined ? job : undefined;
  }

  /**
   * Asked once per job list: the destinations a job's exports are looked up for (the configured ones, then any a
   * result was sent to before), and whether the shared queue of earlier releases holds anything. Most installations'
   * holds nothing, and looking in it costs each job two Redis round trips per destination.
   */
  private async exportLookup(): Promise<ExportLookup> {
    const [former, legacyJobs] = await Promise.all([this.formerDestinations(),
      this.legacyExports.getJobCountByTypes('waiting', 'waiting-children', 'delayed', 'prioritized', 'active', 'completed', 'failed')]);
    return { destinations: [...this.options.exportDestinations, ...former], legacy: legacyJobs > 0 };
  }

  async listJobs(filter: JobFilter): Promise<JobRecord[]> {
    this.assertConnected();
    const lookup = await this.exportLookup();
    // One study's jobs come from the study index, each read whole.
    const indexed = filter.studyInstanceUid ? await this.indexedStudyJobs(filter.studyInstanceUid, lookup) : undefined;
    if (indexed) {
      return indexed
        .filter((r) => r.studyInstanceUid === filter.studyInstanceUid && (!filter.state || r.state === filter.state))
        // One order that does not change, as in embedded mode: paging by offset needs it.
        .sort(newestFirstThenId)
        .slice(filter.offset, filter.offset + filter.limit);
    }
    // All jobs (or, before the index is built, a study's): the newest of the BullMQ states the filter names, filtered
    // and paged on what their hashes say; only the page is then read whole (its settled state and exports, a few
    // round trips each). Reading every job whole made a page of 50 cost ~0.5 s per 2,000 jobs, twice per event poll.
    const page = (await this.recentJobs(filter.state, { endWhereAStateHasMore: true }))
      .filter((j) => !filter.studyInstanceUid || studyOf(j.job) === filter.studyInstanceUid)
      .slice(filter.offset, filter.offset + filter.limit);
    const records = await Promise.all(page.map((j) => this.toRecord(j.job, lookup)));
    // A job that moved on between the two reads (running, then done) is not shown under the state it left.
    return records.filter((r) => !filter.state || r.state === filter.state);
  }

  /** A study's jobs, read through the study index; undefined until that index is built. */
  private async indexedStudyJobs(studyInstanceUid: string, lookup: ExportLookup): Promise<JobRecord[] | undefined> {
    if (!(await this.studyIndex.ready())) return undefined;
    return Promise.all((await this.jobsById(await this.studyIndex.jobsOf(studyInstanceUid))).map((j) => this.toRecord(j, lookup)));
  }

  /**
   * The newest RECENT_JOBS_PER_STATE jobs of each BullMQ state that can hold `state` (all of them without one), each
   * with the state its set gives, newest first (then by id), back to the oldest read of a state with more: what the job
   * list pages through. A job seen in two sets (it moved while they were read) counts once, in the first.
   */
  private async recentJobs(state?: JobState, options: { readonly endWhereAStateHasMore?: boolean } = {}):
    Promise<Array<{ readonly job: Job; readonly state: JobState }>> {
    const types = state ? bullMqStatesHolding(state) : Object.keys(STATES_BY_BULLMQ);
    const bound = this.options.recentJobsPerState ?? RECENT_JOBS_PER_STATE;
    const perType = await Promise.all(types.map(async (type) =>
      (await this.analyses.getJobs([type as JobType], 0, bound - 1)).map((job) => ({ job, type }))));
    // For a list to page through: a state with more jobs than were read may have jobs made before the time it was read
    // back to; the list ends there, or a page past it would go on with the other states' older jobs and leave out that
    // state's in between. The worklist's filters take each study's newest job from all that was read.
    const end = options.endWhereAStateHasMore !== true ? -Infinity : perType.filter((read) => read.length >= bound)
      .reduce((latest, read) => Math.max(latest, readBackTo(read)), -Infinity);
    const seen = new Set<string>();
    const jobs: Array<{ job: Job; state: JobState; id: string; createdAt: number }> = [];
    for (const { job, type } of perType.flat()) {
      if (!job.id || seen.has(job.id) || job.timestamp < end) continue;
      seen.add(job.id);
      const own = (job.data as AnalysisData).notApplicable ? 'not-applicable' : STATES_BY_BULLMQ[type] ?? 'queued';
      if (!state || own === state) jobs.push({ job, state: own, id: job.id, createdAt: job.timestamp });
    }
    return jobs.sort(newestFirstThenId);
  }

  /** The first of these ids (newest first) that names a job: read one at a time, since the first nearly always does. */
  private async newestExisting(ids: readonly string[]): Promise<Job | undefined> {
    for (const id of ids) {
      const job = await this.analyses.getJob(id);
      if (job) return job;
    }
    return undefined;
  }

  /** The jobs of these ids that exist (an id indexed just before its add failed does not). */
  private async jobsById(ids: readonly string[]): Promise<Job[]> {
    const jobs = await Promise.all(ids.map((id) => this.analyses.getJob(id)));
    return jobs.filter((j): j is Job => j !== undefined);
  }

  async latestJobsByStudy(studyInstanceUids: readonly string[]): Promise<Map<string, JobRecord>> {
    const wanted = new Set(studyInstanceUids);
    const latest = new Map<string, JobRecord>();
    if (wanted.size === 0) return latest;
    this.assertConnected();
    if (await this.studyIndex.ready()) {
      const newest = await this.studyIndex.latest([...wanted]);
      const lookup = await this.exportLookup();
      const jobs = await Promise.all([...newest.values()].map((ids) => this.newestExisting(ids)));
      const found = jobs.filter((j): j is Job => j !== undefined);
      for (const record of await Promise.all(found.map((j) => this.toRecord(j, lookup)))) latest.set(record.studyInstanceUid, record);
      return latest;
    }
    const lookup = await this.exportLookup();
    for (const [study, { job }] of await this.newestJobPerStudy()) if (wanted.has(study)) latest.set(study, await this.toRecord(job, lookup));
    return latest;
  }

  /**
   * Each study's newest job among the recent ones (recentJobs' bound), with the state its BullMQ set gives: a list
   * newest first, so the first seen of a study. Nothing is read whole: the worklist's filters need the state and the
   * result, which the job's hash holds.
   */
  private async newestJobPerStudy(): Promise<Map<string, { readonly job: Job; readonly state: JobState }>> {
    const newest = new Map<string, { job: Job; state: JobState }>();
    for (const entry of await this.recentJobs()) {
      const study = studyOf(entry.job);
      if (study && !newest.has(study)) newest.set(study, entry);
    }
    return newest;
  }

  async latestDoneResults(): Promise<Map<string, ResultInstances>> {
    const results = new Map<string, ResultInstances>();
    for (const [study, { job, state }] of await this.newestJobPerStudy()) {
      const result = state === 'done' ? (job.returnvalue as ResultUids | null) : null;
      if (result) results.set(study, { mipSopInstanceUid: result.mipSopInstanceUid, segSopInstanceUid: result.segSopInstanceUid });
    }
    return results;
  }

  async studiesWithLatestJobState(state: JobState): Promise<string[]> {
    return [...(await this.newestJobPerStudy())].filter(([, entry]) => entry.state === state).map(([study]) => study);
  }

  async jobCounts(): Promise<JobCounts> {
    this.assertConnected();
    // Exports queued for a destination since taken out of EXPORT_DESTINATIONS still count (a failed one most of all).
    for (const destination of await this.formerDestinations()) this.exportQueueFor(destination);
    // Exports queued before an upgrade are still worked and shown by the jobs API: they count under their destination.
    return bullMqJobCounts(this.analyses, this.exportQueues, this.legacyExports);
  }

  analysesDoneSince(since: number, limit: number, except: ReadonlySet<string>): Promise<DoneAnalysis[]> {
    this.assertConnected();
    return bullMqAnalysesDoneSince(this.connection, this.analyses, since, limit, except);
  }

  private async toRecord(snapshot: Job, lookup: ExportLookup): Promise<JobRecord> {
    const { job, state: bullState } = await readSettled(this.analyses, snapshot);
    const data = job.data as AnalysisData;
    const state = STATES_BY_BULLMQ[bullState] ?? 'queued';
    const progress = (typeof job.progress === 'object' ? job.progress : { stage: null, progress: 0, timingsMs: {} }) as ProgressData;
    const exports = await Promise.all(lookup.destinations.map((d) => this.exportStatus(job.id ?? '', d, lookup.legacy)));
    // A job waiting for or on its next attempt says why the last one failed, as embedded; a done one, nothing.
    const retrying = (state === 'queued' || state === 'running') && job.attemptsMade > 0;
    const failure = state === 'failed' || retrying ? splitFailure(explainFailure(job.failedReason)) : { code: null, reason: null };
    return {
      id: job.id ?? '',
      studyInstanceUid: studyOf(job),
      seriesInstanceUid: data.request?.seriesInstanceUid ?? null,
      state: data.notApplicable ? 'not-applicable' : state,
      stage: progress.stage,
      progress: state === 'done' ? 100 : progress.progress,
      // As embedded counts them: every start, the one under way included (BullMQ counts an attempt once it ends); a
      // not-applicable record is no analysis and has none.
      attempts: data.notApplicable ? 0 : job.attemptsMade + (state === 'running' ? 1 : 0),
      createdAt: job.timestamp,
      startedAt: job.processedOn ?? null,
      finishedAt: job.finishedOn ?? null,
      timingsMs: progress.timingsMs,
      failureCode: data.notApplicable ? 'MIPSEG_NOT_APPLICABLE' : failure.code,
      failureReason: data.notApplicable ? data.notApplicable.reason : failure.reason,
      result: state === 'done' && !data.notApplicable ? (job.returnvalue as ResultUids) : null,
      exports: exports.filter((e): e is ExportStatus => e !== undefined),
      request: data.request ? summariseRequest(data.request) : null,
    };
  }

  /**
   * The export job of a result for a destination, in the destination's queue or (queued before an upgrade) the shared
   * one, looked in unless `legacy` is false.
   */
  private async exportJob(jobId: string, destination: string, legacy = true): Promise<{ queue: Queue; job: Job } | undefined> {
    const own = this.exportQueueFor(destination);
    const found = await own.getJob(exportJobId(jobId, destination));
    if (found) return { queue: own, job: found };
    if (!legacy) return undefined;
    const old = (await this.legacyExports.getJob(exportJobId(jobId, destination))) ?? (await this.legacyExports.getJob(legacyExportJobId(jobId, destination)));
    return old ? { queue: this.legacyExports, job: old } : undefined;
  }

  private async exportStatus(jobId: string, destination: string, legacy: boolean): Promise<ExportStatus | undefined> {
    const found = await this.exportJob(jobId, destination, legacy);
    if (!found) return undefined;
    const { job, state: s } = await readSettled(found.queue, found.job);
    const ended = s === 'completed' ? (job.returnvalue as ExportStatus | null) : null;
    // A completed export was sent, unless it ended superseded (completed unsent: see exportWorker).
    const state = s === 'completed' ? (ended?.state === 'superseded' ? 'superseded' : 'sent') : s === 'failed' ? 'failed' : job.attemptsMade > 0 ? 'retrying' : 'pending';
    // A sent export says what the destination confirmed (a superseded one, why it was not sent), not the reason an
    // earlier attempt failed.
    const detail = s === 'completed' ? ended?.detail : explainFailure(job.failedReason);
    // A superseded export's attempts are those it returned: BullMQ counts its completion, which sent nothing, as one more.
    const attempts = state === 'superseded' ? ended?.attempts ?? job.attemptsMade : job.attemptsMade;
    return { destination, state, attempts, updatedAt: job.finishedOn ?? job.processedOn ?? job.timestamp,
      ...(detail ? { detail } : {}) };
  }

  startProcessing(handlers: JobHandlers, options: ProcessingOptions): void {
    const base = { connection: this.connection as ConnectionOptions, prefix: this.options.prefix, lockDuration: this.options.lockDurationMs,
      stalledInterval: Math.max(1000, Math.round(this.options.lockDurationMs / 2)), settings: { backoffStrategy: cappedBackoff } };
    this.startWorkers(handlers, options, base);
    if (options.analyses && handlers.exportResult) {
      this.formerScan = this.workFormerDestinations(handlers.exportResult.bind(handlers), base).catch((err: unknown) =>
        this.log.error({ err }, 'cannot look for exports queued for destinations no longer configured'));
    }
  }

  private addWorker(worker: Worker): void {
    worker.on('error', this.onError(`worker ${worker.name}`));
    this.workers.push(worker);
  }

  /**
   * Exports queued for a destination EXPORT_DESTINATIONS no longer names are still sent (and shown), as the
   * embedded runner sends every export it holds: left alone they would wait in Redis for ever, unseen.
   */
  private async workFormerDestinations(exportResult: ExportHandler, base: WorkerOptions): Promise<void> {
    for (const destination of await this.formerDestinations()) {
      if (this.closing) return;
      const queue = this.exportQueueFor(destination);
      const waiting = await queue.getJobCountByTypes('waiting', 'delayed', 'prioritized', 'active', 'failed');
      if (this.closing) return;
      if (waiting === 0) {
        // Nothing of it left to send or retry: forgotten, so that job lists stop looking it up (its sent exports
        // then no longer show beside the jobs; the destinations configured now do).
        await this.connection.srem(this.destinationsKey, destination);
        continue;
      }
      this.log.warn({ destination, exports: waiting }, 'exports queued for a destination EXPORT_DESTINATIONS no longer names: still sent');
      this.addWorker(this.exportWorker(queue, exportResult, base));
    }
  }

  private startWorkers(handlers: JobHandlers, options: ProcessingOptions, base: WorkerOptions): void {
    if (options.studyChecks) {
      this.addWorker(new Worker('study-checks', async (job: Job) => {
        const { studyInstanceUid } = job.data as { studyInstanceUid: string };
        const scheduled = await this.connection.hget(this.studyChecksDueKey, studyInstanceUid);
        const waitMs = scheduled === null ? 0 : Number(scheduled) - Date.now();
        // An instance arrived while this check waited behind another study's (BullMQ reschedules only a delayed
        // check, and drops the add of a waiting one): its quiet period is started again instead of checking mid-arrival.
        // Not past the longest quiet period: a due time further ahead was set by a clock running ahead.
        if (waitMs > 0 && waitMs <= MAX_QUIET_PERIOD_MS) return this.scheduleStudyCheck(studyInstanceUid, waitMs);
        await handlers.checkStudy(studyInstanceUid);
        if (scheduled !== null) await this.connection.eval(DELETE_IF_UNCHANGED, 1, this.studyChecksDueKey, studyInstanceUid, scheduled);
      }, { ...base, concurrency: 1, maxStalledCount: STUDY_CHECK_MAX_STALLS }));
    }
    if (!options.analyses) return;
    const analyses = new Worker('analyses', (job: Job, token?: string) => this.runAnalysis(handlers, job, token),
      { ...base, concurrency: options.concurrency, maxStalledCount: this.options.maxStalls ?? MAX_STALLS });
    this.finishedRequests.watch(analyses);
    this.addWorker(analyses);
    this.earlierSummaries = this.finishedRequests.summariseEarlier(this.analyses, () => this.closing).catch((err: unknown) =>
      this.log.warn({ err }, 'could not drop the instance lists of jobs finished by an earlier release; trying again at the next start'));
    this.studyIndexBuild = this.studyIndex.build(() => this.closing).catch((err: unknown) =>
      this.log.warn({ err }, 'could not index the jobs of an earlier release by study; trying again at the next start'));
    if (!handlers.exportResult) return;
    const exportResult = handlers.exportResult.bind(handlers);
    for (const destination of this.options.exportDestinations) this.addWorker(this.exportWorker(this.exportQueueFor(destination), exportResult, base));
    this.addWorker(this.exportWorker(this.legacyExports, exportResult, base));
  }

  private exportWorker(queue: Queue, exportResult: ExportHandler, base: WorkerOptions): Worker {
    const worker = new Worker(queue.name, async (job: Job, token?: string) => {
      // Completed, not failed: nothing went wrong, and a completed job is never retried (retryExport takes failed ones).
      const superseded = await this.supersededExport(job);
      if (superseded) return superseded;
      const status = await this.sendExport(job, token, exportResult);
      if (status.state === 'failed') throw new UnrecoverableError(status.detail ?? 'export refused');
      if (status.state !== 'sent') throw new Error(status.detail ?? 'export not sent');
      return status;
    }, { ...base, concurrency: EXPORTS_PER_DESTINATION, maxStalledCount: this.options.maxStalls ?? MAX_STALLS });
    // As the embedded runner does: an administrator reading the worker's log sees each export that did not go.
    worker.on('failed', (job, err) => {
      const data = job?.data as ExportData | undefined;
      this.log.warn({ jobId: data?.jobId, destination: data?.destination, attempt: job?.attemptsMade, detail: err.message }, 'export not sent');
    });
    return worker;
  }

  /** The export's final status where a newer result of its series is done (see supersededExportDetail): not sent. */
  private async supersededExport(job: Job): Promise<ExportStatus | undefined> {
    const data = job.data as ExportData;
    // Only through the study index: before it is built (the first start of this release) listJobs would read the newest
    // jobs of every state, up to RECENT_JOBS_PER_STATE each, at every attempt of every export. Until then exports are sent
    // unlooked, as where the look fails (see supersededExportDetail): the index is built within the worker's start.
    // Not through assertConnected: with Redis away it waits for it, as the worker's own commands do, and then looks.
    const detail = await supersededExportDetail(async () => (await this.indexedStudyJobs(data.result.studyInstanceUid, await this.exportLookup())) ?? [],
      data, this.log);
    if (detail === undefined) return undefined;
    this.log.info({ jobId: data.jobId, destination: data.destination, detail }, 'export superseded by a newer result: not sent');
    return { destination: data.destination, state: 'superseded', attempts: job.attemptsMade, detail, updatedAt: Date.now() };
  }

  /**
   * One attempt at an export. The result is read back through the gateway first: a failure to reach it (what the
   * handler throws; a destination's own failures come back as a status) waits for it as an analysis does, using no
   * attempt, and names the socket error once the wait is over.
   */
  private async sendExport(job: Job, token: string | undefined, exportResult: ExportHandler): Promise<ExportStatus> {
    const data = job.data as ExportData;
    try {
      const status = await this.jobsInHand.run(() => exportResult(data.jobId, data.result, data.destination, job.attemptsMade + 1));
      this.gatewayFailures.recovered();
      await this.gatewayReachedAgain(job);
      return status;
    } catch (err) {
      const socketError = await this.afterFailedAttempt(job, token, err, this.options.exportRetry);
      if (!socketError) throw err;
      throw new Error(`${toMipsegError(err).message}${unreachableGateway(socketError)}`, { cause: err });
    }
  }

  private async runAnalysis(handlers: JobHandlers, job: Job, token: string | undefined): Promise<ResultUids | null> {
    const { request } = job.data as AnalysisData;
    if (!request) return null;
    // Only a finished job is summarised, and nothing runs a finished job again; should something, it says so.
    if (!('sopInstanceUids' in request)) throw new UnrecoverableError('MIPSEG_INTERNAL: a finished job cannot run again');
    const timingsMs: Partial<Record<Stage, number>> = {};
    const progress = {
      stage: (stage: Stage, value: number) => job.updateProgress({ stage, progress: Math.round(value), timingsMs } satisfies ProgressData),
      timing: (stage: Stage, ms: number) => {
        timingsMs[stage] = Math.round(ms);
      },
    };
    try {
      const result = await this.jobsInHand.run(() => handlers.analyze(job.id ?? '', request, progress));
      this.gatewayFailures.recovered();
      await job.updateProgress({ stage: null, progress: 100, timingsMs } satisfies ProgressData);
      for (const destination of this.options.exportDestinations) await this.addExport(job.id ?? '', destination, result);
      return result;
    } catch (err) {
      const socketError = await this.afterFailedAttempt(job, token, err, this.options.analysisRetry);
      const error = toMipsegError(err);
      // "CODE: message" keeps the catalogue code in BullMQ's failedReason for the jobs API.
      const text = `${error.code}: ${error.message}${unreachableGateway(socketError)}`;
      throw isUnrecoverable(err) ? new UnrecoverableError(text) : new Error(text);
    }
  }

  /**
   * After a failed attempt of an analysis or an export: one that could not reach the gateway is put back to wait for
   * it while GATEWAY_WAIT_MAX_MS lasts (this throws DelayedError); one that failed for another reason got past the
   * gateway, and a later outage is a new wait. The socket error, where the gateway could not be reached.
   */
  private async afterFailedAttempt(job: Job, token: string | undefined, err: unknown, retry: RetryPolicy): Promise<string | undefined> {
    const socketError = gatewaySocketError(err);
    if (socketError && this.stillWaitingForGateway(job)) await this.postponeForGateway(job, token, err, retry);
    if (!socketError) await this.gatewayReachedAgain(job);
    return socketError;
  }

  /** Whether the job (an analysis or an export) has waited for the gateway less than GATEWAY_WAIT_MAX_MS so far. */
  private stillWaitingForGateway(job: Job): boolean {
    const since = (job.data as GatewayWait).gatewayUnreachableSince;
    return since === undefined || Date.now() - since < (this.options.gatewayWaitMaxMs ?? GATEWAY_WAIT_MAX_MS);
  }

  /**
   * An analysis that failed for another reason got past the gateway: a later restart of it is a new wait, not the
   * rest of the first (GATEWAY_WAIT_MAX_MS counts one outage, without a break).
   */
  private async gatewayReachedAgain(job: Job): Promise<void> {
    const data = job.data as GatewayWait;
    if (data.gatewayUnreachableSince === undefined) return;
    // Stored as JSON: an undefined member is left out.
    await job.updateData({ ...data, gatewayUnreachableSince: undefined });
  }

  /** Puts the job back as delayed, using no attempt, until the gateway answers again (see GATEWAY_RETRY_MIN_MS). */
  private async postponeForGateway(job: Job, token: string | undefined, err: unknown, retry: RetryPolicy): Promise<never> {
    this.gatewayFailures.failed(err, { jobId: job.id });
    const data = job.data as GatewayWait;
    if (data.gatewayUnreachableSince === undefined) await job.updateData({ ...data, gatewayUnreachableSince: Date.now() });
    await job.moveToDelayed(Date.now() + Math.max(GATEWAY_RETRY_MIN_MS, retry.baseDelayMs), token);
    throw new DelayedError();
  }

  private async addExport(jobId: string, destination: string, result: ResultUids): Promise<void> {
    // Remembered first, so that an export queued for a destination later taken out of the configuration is still found.
    await this.connection.sadd(this.destinationsKey, destination);
    await this.exportQueueFor(destination).add('export', { jobId, destination, result } satisfies ExportData, {
      jobId: exportJobId(jobId, destination),
      attempts: this.options.exportRetry.attempts,
      backoff: { type: CAPPED_EXPONENTIAL, delay: this.options.exportRetry.baseDelayMs },
      removeOnComplete: false,
      removeOnFail: false,
      stackTraceLimit: FAILURE_TRACES_KEPT,
    });
  }

  async pruneFinishedJobs(finishedBefore: number): Promise<number> {
    this.assertConnected();
    // Without the study index a study's jobs cannot all be found, and what is kept could not be told: the next day.
    if (!(await this.studyIndex.ready())) {
      this.log.info('job records are not pruned until the jobs of an earlier release are indexed by study');
      return 0;
    }
    let removed = 0;
    const lookup = await this.exportLookup();
    // A study with one job keeps it (its newest): only studies with several are read.
    for (const study of await this.studyIndex.studiesWithSeveralJobs()) {
      if (this.closing) break;
      const jobs = await this.listJobs({ studyInstanceUid: study, limit: Number.MAX_SAFE_INTEGER, offset: 0 });
      const gone: string[] = [];
      for (const id of prunableJobIds(jobs, finishedBefore)) {
        if (await this.removeJobAndExports(id, lookup)) gone.push(id);
      }
      await this.studyIndex.remove(study, gone);
      removed += gone.length;
    }
    return removed;
  }

  /**
   * Removes a finished analysis and its exports, unless one of them has moved on since the job list was read (an export
   * retried by hand, say) or cannot be removed (held by a worker, or removed by another gateway's pruning first): then
   * it stays, for the next day, and the rest of the run goes on. Whether it was removed.
   */
  private async removeJobAndExports(jobId: string, { destinations, legacy }: ExportLookup): Promise<boolean> {
    const finished = async (job: Job): Promise<boolean> => ['completed', 'failed'].includes(await job.getState());
    try {
      const analysis = await this.analyses.getJob(jobId);
      if (!analysis || !(await finished(analysis))) return false;
      const exports: Job[] = [];
      for (const destination of destinations) {
        const found = await this.exportJob(jobId, destination, legacy);
        if (found) exports.push(found.job);
      }
      for (const job of exports) if (!(await finished(job))) return false;
      for (const job of exports) await job.remove();
      await analysis.remove();
      return true;
    } catch (err) {
      this.log.warn({ err, jobId }, 'a finished job could not be removed; it stays until the next pruning');
      return false;
    }
  }

  /** Sends a result to a destination again (the worklist's retry button). */
  async retryExport(jobId: string, destination: string): Promise<boolean> {
    this.assertConnected();
    // The destination comes from a request: one never exported to has no export, and must not get a queue object
    // (exportQueueFor keeps each for the life of the process).
    if (!this.options.exportDestinations.includes(destination) && !(await this.connection.sismember(this.destinationsKey, destination))) {
      return false;
    }
    const found = await this.exportJob(jobId, destination);
    const job = found?.job;
    if (!found || !job?.id || (await job.getState()) !== 'failed') return false;
    // BullMQ's retry resets the attempts but not the stall count ("stc"): an export failed by its stalls would fail
    // again at its next one. It gets them all back, as it gets its attempts.
    await this.connection.hdel(found.queue.toKey(job.id), 'stc');
    try {
      await job.retry('failed', { resetAttemptsMade: true });
    } catch {
      return false; // a second click, or another gateway, moved it out of the failed state first
    }
    return true;
  }

  async ping(): Promise<void> {
    this.assertConnected();
    // Connected is not enough: a Redis that hangs (or dies while the PING is on the wire, which ioredis then
    // resends after reconnecting) would hold the caller until it answers again.
    await withTimeout(this.connection.ping(), PING_TIMEOUT_MS,
      () => new MipsegError('MIPSEG_QUEUE_UNAVAILABLE', `Redis did not answer PING within ${PING_TIMEOUT_MS} ms`));
  }

  /**
   * Asked while disconnected, a command waits in ioredis' offline queue until Redis is back (maxRetriesPerRequest
   * is null for BullMQ's sake): reads that answer a person (the worklist, the jobs API, a deletion's guard) fail
   * at once instead, as a 503. Writes still wait: the study-check outbox and the workers rely on that.
   */
  private assertConnected(): void {
    if (this.connection.status !== 'ready') {
      throw new MipsegError('MIPSEG_QUEUE_UNAVAILABLE', `Redis is not connected (${this.connection.status})`);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    // What only reads or writes Redis is waited for while Redis answers: with it away, it could end only once Redis
    // is back, and a worker stopped during an outage with nothing in hand waited out WORKER_SHUTDOWN_MS.
    await whileRedisAnswers(this.connection, Promise.all([this.formerScan, this.earlierSummaries, this.studyIndexBuild]));
    // A study check is not waited for: a check cut short is harmless (it runs again, see STUDY_CHECK_MAX_STALLS).
    // Analyses and exports in hand are let finish, Redis or not.
    await closeWorkers(this.workers, this.jobsInHand, this.connection, (w) => w.name === 'study-checks');
    await whileRedisAnswers(this.connection, this.finishedRequests.settle());
    await Promise.all(this.queues().map((q) => q.close()));
    await closeConnection(this.connection);
  }
}

function splitFailure(text: string | undefined): { code: string | null; reason: string | null } {
  if (!text) return { code: null, reason: null };
  const m = /^(MIPSEG_[A-Z_]+): (.*)$/s.exec(text);
  return m ? { code: m[1] ?? null, reason: m[2] ?? null } : { code: 'MIPSEG_INTERNAL', reason: text };
}
