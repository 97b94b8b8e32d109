import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { createLogger } from '@mipseg/shared/log';
import { BullMqJobQueue, type ResultUids } from '@mipseg/shared/queue';
import { startRedis, type TestRedis } from '../support/redis';

const RESULT: ResultUids = {
  studyInstanceUid: '1.2.3',
  mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4',
  lesionCount: 1, tumourAreaMm2: 40, modelName: 'm', modelVersion: '1',
};

describe('queue mode job counts for /metrics', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  test('count the exports left in the shared queue of earlier releases under their destination, as the jobs API shows them', async () => {
    const prefix = `t-${randomUUID()}`;
    const destination = 'dimse:PACS@pacs.example:104';
    const retry = { attempts: 1, baseDelayMs: 100 };
    const connection = new IORedis(redis.url, { maxRetriesPerRequest: null });
    const oldExports = new Queue('exports', { connection, prefix });
    const queue = new BullMqJobQueue({ redisUrl: redis.url, prefix, analysisRetry: retry, exportRetry: retry,
      exportDestinations: [destination], lockDurationMs: 5000 }, createLogger('silent'));
    try {
      // As an earlier release left them (nothing works the queue here): one waiting, one waiting out a retry.
      await oldExports.add('export', { jobId: 'seg-old-1', destination, result: RESULT }, { jobId: 'seg-old-1--a' });
      await oldExports.add('export', { jobId: 'seg-old-2', destination, result: RESULT }, { jobId: 'seg-old-2--a', delay: 3_600_000 });
      const counts = await queue.jobCounts();
      expect(counts.exports).toEqual(expect.arrayContaining([{ destination, state: 'pending', count: 1 }, { destination, state: 'retrying', count: 1 }]));

      // Its jobs are read again only when its counts move: they are kept for ever (removeOnComplete: false).
      const reads = jest.spyOn(Queue.prototype, 'getJobs');
      const legacyReads = (): number => reads.mock.contexts.filter((q) => (q as Queue).name === 'exports').length;
      await queue.jobCounts();
      expect(legacyReads()).toBe(0);
      await (await oldExports.getJob('seg-old-2--a'))?.promote();
      expect((await queue.jobCounts()).exports).toEqual(expect.arrayContaining([{ destination, state: 'pending', count: 2 }]));
      expect(legacyReads()).toBeGreaterThan(0);
      reads.mockRestore();
    } finally {
      await queue.close();
      await oldExports.obliterate({ force: true });
      await oldExports.close();
      connection.disconnect();
    }
  });
});
