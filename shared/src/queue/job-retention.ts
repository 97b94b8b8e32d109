import { DAY_MS, runDaily, type DailyOptions } from '../async';
import { isMipsegError } from '../errors';
import type { Logger } from '../log';
import type { JobQueue } from './job-queue';
import { newestFirstThenId } from './job-order';
import type { JobRecord } from './job-types';
import { newestAnalysisBySeries } from './newest-analysis';

const FINISHED = new Set(['done', 'failed', 'not-applicable']);

/** Whether an export of the job is still to be sent (pending, or waiting for its next attempt). */
const exportOutstanding = (job: JobRecord): boolean => job.exports.some((e) => e.state === 'pending' || e.state === 'retrying');

/**
 * The ids of one study's jobs whose records JOB_RETENTION_DAYS removes: finished before `finishedBefore`, and none
 * of what the service still reads (JobQueue.pruneFinishedJobs): the study's newest job (its AI status on the
 * worklist) and newest done job (its results), each series' newest analysis (what content counts as new, see
 * planStudy, and its next result version), and jobs with an export still to be sent. `jobs` are all the study's.
 */
export function prunableJobIds(jobs: readonly JobRecord[], finishedBefore: number): string[] {
  const newestFirst = [...jobs].sort(newestFirstThenId);
  const kept = new Set<string>();
  const newest = newestFirst[0];
  if (newest) kept.add(newest.id);
  const newestDone = newestFirst.find((j) => j.state === 'done');
  if (newestDone) kept.add(newestDone.id);
  for (const job of newestAnalysisBySeries(jobs).values()) kept.add(job.id);
  return newestFirst
    .filter((j) => FINISHED.has(j.state) && j.finishedAt !== null && j.finishedAt < finishedBefore)
    .filter((j) => !kept.has(j.id) && !exportOutstanding(j))
    .map((j) => j.id);
}

/**
 * Removes, at start-up and then daily, the records of jobs finished more than `days` ago (JOB_RETENTION_DAYS): one
 * per analysis, kept for ever they grow jobs.sqlite, or Redis's memory in queue mode, with every study. A run that
 * finds the queue unavailable (Redis still connecting at start-up, or away) is tried again a minute later, quietly
 * until it has failed for an hour; any other failure is logged and tried again the next day. The service is not
 * affected either way.
 */
export function scheduleJobPruning(queue: JobQueue, days: number, log: Logger, options: DailyOptions = {}): { stop(): Promise<void> } {
  let unavailableSince: number | undefined;
  return runDaily(async () => {
    try {
      const jobs = await queue.pruneFinishedJobs(Date.now() - days * DAY_MS);
      unavailableSince = undefined;
      if (jobs) log.info({ jobs, retentionDays: days }, 'removed the records of old finished jobs');
    } catch (err) {
      if (isMipsegError(err, 'MIPSEG_QUEUE_UNAVAILABLE')) {
        unavailableSince ??= Date.now();
        if (Date.now() - unavailableSince < UNAVAILABLE_QUIET_MS) return 'again-soon';
        log.warn({ err, retentionDays: days }, 'could not remove the records of old finished jobs: the job queue is unavailable; trying again');
        unavailableSince = Date.now();
        return 'again-soon';
      }
      log.warn({ err, retentionDays: days }, 'could not remove the records of old finished jobs; trying again tomorrow');
    }
    return 'done';
  }, options);
}

/** How long job pruning retries an unavailable queue without a word (Redis connecting at start-up takes a moment). */
const UNAVAILABLE_QUIET_MS = 3_600_000;
