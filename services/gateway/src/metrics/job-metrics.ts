import { Gauge, Histogram, type Registry } from 'prom-client';
import { DEFAULTS } from '@mipseg/shared/config';
import { RepeatedFailureLog, type Logger } from '@mipseg/shared/log';
import { STAGES, type DoneAnalysis, type ExportState, type JobCounts, type JobQueue, type JobState } from '@mipseg/shared/queue';
import { QUEUE_READ_TIMEOUT_MS, readQueue } from '../queue-read';

const JOB_STATES: readonly JobState[] = ['queued', 'running', 'done', 'not-applicable', 'failed'];
const EXPORT_STATES: readonly ExportState[] = ['pending', 'retrying', 'sent', 'failed', 'superseded'];
const KNOWN_EXPORT_STATES: ReadonlySet<string> = new Set(EXPORT_STATES);
/** The state label of an export in a state this release does not know (a row written by another): one value, however many. */
const UNKNOWN_STATE = 'unknown';

/**
 * How late a job's finish may be seen after one with a later finishedAt. Jobs finished this long before the latest one
 * counted are read again (those counted are left out by id), so that none is missed and none counted twice. Queue
 * mode: each worker stamps finishedOn by its own clock, which may run behind another's. Embedded: one process stamps
 * and writes each finish at once, in order; the margin is for a clock stepped back. A finish is taken as no later than
 * the gateway's clock (observe, sinceForPage), so a clock running ahead (a worker's, or one stepped forward and back)
 * never moves the window past jobs still to finish: a worker's clock may run any amount ahead, and this much behind.
 */
export const LATE_FINISH_MS: Readonly<Record<JobQueue['mode'], number>> = { bullmq: 60_000, embedded: 2_000 };
/** Seconds past the quiet period over which result latencies are told apart finely: a study's analysis (seconds), typically. */
const FINE_AFTER_QUIET = [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5];
/** Past those: a backlog, retries, a slow worker. */
const COARSE_LATENCY = [10, 15, 20, 30, 45, 60, 120, 300, 600, 1800, 3600];

/**
 * mipseg_result_latency_seconds's buckets for a quiet period: every study waits it out first, so fixed buckets put
 * nearly all of them in one (5-10 s with QUIET_PERIOD_MS 5000). Half a second apart over the 5 s after it, then coarse.
 */
export function resultLatencyBuckets(quietPeriodMs: number): number[] {
  const quiet = quietPeriodMs / 1000;
  const fine = FINE_AFTER_QUIET.map((s) => quiet + s);
  const last = fine[fine.length - 1] ?? quiet;
  return [...fine, ...COARSE_LATENCY.map((s) => quiet + s).filter((s) => s > last)];
}

/** Done analyses read per page, and pages per scrape: a backlog (a gateway that was not scraped for hours) is caught up over a few scrapes. */
const DONE_PAGE = 500;
const DONE_PAGES_PER_SCRAPE = 4;

/** A read of the queue within what is left of the scrape's limit. */
type QueueRead = <T>(work: Promise<T>, what: string) => Promise<T>;

export interface JobMetricsOptions {
  readonly queue: JobQueue;
  /** EXPORT_DESTINATIONS: each shows every export state, 0 where none, so that `failed > 0` has a series to alert on. */
  readonly exportDestinations: readonly string[];
  /** When an instance of a study was last stored (IngestMetrics.lastStoredAt). */
  readonly lastStoredAt: (studyInstanceUid: string) => number | undefined;
  /** QUIET_PERIOD_MS, which the result latency's buckets follow (resultLatencyBuckets); its default where not given. */
  readonly quietPeriodMs?: number;
  readonly log: Logger;
  readonly now?: () => number;
}

/**
 * The job store as /metrics shows it, read at each scrape (JobQueue.jobCounts: counts from indexes, in both modes),
 * and the histograms of done analyses, fed from the jobs done since the last scrape: each counted once, by id, and
 * only those done after this process started (a restart resets them, as Prometheus expects of a restarted target).
 */
export class JobMetrics {
  private readonly jobs: Gauge<'state'>;
  private readonly oldestWaiting: Gauge;
  private readonly exports: Gauge<'destination' | 'state'>;
  private readonly queueUp: Gauge;
  private readonly latency: Histogram;
  private readonly stages: Histogram<'stage'>;
  private readonly now: () => number;
  private readonly startedAt: number;
  /** Done analyses counted, by id, with their finishedAt: those within LATE_FINISH_MS of the latest. */
  private readonly counted = new Map<string, number>();
  private latestFinish: number;
  private readonly readFailures: RepeatedFailureLog;
  private refreshing: Promise<void> | undefined;

