import { randomUUID } from 'node:crypto';
import { createLogger } from '@mipseg/shared/log';
import { BullMqJobQueue, type AnalysisPlan, type JobHandlers, type ResultUids } from '@mipseg/shared/queue';
import { startRedis, type TestRedis } from '../support/redis';
import { until } from '../support/until';

const PLAN: AnalysisPlan = { studyInstanceUid: '2.25.7501', seriesInstanceUid: '2.25.7502', sopInstanceUids: ['2.25.7503'],
  contentHash: 'abc', reason: 'study-complete', resultUidSeed: 'seed' };
const RESULT: ResultUids = { studyInstanceUid: '2.25.7501', mipSeriesInstanceUid: '2.25.7504', mipSopInstanceUid: '2.25.7505',
  segSeriesInstanceUid: '2.25.7506', segSopInstanceUid: '2.25.7507', lesionCount: 0, tumourAreaMm2: 0, modelName: 'm', modelVersion: '1' };
/** Against a hang only: the close waited for ever before (the CLI gave up after WORKER_SHUTDOWN_MS, 50 s). */
const PROMPTLY_MS = 15_000;
/** Short, so that a job left by a worker stopped during the outage is taken again as stalled within seconds. */
const LOCK_MS = 2000;

function handlers(analyze: JobHandlers['analyze']): JobHandlers {
  return { checkStudy: () => Promise.resolve(), analyze,
    exportResult: (_id, _result, destination) => Promise.resolve({ destination, state: 'sent', attempts: 1, updatedAt: Date.now() }) };
}

/** How `work` ended within `ms`: 'settled', or 'still waiting'. */
function within(work: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([work.then(() => 'settled'), new Promise<string>((r) => (timer = setTimeout(() => r('still waiting'), ms)))])
    .finally(() => clearTimeout(timer));
}

describe('a queue-mode worker stopped while Redis is away', () => {
  let redis: TestRedis;
  let prefix: string;
  const open: BullMqJobQueue[] = [];
  let redisDown = false;
  beforeEach(async () => {
    redis = await startRedis();
    prefix = `t-${randomUUID()}`;
  });
  afterEach(async () => {
    if (redisDown) await redis.start(); // back (on the same port) for the clean-up, where a test failed before
    redisDown = false;
    await Promise.all(open.splice(0).map((q) => within(q.close(), PROMPTLY_MS)));
    await redis.stop();
  });

  function queueFor(jobHandlers: JobHandlers): BullMqJobQueue {
    const retry = { attempts: 1, baseDelayMs: 100 };
    const queue = new BullMqJobQueue({ redisUrl: redis.url, prefix, analysisRetry: retry, exportRetry: retry,
      exportDestinations: ['stow'], lockDurationMs: LOCK_MS }, createLogger('silent'));
    open.push(queue);
    queue.startProcessing(jobHandlers, { concurrency: 1, studyChecks: true, analyses: true });
    return queue;
  }

  test('closes within seconds when it has nothing in hand (it waited for Redis for ever)', async () => {
    const queue = queueFor(handlers(() => Promise.resolve(RESULT)));
    await queue.enqueueAnalysis('seg-1', PLAN);
    await until(async () => ((await queue.getJob('seg-1'))?.exports[0]?.state === 'sent' ? true : undefined), 'the job and its export');
    await redis.kill();
    redisDown = true;
    await until(() => queue.ping().then(() => undefined, () => true), 'the queue to see Redis gone');

    expect(await within(queue.close(), PROMPTLY_MS)).toBe('settled');
  }, 60_000);

  test('still lets the analysis in hand finish, then closes; the job, not recorded, is taken again once Redis is back', async () => {
    let finish: (result: ResultUids) => void = () => undefined;
    const analyses: string[] = [];
    const queue = queueFor(handlers((jobId) => {
      analyses.push(jobId);
      return new Promise<ResultUids>((resolve) => (finish = resolve));
    }));
    await queue.enqueueAnalysis('seg-1', PLAN);
    await until(() => Promise.resolve(analyses.length > 0 || undefined), 'the analysis to start');
    await redis.kill();
    redisDown = true;
    await until(() => queue.ping().then(() => undefined, () => true), 'the queue to see Redis gone');

    const closing = queue.close();
    expect(await within(closing, 1500)).toBe('still waiting'); // the analysis in hand is waited for
    finish(RESULT);
    expect(await within(closing, PROMPTLY_MS)).toBe('settled');

    await redis.start();
    redisDown = false;
    const next = queueFor(handlers(() => Promise.resolve(RESULT)));
    const job = await until(async () => {
      const found = await next.getJob('seg-1').catch(() => undefined); // refused until it has connected
      return found?.state === 'done' ? found : undefined;
    }, 'another worker to take the job again and finish it', { timeoutMs: 30_000 });
    expect(job.state).toBe('done');
  }, 90_000);
});
