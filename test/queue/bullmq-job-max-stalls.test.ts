import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Worker } from 'bullmq';
import { loadConfig } from '@mipseg/shared/config';
import { MipsegError } from '@mipseg/shared/errors';
import { createLogger } from '@mipseg/shared/log';
import type { AnalysisPlan, ResultUids } from '@mipseg/shared/queue';
import { createJobQueue } from '@mipseg/worker';
import { useRedisWithClient } from '../support/redis';
import { until } from '../support/until';

/** Short, so that a dead worker's job is taken back within seconds (stalled jobs are looked for every second). */
const LOCK_MS = 1000;

const plan = (n: number): AnalysisPlan => ({ studyInstanceUid: '2.25.7501', seriesInstanceUid: `2.25.7501.${n}`,
  sopInstanceUids: [`2.25.7501.${n}.1`], contentHash: `c${n}`, reason: 'study-complete' });

const RESULT: ResultUids = { studyInstanceUid: '2.25.7501', mipSeriesInstanceUid: '2.25.7502', mipSopInstanceUid: '2.25.7503',
  segSeriesInstanceUid: '2.25.7504', segSopInstanceUid: '2.25.7505', lesionCount: 0, tumourAreaMm2: 0, modelName: 'm', modelVersion: '1' };

describe('JOB_MAX_STALLS', () => {
  const fixture = useRedisWithClient();

  // The queue is made as `mipseg worker` makes it, from the configuration: the budget must reach the workers.
  test('an analysis taken by workers that die is failed as stalled at the stall past JOB_MAX_STALLS, not at the default', async () => {
    const prefix = `t-${randomUUID()}`;
    const config = loadConfig({ REDIS_URL: fixture.redis.url, QUEUE_PREFIX: prefix, JOB_LOCK_MS: String(LOCK_MS), JOB_MAX_STALLS: '1' });
    const queue = createJobQueue(config, createLogger('silent'));
    // The configured worker is kept busy (WORKER_CONCURRENCY 1), so that only the dying worker takes the job; its own
    // stalled-job check still runs, with its budget.
    let releaseBusy: (() => void) | undefined;
    queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (jobId) => (jobId === 'busy'
      ? new Promise<ResultUids>((r) => { releaseBusy = () => r(RESULT); }) : Promise.resolve(RESULT)) },
    { concurrency: 1, studyChecks: false, analyses: true });
    // A worker that takes the job and dies: fetched by hand, its lock never renewed (no stalled-job check of its own).
    const dying = new Worker('analyses', undefined, { connection: fixture.connection, prefix, lockDuration: LOCK_MS, autorun: false });
    const takeAndDie = async (stall: number): Promise<void> => {
      const job = await until(async () => (await dying.getNextJob(randomUUID(), { block: false })) ?? undefined, `the job to be taken (${stall})`);
      expect(job.id).toBe('stalls');
    };
    try {
      await queue.enqueueAnalysis('busy', plan(1));
      await until(() => Promise.resolve(releaseBusy ? true : undefined), 'the configured worker to be busy');
      await queue.enqueueAnalysis('stalls', plan(2));
      await takeAndDie(1); // taken back: one stall is within the budget
      await takeAndDie(2); // past it: marked to fail (at the default of 5 it would be taken back to run again)
      // The configured worker, free again, takes it back from the second death and fails it, unrun (BullMQ fails a job
      // past its stall budget when it is next taken up).
      releaseBusy?.();
      const ended = await until(async () => {
        const job = await queue.getJob('stalls');
        return job?.state === 'failed' || job?.state === 'done' ? job : undefined;
      }, 'the job to end');
      expect([ended.state, ended.failureReason]).toEqual(['failed', expect.stringMatching(/^job stalled more than allowable limit: its worker stopped/)]);
    } finally {
      releaseBusy?.();
      await dying.close();
      await queue.close();
    }
  }, 60_000);

  test('is read once, 1 to 100, as README\'s configuration table says; 5 by default', () => {
    const readme = readFileSync(resolve(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme.split('\n').find((line) => line.startsWith('| `JOB_MAX_STALLS`'))).toMatch(/^\| `JOB_MAX_STALLS` \| 5 \|.* 1 to 100 \|$/);
    expect(loadConfig({}).pipeline.jobMaxStalls).toBe(5);
    expect(loadConfig({ JOB_MAX_STALLS: '100' }).pipeline.jobMaxStalls).toBe(100);
    for (const value of ['0', '101', 'five']) {
      expect(() => loadConfig({ JOB_MAX_STALLS: value })).toThrow(expect.objectContaining({ code: 'MIPSEG_CONFIG_INVALID' }) as MipsegError);
    }
  });
});
