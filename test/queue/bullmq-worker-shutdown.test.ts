import { randomUUID } from 'node:crypto';
import { loadConfig } from '@mipseg/shared/config';
import { createLogger } from '@mipseg/shared/log';
import type { AnalysisPlan, JobQueue, ResultUids } from '@mipseg/shared/queue';
import { createJobQueue } from '@mipseg/worker';
import { useRedisWithClient } from '../support/redis';
import { until } from '../support/until';

const plan: AnalysisPlan = { studyInstanceUid: '2.25.7601', seriesInstanceUid: '2.25.7601.1', sopInstanceUids: ['2.25.7601.1.1'],
  contentHash: 'c1', reason: 'study-complete' };

const RESULT: ResultUids = { studyInstanceUid: '2.25.7601', mipSeriesInstanceUid: '2.25.7602', mipSopInstanceUid: '2.25.7603',
  segSeriesInstanceUid: '2.25.7604', segSopInstanceUid: '2.25.7605', lesionCount: 0, tumourAreaMm2: 0, modelName: 'm', modelVersion: '1' };

describe('mipseg worker shutdown (queue mode)', () => {
  const fixture = useRedisWithClient();

  // Each worker is made as `mipseg worker` makes it, from the configuration: WORKER_SHUTDOWN_MS must reach the queue.
  test('an analysis that outlasts WORKER_SHUTDOWN_MS is handed back as the shutdown ends: no stall counted, no attempt used', async () => {
    const prefix = `t-${randomUUID()}`;
    // One stall more than the budget, or one attempt, would fail it: two shutdowns during it must cost neither.
    const config = loadConfig({ REDIS_URL: fixture.redis.url, QUEUE_PREFIX: prefix, JOB_LOCK_MS: '1000', JOB_MAX_STALLS: '1',
      JOB_ATTEMPTS: '1', WORKER_SHUTDOWN_MS: '1000' });
    const log = createLogger('silent');
    const hungAnalyses: (() => void)[] = [];
    const startWorker = (analyze: () => Promise<ResultUids>): JobQueue => {
      const queue = createJobQueue(config, log);
      queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze }, { concurrency: 1, studyChecks: false, analyses: true });
      return queue;
    };
    const hung = () => new Promise<ResultUids>((resolve) => hungAnalyses.push(() => resolve(RESULT)));
    const closing: Promise<void>[] = [];
    let last: JobQueue | undefined;
    try {
      for (let shutdown = 1; shutdown <= 2; shutdown++) {
        const worker = startWorker(hung);
        if (shutdown === 1) await worker.enqueueAnalysis('long', plan);
        await until(() => Promise.resolve(hungAnalyses.length === shutdown ? true : undefined), `the analysis to start (${shutdown})`);
        closing.push(worker.close()); // SIGTERM: the analysis does not end within WORKER_SHUTDOWN_MS
      }
      const worker = startWorker(() => Promise.resolve(RESULT));
      last = worker;
      const job = await until(async () => {
        const j = await worker.getJob('long').catch(() => undefined); // until its connection is up
        return j?.state === 'done' || j?.state === 'failed' ? j : undefined;
      }, 'the analysis to end');
      expect({ state: job.state, attempts: job.attempts, reason: job.failureReason }).toEqual({ state: 'done', attempts: 1, reason: null });
    } finally {
      for (const release of hungAnalyses) release();
      await Promise.all([...closing, last?.close()]);
    }
  });
});
