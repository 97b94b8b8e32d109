import type { JobQueue, JobRecord } from '@mipseg/shared/queue';
import { readQueue } from '../queue-read';

/** Whether an export of the job may still change by itself (pending or retrying; sent, failed and superseded stay). */
export const isExporting = (job: { readonly exports: ReadonlyArray<{ readonly state: string }> }): boolean =>
  job.exports.some((e) => e.state === 'pending' || e.state === 'retrying');

/** What of an export its changes are told by: as the queue has it, or as a page was shown it (an ExportSummary). */
export interface ExportState {
  readonly destination: string;
  readonly state: string;
  readonly attempts: number;
  readonly updatedAt: number;
}

/** A job's exports as one string: updatedAt too, as a retried export that fails again at once ends as it began (failed, 1 attempt). */
export const exportsKey = (exports: ReadonlyArray<ExportState>): string =>
  exports.map((e) => `${e.destination}=${e.state}/${e.attempts}/${e.updatedAt}`).join(',');

/** A job as a page was shown it, asked to be followed. */
export interface ShownJob {
  readonly jobId: string;
  readonly exports: ReadonlyArray<ExportState>;
}

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

/**
 * What one poll's reads of the followed jobs found: the studies of those whose exports changed (never rejected; a read
 * that failed or was slow finds no change), and when every read it started has ended (slow ones past their timeout too).
 */
export interface FollowedRead {
  readonly changed: Promise<string[]>;
  readonly settled: Promise<unknown>;
}

/**
 * Jobs whose exports are under way though they may be older than the newest jobs each poll reads (an export retried
 * long after its job): read by id on each poll until every export has settled, the job is gone from the queue, or
 * no study view has asked for it for `followForMs`. Each is compared with itself only (its exports as last read, or as
 * shown when first asked for), so that a job starting or stopping being followed is no change: a study's key built
 * from the jobs that happened to be followed reported every study of a listed page at the next poll, and each job
 * that settled twice, and a first page, which reads its list at every event, read it twice.
 */
export class FollowedExports {
  /** Each job's last request; kept in the order of those requests, so the first is the one asked for longest ago. */
  private readonly requestedAt = new Map<string, number>();
  /**
   * Each job's exports (exportsKey) as last read, or until its first read as the page that asked was shown them: a
   * change between the page's read and the poll's (an export retried or sent in between) is sent like any other.
   */
  private readonly seen = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly queue: JobQueue, private readonly options: FollowedExportsOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.requestedAt.size;
  }

  has(jobId: string): boolean {
    return this.requestedAt.has(jobId);
  }

  /** Follows `job` (again); past maxJobs lets go of the job asked for longest ago, and answers its id. */
  follow(job: ShownJob): string | undefined {
    this.requestedAt.delete(job.jobId);
    this.requestedAt.set(job.jobId, this.now());
    // As last read where it was: the page asking may have read it before another page did, and all hear one change.
    if (!this.seen.has(job.jobId)) this.seen.set(job.jobId, exportsKey(job.exports));
    if (this.requestedAt.size <= this.options.maxJobs) return undefined;
    const [oldest] = this.requestedAt.keys();
    if (oldest !== undefined) this.forget(oldest);
    return oldest;
  }

  clear(): void {
    this.requestedAt.clear();
    this.seen.clear();
  }

  /** Reads every followed job, each on its own: one that fails or is slow leaves the others' changes to go out. */
  read(): FollowedRead {
    this.dropUnrequested();
    const asked = [...this.requestedAt];
    const reads = asked.map(async ([id]) => this.queue.getJob(id));
    const timed = reads.map((read, i) => readQueue(read, `job ${(asked[i] as [string, number])[0]}`, this.options.readTimeoutMs));
    const changed = Promise.allSettled(timed).then((results) => this.settle(asked, results));
    return { changed, settled: Promise.allSettled(reads) };
  }

  private settle(asked: Array<[string, number]>, results: Array<PromiseSettledResult<JobRecord | undefined>>): string[] {
    const changed: string[] = [];
    results.forEach((result, i) => {
      const [id, requestedAt] = asked[i] as [string, number];
      // Asked for again while it was read (a Retry just pressed): followed on, whatever this read found.
      const askedAgain = this.requestedAt.get(id) !== requestedAt;
      // A read that failed or was slow: compared at the next poll, against what was seen before it.
      if (result.status === 'rejected') return;
      const job = result.value;
      // Gone from the queue (its study deleted, which the archive reports; Redis flushed): nothing of it can change.
      if (!job) {
        if (!askedAgain) this.forget(id);
        return;
      }
      const key = exportsKey(job.exports);
      if (this.seen.get(id) !== key) changed.push(job.studyInstanceUid);
      this.seen.set(id, key);
      // Followed until this poll has seen its exports settle: that change is sent, and letting go of it is none.
      if (!(this.options.keep ?? isExporting)(job) && !askedAgain) this.forget(id);
    });
    return changed;
  }

  private dropUnrequested(): void {
    const since = this.now() - this.options.followForMs;
    for (const [id, at] of this.requestedAt) if (at < since) this.forget(id);
  }

  private forget(id: string): void {
    this.requestedAt.delete(id);
    this.seen.delete(id);
  }
}
