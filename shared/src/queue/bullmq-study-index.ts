import type IORedis from 'ioredis';
import type { Logger } from '../log';
import type { AnalysisData } from './bullmq-finished-requests';
import { newestFirstThenId } from './job-order';

/** Keys of earlier releases' jobs are scanned this many at a time. */
const PAGE = 500;

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

  /** When the study's newest indexed job was added (its score), if it has one. */
  async newestAddedAt(studyInstanceUid: string): Promise<number | undefined> {
    const [, score] = await this.connection.zrevrange(this.key(studyInstanceUid), 0, 0, 'WITHSCORES');
    return score === undefined ? undefined : Number(score);
  }

  /** Whether every job is indexed, so that lookups may rely on the index alone. */
  async ready(): Promise<boolean> {
    this.built ||= (await this.connection.exists(this.builtKey)) === 1;
    return this.built;
  }

  /**
   * The newest few job ids of each study, newest first: a caller takes the newest that exists, since an id is indexed
   * before its job is added and an add that failed leaves it naming nothing.
   */
  async latest(studyInstanceUids: readonly string[], few = 3): Promise<Map<string, string[]>> {
    const pipeline = this.connection.pipeline();
    for (const uid of studyInstanceUids) pipeline.zrevrange(this.key(uid), 0, few - 1, 'WITHSCORES');
    const replies = (await pipeline.exec()) ?? [];
    const latest = new Map<string, string[]>();
    replies.forEach(([err, flat], i) => {
      if (err) throw err;
      const ids = newestFirst(flat as string[]);
      if (ids.length > 0) latest.set(studyInstanceUids[i] as string, ids);
    });
    return latest;
  }

  /** The studies indexed with more than one job (found by SCAN, a page at a time, not by one KEYS). */
  async studiesWithSeveralJobs(): Promise<string[]> {
    const prefix = this.key('');
    const studies: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.connection.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const counts = this.connection.pipeline();
      for (const key of keys) counts.zcard(key);
      const replies = (await counts.exec()) ?? [];
      replies.forEach(([err, count], i) => {
        if (err) throw err;
        if ((count as number) > 1) studies.push((keys[i] as string).slice(prefix.length));
      });
    } while (cursor !== '0');
    return studies.sort();
  }

  /** Takes these job ids (whose records are removed) out of the study's index. */
  async remove(studyInstanceUid: string, jobIds: readonly string[]): Promise<void> {
    if (jobIds.length > 0) await this.connection.zrem(this.key(studyInstanceUid), ...jobIds);
  }

  /** A study's job ids, newest first. */
  async jobsOf(studyInstanceUid: string): Promise<string[]> {
    return newestFirst(await this.connection.zrevrange(this.key(studyInstanceUid), 0, -1, 'WITHSCORES'));
  }

  /**
   * Indexes the jobs added before this index existed, once, in the background of a worker's start. Their hashes are
   * visited by SCAN, whose order does not depend on their state: paging BullMQ's state lists skipped jobs that a
   * worker moved from one list to another meanwhile, and left them out of the index for good.
   */
  async build(closing: () => boolean): Promise<void> {
    if (await this.ready()) return;
    const match = `${this.prefix}:analyses:*`;
    let cursor = '0';
    let indexed = 0;
    do {
      if (closing()) return;
      const [next, keys] = await this.connection.scan(cursor, 'MATCH', match, 'COUNT', PAGE, 'TYPE', 'hash');
      cursor = next;
      indexed += await this.indexHashes(keys);
    } while (cursor !== '0');
    await this.connection.set(this.builtKey, String(Date.now()));
    if (indexed > 0) this.log.info({ jobs: indexed }, 'jobs of earlier releases indexed by study');
  }

  /** Indexes the jobs among these hashes (the queue's own hashes, such as its meta, hold no job data). */
  private async indexHashes(keys: readonly string[]): Promise<number> {
    const prefix = `${this.prefix}:analyses:`;
    const read = this.connection.pipeline();
    for (const key of keys) read.hmget(key, 'data', 'timestamp');
    const replies = (await read.exec()) ?? [];
    const write = this.connection.pipeline();
    let indexed = 0;
    replies.forEach(([err, fields], i) => {
      if (err) throw err;
      const [data, timestamp] = fields as [string | null, string | null];
      const jobId = (keys[i] as string).slice(prefix.length);
      const study = data === null ? undefined : studyOf(data);
      if (!study || timestamp === null || jobId.includes(':')) return;
      write.zadd(this.key(study), Number(timestamp), jobId);
      indexed++;
    });
    if (indexed > 0) await write.exec();
    return indexed;
  }
}

/** The study a job's data names, or undefined where it is not an analysis or not-applicable record. */
function studyOf(data: string): string | undefined {
  try {
    const parsed = JSON.parse(data) as AnalysisData;
    return parsed.request?.studyInstanceUid ?? parsed.notApplicable?.studyInstanceUid;
  } catch {
    return undefined;
  }
}

/**
 * Ids from a ZREVRANGE … WITHSCORES reply (id, score, id, score, …), newest first and, among ids created in the same
 * millisecond, by id: Redis orders those by id descending, the embedded job store (and listJobs) ascending.
 */
function newestFirst(flat: readonly string[]): string[] {
  const jobs: Array<{ id: string; createdAt: number }> = [];
  for (let k = 0; k + 1 < flat.length; k += 2) jobs.push({ id: flat[k] as string, createdAt: Number(flat[k + 1]) });
  return jobs.sort(newestFirstThenId).map((j) => j.id);
}