  constructor(registry: Registry, private readonly options: JobMetricsOptions) {
    const registers = [registry];
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.latestFinish = this.startedAt;
    this.readFailures = new RepeatedFailureLog(options.log, { level: 'warn', message: '/metrics could not read the job queue',
      recoveredMessage: '/metrics reads the job queue again' });
    this.jobs = new Gauge({ name: 'mipseg_jobs', registers, labelNames: ['state'],
      help: 'Analysis jobs kept in the job store by state (queued, running, done, not-applicable, failed); in queue mode not-applicable records count as done' });
    this.oldestWaiting = new Gauge({ name: 'mipseg_oldest_waiting_job_age_seconds', registers,
      help: 'Age of the oldest analysis job waiting for a worker (queued, not waiting out a retry delay); 0 when none waits' });
    this.exports = new Gauge({ name: 'mipseg_exports', registers, labelNames: ['destination', 'state'],
      help: 'Result exports of the jobs still kept, by destination (EXPORT_DESTINATIONS) and state (pending, retrying, sent, failed, superseded; unknown for one this release does not know); '
        + 'in queue mode superseded ones count as sent' });
    this.queueUp = new Gauge({ name: 'mipseg_job_queue_up', registers,
      help: '1 when this scrape could read the job queue (SQLite, or Redis in queue mode); 0 when not, and the job and export gauges are then absent' });
    this.latency = new Histogram({ name: 'mipseg_result_latency_seconds', registers,
      buckets: resultLatencyBuckets(options.quietPeriodMs ?? Number(DEFAULTS.QUIET_PERIOD_MS)),
      help: 'From the last instance of a study stored (by this process, since it started) to its SEG stored, quiet period included; '
        + 'analyses planned when a study was complete, not those asked for again' });
    this.stages = new Histogram({ name: 'mipseg_analysis_stage_duration_seconds', registers, labelNames: ['stage'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      help: `Time each stage of a done analysis took (${STAGES.join(', ')}), as recorded in the job's timingsMs` });
  }

  /**
   * Reads the queue for a scrape, all its reads within one QUEUE_READ_TIMEOUT_MS, so that a slow Redis cannot hold a
   * scrape past Prometheus's default 10 s scrape_timeout; past it, job_queue_up is 0, the gauges it could not read are
   * left out, and done analyses not read yet are counted at a later scrape. Scrapes at once (two Prometheus servers)
   * share one read: two would each count the same jobs done.
   */
  refresh(): Promise<void> {
    this.refreshing ??= this.refreshNow().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshNow(): Promise<void> {
    const deadline = performance.now() + QUEUE_READ_TIMEOUT_MS;
    const read: QueueRead = (work, what) => readQueue(work, what, Math.max(0, deadline - performance.now()));
    let shown = false;
    try {
      this.show(await read(this.options.queue.jobCounts(), 'the job counts for /metrics'));
      shown = true;
      await this.observeDone(read);
      this.queueUp.set(1);
      this.readFailures.recovered();
    } catch (err) {
      if (!shown) for (const gauge of [this.jobs, this.oldestWaiting, this.exports]) gauge.reset();
      this.queueUp.set(0);
      this.readFailures.failed(err);
    }
  }

  private show(counts: JobCounts): void {
    for (const state of JOB_STATES) this.jobs.set({ state }, counts.byState[state]);
    const oldest = counts.oldestWaitingCreatedAt;
    this.oldestWaiting.set(oldest === null ? 0 : Math.max(0, (this.now() - oldest) / 1000));
    // Reset first: a destination taken out of the configuration goes once its exports are gone.
    this.exports.reset();
    for (const destination of this.options.exportDestinations) for (const state of EXPORT_STATES) this.exports.set({ destination, state }, 0);
    for (const { destination, state, count } of counts.exports) {
      this.exports.inc({ destination, state: KNOWN_EXPORT_STATES.has(state) ? state : UNKNOWN_STATE }, count);
    }
  }

  private async observeDone(read: QueueRead): Promise<void> {
    for (let page = 0; page < DONE_PAGES_PER_SCRAPE; page++) {
      const since = this.sinceForPage();
      for (const [id, finishedAt] of this.counted) if (finishedAt < since) this.counted.delete(id);
      const done = await read(this.options.queue.analysesDoneSince(since, DONE_PAGE, new Set(this.counted.keys())), 'the jobs done for /metrics');
      for (const job of done) this.observe(job);
      if (done.length < DONE_PAGE) return;
    }
  }

  /** Where the next page of done analyses starts: LATE_FINISH_MS before the latest finish counted, but never in the future. */
  private sinceForPage(): number {
    // The gateway's clock stepped back since a finish was counted: the window follows it.
    this.latestFinish = Math.min(this.latestFinish, this.now());
    return Math.max(this.startedAt, this.latestFinish - LATE_FINISH_MS[this.options.queue.mode]);
  }

  private observe(job: DoneAnalysis): void {
    this.counted.set(job.id, job.finishedAt);
    // A finish stamped ahead of this clock (a worker's running fast) must not move the window past jobs still to finish.
    this.latestFinish = Math.max(this.latestFinish, Math.min(job.finishedAt, this.now()));
    for (const stage of STAGES) {
      const ms = job.timingsMs[stage];
      if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) this.stages.observe({ stage }, ms / 1000);
    }
    // A study re-sent after its job was planned has a later last store, and one asked for again has none to measure from.
    const lastStored = this.options.lastStoredAt(job.studyInstanceUid);
    if (job.reason === 'study-complete' && lastStored !== undefined && lastStored <= job.createdAt) {
      this.latency.observe(Math.max(0, job.finishedAt - lastStored) / 1000);
    }
  }
}
