import type { JobQueue } from '@mipseg/shared/queue';

const WAITING = 'it is waiting for more images (quiet period), then for analysis; try again once its job has finished';

/**
 * Why a study may not be deleted now: while it waits out its quiet period (in the queue, or still in the
 * study-check outbox while Redis is away: `pendingHere`), or its analysis is queued or running, a deletion would be
 * followed by an analysis of a study that is gone. Undefined when nothing of the study is in flight. The queue must
 * answer: while it cannot (Redis away) this rejects with MIPSEG_QUEUE_UNAVAILABLE at once, rather than allow a
 * deletion it cannot vouch for or wait for Redis. The analysis itself checks again before it stores its results.
 */
export async function studyDeletionRefusal(queue: JobQueue, studyInstanceUid: string, pendingHere: readonly string[] = []): Promise<string | undefined> {
  if (pendingHere.includes(studyInstanceUid)) return WAITING;
  await queue.ping();
  if ((await queue.pendingStudies()).includes(studyInstanceUid)) return WAITING;
  // One read of the study's jobs: two (running, then queued) would miss a job that starts between them.
  const jobs = await queue.listJobs({ studyInstanceUid, limit: 100, offset: 0 });
  const busy = jobs.find((j) => j.state === 'running') ?? jobs.find((j) => j.state === 'queued');
  return busy ? `its analysis (job ${busy.id}) is ${busy.state}; try again once it has finished` : undefined;
}
