import type { Queue } from 'bullmq';
import type IORedis from 'ioredis';
import type { Logger } from '../log';
import type { AnalysisData } from './bullmq-finished-requests';

/** Jobs of earlier releases are indexed this many at a time. */
const PAGE = 500;
const ALL_STATES = ['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed'] as const;

/**
 * Each study's analysis jobs, newest last: a Redis sorted set per study (score: when the job was added). BullMQ has
 * no index by anything but state, and a job list reads at most its newest 5,000 jobs; without this a study whose
 * jobs had fallen out of that window (each non-PET study routed in adds a not-applicable record) showed in the
 * worklist as never analysed, with no result and no history.
 */
export class StudyJobIndex {
  private readonly builtKey: string;
  private built = false;

  constructor(private readonly connection: IORedis, private readonly prefix: string, private readonly log: Logger) {
    // Set once every job added before this index existed has been indexed (by the first worker of this release).
    this.builtKey = `${prefix}:study-jobs-indexed`;
  }

  private key(studyInstanceUid: string): string {
    return `${this.prefix}:study-jobs:${studyInstanceUid}`;
  }

  /** Called before the job is added: a job that exists is always indexed (one that failed to be added is skipped on reading). */
  async add(studyInstanceUid: string, jobId: string, at = Date.now()): Promise<void> {
    await this.connection.zadd(this.key(studyInstanceUid), at, jobId);
  }

  /** Whether every job is indexed, so that lookups may rely on the index alone. */
  async ready(): Promise<boolean> {
    this.built ||= (await this.connection.exists(this.builtKey)) === 1;
    return this.built;
  }

  /** The newest job id of each study that has one. */
  async latest(studyInstanceUids: readonly string[]): Promise<Map<string, string>> {
    const pipeline = this.connection.pipeline();
    for (const uid of studyInstanceUids) pipeline.zrange(this.key(uid), '-1', '-1');
    const replies = (await pipeline.exec()) ?? [];
    const latest = new Map<string, string>();
    replies.forEach(([err, ids], i) => {
      if (err) throw err;
      const id = (ids as string[])[0];
      if (id !== undefined) latest.set(studyInstanceUids[i] as string, id);
    });
    return latest;
  }

  /** A study's job ids, newest first. */
  async jobsOf(studyInstanceUid: string): Promise<string[]> {
    return this.connection.zrevrange(this.key(studyInstanceUid), 0, -1);
  }

  /** Indexes the jobs added before this index existed, once, in the background of a worker's start. */
  async build(analyses: Queue, closing: () => boolean): Promise<void> {
    if (await this.ready()) return;
    let indexed = 0;
    for (let start = 0; !closing(); start += PAGE) {
      const jobs = await analyses.getJobs([...ALL_STATES], start, start + PAGE - 1, true);
      if (jobs.length === 0) {
        await this.connection.set(this.builtKey, String(Date.now()));
        if (indexed > 0) this.log.info({ jobs: indexed }, 'jobs of earlier releases indexed by study');
        return;
      }
      const pipeline = this.connection.pipeline();
      for (const job of jobs) {
        const data = job.data as AnalysisData;
        const study = data.request?.studyInstanceUid ?? data.notApplicable?.studyInstanceUid;
        if (study && job.id) pipeline.zadd(this.key(study), job.timestamp, job.id);
      }
      await pipeline.exec();
      indexed += jobs.length;
    }
  }
}
