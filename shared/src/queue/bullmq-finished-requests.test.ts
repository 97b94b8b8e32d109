import type { Job, Queue } from 'bullmq';
import type IORedis from 'ioredis';
import { createLogger } from '../log';
import { FinishedRequests, type AnalysisData } from './bullmq-finished-requests';

/** A finished job as BullMQ hands it back: its data, and updateData writing it. */
function finishedJob(k: number): Job {
  const job = {
    id: `job-${k}`,
    data: { request: { studyInstanceUid: '1.2.3', seriesInstanceUid: `1.2.3.${k}`, sopInstanceUids: ['1.2.3.4.1', '1.2.3.4.2'],
      contentHash: 'abc', reason: 'study-complete', version: 1 } } as AnalysisData,
    updateData(data: AnalysisData): Promise<void> {
      job.data = data;
      return Promise.resolve();
    },
  };
  return job as unknown as Job;
}

const keepsList = (job: Job): boolean => 'sopInstanceUids' in ((job.data as AnalysisData).request ?? {});

test('summarises every job finished before the release, although jobs leave the list while it is paged through', async () => {
  // Newest first, as BullMQ pages them. After the first page, five of the newest are pruned (retention), and the five
  // that were first on the second page move onto the first, already read.
  let jobs = Array.from({ length: 450 }, (_, k) => finishedJob(k));
  const all = [...jobs];
  let pruned = false;
  const analyses = {
    getJobs: (_types: string[], start: number, end: number): Promise<Job[]> => {
      if (start > 0 && !pruned) {
        pruned = true;
        jobs = jobs.slice(5);
      }
      return Promise.resolve(jobs.slice(start, end + 1));
    },
  } as unknown as Queue;
  const marker = new Map<string, string>();
  const connection = {
    exists: (key: string) => Promise.resolve(marker.has(key) ? 1 : 0),
    set: (key: string, value: string) => Promise.resolve(void marker.set(key, value)),
  } as unknown as IORedis;
  await new FinishedRequests(connection, 'p', createLogger('silent')).summariseEarlier(analyses, () => false);
  expect(all.slice(5).filter(keepsList).map((j) => j.id)).toEqual([]);
  expect(marker.has('p:finished-requests-summarised')).toBe(true);
});
