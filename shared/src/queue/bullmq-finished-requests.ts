import type { Job, Queue, Worker } from 'bullmq';
import type IORedis from 'ioredis';
import type { Logger } from '../log';
import type { JobRequestSummary } from './job-types';
import { summariseRequest, type StoredAnalysisRequest } from './request-summary';

/** What the analyses queue holds in a job's data (a not-applicable record has no request). */
export interface AnalysisData {
  readonly request?: StoredAnalysisRequest;
  readonly notApplicable?: { readonly studyInstanceUid: string; readonly reason: string };
  /** When the analysis first found the gateway unreachable, while it waits for it (ms since the epoch). */
  readonly gatewayUnreachableSince?: number;
}

/** Finished jobs of earlier releases are summarised this many at a time. */
const PAGE = 200;

/**
 * Replaces a finished analysis's instance list by its length (summariseRequest), so that Redis does not hold
 * 20–45 kB for every study ever analysed. A job that cannot be summarised (Redis away at that moment) keeps its list:
 * nothing is lost, it only stays larger.
 */
export class FinishedRequests {
  private readonly pending = new Set<Promise<void>>();
  private readonly doneKey: string;

  constructor(private readonly connection: IORedis, prefix: string, private readonly log: Logger) {
    // Set once every job finished before this release has been summarised, so that later starts do not read them all again.
    this.doneKey = `${prefix}:finished-requests-summarised`;
  }

  /** Summarises each job this worker completes, or fails for the last time. */
  watch(worker: Worker): void {
    worker.on('completed', (job) => this.track(this.summarise(job)));
    worker.on('failed', (job) => {
      if (job?.finishedOn) this.track(this.summarise(job)); // finishedOn is set only when no retry follows
    });
  }

  /** Jobs finished before this release kept their lists: summarised once, in the background of a worker's start. */
  async summariseEarlier(analyses: Queue, closing: () => boolean): Promise<void> {
    if (await this.connection.exists(this.doneKey)) return;
    let summarised = 0;
    // Pages by offset, newest first, while workers finish more jobs: each one finished pushes the older ones a place
    // back, and one pushed past the page being read is missed. So passes repeat until one finds nothing to summarise
    // (the jobs finished meanwhile summarise themselves, see watch).
    for (;;) {
      let found = 0;
      for (let start = 0; ; start += PAGE) {
        if (closing()) return;
        const jobs = await analyses.getJobs(['completed', 'failed'], start, start + PAGE - 1);
        if (jobs.length === 0) break;
        for (const job of jobs) if (await this.summarise(job)) found++;
      }
      summarised += found;
      if (found === 0) break;
    }
    await this.connection.set(this.doneKey, String(Date.now()));
    if (summarised > 0) this.log.info({ jobs: summarised }, 'finished jobs no longer keep their instance lists');
  }

  /** Resolves when every summary started has been written (or given up). */
  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private track(work: Promise<unknown>): void {
    const done = work.then(() => undefined);
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  private async summarise(job: Job): Promise<boolean> {
    const data = job.data as AnalysisData;
    if (!data.request || !('sopInstanceUids' in data.request)) return false;
    const request: JobRequestSummary = summariseRequest(data.request);
    try {
      await job.updateData({ ...data, request } satisfies AnalysisData);
      return true;
    } catch (err) {
      this.log.debug({ err, jobId: job.id }, 'a finished job keeps its instance list');
      return false;
    }
  }
}
