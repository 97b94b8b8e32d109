import type { Logger } from '@mipseg/shared/log';
import type { JobQueue, JobRecord } from '@mipseg/shared/queue';
import { readQueue } from '../queue-read';

/** Whether an export of the job may still change by itself (pending or retrying; sent, failed and superseded stay). */
export const isExporting = (job: { readonly exports: ReadonlyArray<{ readonly state: string }> }): boolean =>
  job.exports.some((e) => e.state === 'pending' || e.state === 'retrying');

export interface FollowedExportsOptions {
  /**
   * Most jobs followed, each read by id on every poll: this bounds a poll's cost at that many reads of one job, however
   * many study views ask. Past it the job asked for longest ago is let go (its page, if still open, asks again when
   * it next refreshes).
   */
  readonly maxJobs: number;
  /** A job not asked for again (its study view shown) within this long is let go: its page has most likely left. */
  readonly followForMs: number;
  /** Longest a poll waits for one job's read: a slow one is shown as last read, not holding up the others. */
  readonly readTimeoutMs: number;
  /** Whether a job as read is followed on; by default while an export is under way (isExporting). */
  readonly keep?: (job: JobRecord) => boolean;
  readonly now?: () => number;
}

/** The followed jobs one poll read, and when every read it started has ended (slow ones past their timeout too). */
export interface FollowedRead {
  readonly jobs: Promise<JobRecord[]>;
  readonly settled: Promise<unknown>;
}

/**
 * Jobs whose exports are under way though they may be older than the newest jobs each poll reads (an export retried
 * long after its job): read by id on each poll until every export has settled, the job is gone from the queue, or
 * no study view has asked for it for `followForMs`.
 */
export class FollowedExports {
  /** Each job's last request; kept in the order of those requests, so the first is the one asked for longest ago. */
  private readonly requestedAt = new Map<string, number>();
  /** Each job as last read: what a poll compares where this poll's read failed, so that no change is made up. */
  private readonly lastRead = new Map<string, JobRecord>();
  private readonly now: () => number;

  constructor(private readonly queue: JobQueue, private readonly log: Logger, private readonly options: FollowedExportsOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.requestedAt.size;
  }

  has(jobId: string): boolean {
    return this.requestedAt.has(jobId);
  }

  follow(jobId: string): void {
    this.requestedAt.delete(jobId);
    this.requestedAt.set(jobId, this.now());
    if (this.requestedAt.size <= this.options.maxJobs) return;
    const [oldest] = this.requestedAt.keys();
    if (oldest === undefined) return;
    this.forget(oldest);
    this.log.info({ jobId: oldest, maxJobs: this.options.maxJobs },
      'worklist event stream stops following the exports of the job asked for longest ago: too many followed');
  }

  clear(): void {
    this.requestedAt.clear();
    this.lastRead.clear();
  }

  /** Reads every followed job, each on its own: one that fails or is slow leaves the others' changes to go out. */
  read(): FollowedRead {
    this.dropUnrequested();
    const asked = [...this.requestedAt];
    const reads = asked.map(async ([id]) => this.queue.getJob(id));
    const timed = reads.map((read, i) => readQueue(read, `job ${(asked[i] as [string, number])[0]}`, this.options.readTimeoutMs));
    const jobs = Promise.allSettled(timed).then((results) => this.settle(asked, results));
    return { jobs, settled: Promise.allSettled(reads) };
  }

  private settle(asked: Array<[string, number]>, results: Array<PromiseSettledResult<JobRecord | undefined>>): JobRecord[] {
    const jobs: JobRecord[] = [];
    results.forEach((result, i) => {
      const [id, requestedAt] = asked[i] as [string, number];
      // Asked for again while it was read (a Retry just pressed): followed on, whatever this read found.
      const askedAgain = this.requestedAt.get(id) !== requestedAt;
      if (result.status === 'rejected') {
        const last = this.lastRead.get(id);
        if (last) jobs.push(last);
        return;
      }
      const job = result.value;
      // Gone from the queue (removed, Redis flushed): nothing of it can change any more.
      if (!job) {
        if (!askedAgain) this.forget(id);
        return;
      }
      jobs.push(job);
      this.lastRead.set(id, job);
      // Followed until this poll has seen its exports settle: that change is compared, and sent, like any other.
      if (!(this.options.keep ?? isExporting)(job) && !askedAgain) this.forget(id);
    });
    return jobs;
  }

  private dropUnrequested(): void {
    const since = this.now() - this.options.followForMs;
    for (const [id, at] of this.requestedAt) if (at < since) this.forget(id);
  }

  private forget(id: string): void {
    this.requestedAt.delete(id);
    this.lastRead.delete(id);
  }
}
