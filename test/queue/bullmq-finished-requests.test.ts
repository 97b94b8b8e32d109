import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { MipsegError } from '@mipseg/shared/errors';
import { createLogger } from '@mipseg/shared/log';
import { BullMqJobQueue, type AnalysisRequest, type ResultUids } from '@mipseg/shared/queue';
import { useRedisWithClient } from '../support/redis';
import { until } from '../support/until';

const RESULT: ResultUids = {
  studyInstanceUid: '1.2.3',
  mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4',
  lesionCount: 1, tumourAreaMm2: 40, modelName: 'm', modelVersion: '1',
};
const UIDS = Array.from({ length: 400 }, (_, i) => `1.2.826.0.1.3680043.8.498.${i}`);
const retry = { attempts: 2, baseDelayMs: 50 };

function request(series: string): AnalysisRequest {
  return { studyInstanceUid: '1.2.3', seriesInstanceUid: series, sopInstanceUids: UIDS, contentHash: 'abc', reason: 'study-complete', version: 1 };
}

describe('queue mode: what Redis keeps of a finished analysis', () => {
  const fixture = useRedisWithClient();

  const storedRequest = async (prefix: string, id: string) =>
    (JSON.parse((await fixture.connection.hget(`${prefix}:analyses:${id}`, 'data')) ?? '{}') as { request?: Record<string, unknown> }).request;
  const summarised = (prefix: string, id: string) => until(async () => {
    const stored = await storedRequest(prefix, id);
    return stored && !('sopInstanceUids' in stored) ? stored : undefined;
  }, `job ${id} to be summarised`);
  const open = (prefix: string) => new BullMqJobQueue({ redisUrl: fixture.redis.url, prefix, analysisRetry: retry, exportRetry: retry,
    exportDestinations: [], lockDurationMs: 5000 }, createLogger('silent'));

  test('a done or failed job keeps the count of its instances; a job still to run, or to be retried, keeps the list', async () => {
    const prefix = `t-${randomUUID()}`;
    const queue = open(prefix);
    let release = (): void => undefined;
    const held = new Promise<ResultUids>((resolve) => {
      release = () => resolve(RESULT);
    });
    const attempts: Record<string, number> = {};
    try {
      // Not 'failed' or 'completed': a job id names a key beside BullMQ's own sets of that name.
      for (const id of ['seg-done', 'seg-failed', 'seg-held']) await queue.enqueueAnalysis(id, request(`1.2.3.${id}`));
      queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (id) => {
        attempts[id] = (attempts[id] ?? 0) + 1;
        if (id === 'seg-held') return held;
        // A transient failure first: the retry must still find the list.
        if (attempts[id] === 1) return Promise.reject(new Error('connection reset'));
        return id === 'seg-done' ? Promise.resolve(RESULT) : Promise.reject(new MipsegError('MIPSEG_IMAGE_INVALID', 'duplicate slice positions'));
      } }, { concurrency: 3, studyChecks: false, analyses: true });
      expect(await summarised(prefix, 'seg-done')).toMatchObject({ instanceCount: 400, seriesInstanceUid: '1.2.3.seg-done', version: 1 });
      expect(await summarised(prefix, 'seg-failed')).toMatchObject({ instanceCount: 400 });
      expect(attempts).toEqual({ 'seg-done': 2, 'seg-failed': 2, 'seg-held': 1 });
      expect((await storedRequest(prefix, 'seg-held'))?.['sopInstanceUids']).toEqual(UIDS);
      expect((await queue.getJob('seg-failed'))).toMatchObject({ state: 'failed', failureCode: 'MIPSEG_IMAGE_INVALID' });
    } finally {
      release();
      await queue.close();
    }
  });

  test('jobs finished by an earlier release are summarised once, when a worker starts', async () => {
    const prefix = `t-${randomUUID()}`;
    // As an earlier release left them: finished with their whole request.
    const old = new Queue('analyses', { connection: fixture.connection, prefix });
    const finishOld = async (ids: string[]) => {
      const worker = new Worker('analyses', (job) => (job.id === 'old-failed' ? Promise.reject(new Error('MIPSEG_IMAGE_INVALID: gap'))
        : Promise.resolve(RESULT)), { connection: fixture.connection, prefix });
      for (const id of ids) await old.add('analyze', { request: request(`1.2.3.${id}`) }, { jobId: id, removeOnComplete: false, removeOnFail: false });
      await until(async () => ((await old.getJobCountByTypes('completed', 'failed')) >= ids.length ? true : undefined), 'the old jobs');
      await worker.close();
    };
    try {
      await finishOld(['old-done', 'old-failed']);
      const queue = open(prefix);
      queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT) },
        { concurrency: 1, studyChecks: false, analyses: true });
      expect(await summarised(prefix, 'old-done')).toMatchObject({ instanceCount: 400, seriesInstanceUid: '1.2.3.old-done' });
      expect(await summarised(prefix, 'old-failed')).toMatchObject({ instanceCount: 400 });
      expect((await queue.getJob('old-done'))?.request).toMatchObject({ instanceCount: 400 });
      await until(async () => ((await fixture.connection.exists(`${prefix}:finished-requests-summarised`)) ? true : undefined), 'the marker');
      await queue.close();

      // Once done, a later start reads no finished job again (their number only grows).
      await finishOld(['old-done', 'old-failed', 'later']);
      const again = open(prefix);
      again.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT) },
        { concurrency: 1, studyChecks: false, analyses: true });
      const later = await until(() => again.getJob('later').catch(() => undefined), 'the queue to read the job'); // once connected
      expect(later.request).toMatchObject({ instanceCount: 400 });
      await again.close();
      expect((await storedRequest(prefix, 'later'))?.['sopInstanceUids']).toEqual(UIDS);
    } finally {
      await old.close();
    }
  });
});
