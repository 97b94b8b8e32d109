import { randomUUID } from 'node:crypto';
import { createLogger } from '@mipseg/shared/log';
import { BullMqJobQueue, type ResultUids } from '@mipseg/shared/queue';
import { startRedis, type TestRedis } from '../support/redis';
import { until } from '../support/until';

const retry = { attempts: 1, baseDelayMs: 100 };
const RESULT = {} as ResultUids;

/**
 * BullMQ reschedules only a delayed study check and drops the add of a waiting one: the due time an instance arriving
 * meanwhile sets must be where the process that runs the check can read it (Redis), not in the memory of the gateway
 * that stored the instance (which may be another process, or restart).
 */
describe('BullMQ study checks: a quiet period restarted from another process, or before a restart', () => {
  let redis: TestRedis;
  const queues: BullMqJobQueue[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await redis.stop();
  });

  test('an instance stored through one gateway while the study\'s due check waits in another delays that check', async () => {
    const prefix = `t-${randomUUID()}`;
    const open = () => {
      const q = new BullMqJobQueue({ redisUrl: redis.url, prefix, analysisRetry: retry, exportRetry: retry, exportDestinations: [],
        lockDurationMs: 5000 }, createLogger('silent'));
      queues.push(q);
      return q;
    };
    const checker = open();
    const storer = open();
    const QUIET_MS = 1000;
    const checks: Array<{ study: string; at: number }> = [];
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => { release = resolve; });
    checker.startProcessing({ checkStudy: async (study) => {
      checks.push({ study, at: Date.now() });
      if (checks.length === 1) await held; // the first check runs long; the other study's waits behind it
    }, analyze: () => Promise.resolve(RESULT) }, { concurrency: 1, studyChecks: true, analyses: false });
    await checker.scheduleStudyCheck('1.2.3.1', 0);
    await checker.scheduleStudyCheck('1.2.3.2', 0);
    await until(() => Promise.resolve(checks.length === 1 ? true : undefined), 'the first study check');
    const waiting = checks[0]?.study === '1.2.3.1' ? '1.2.3.2' : '1.2.3.1';
    const arrivedAt = Date.now();
    await storer.scheduleStudyCheck(waiting, QUIET_MS); // stored through the other gateway
    release();
    await until(() => Promise.resolve(checks.length === 2 ? true : undefined), 'the waiting study\'s check');
    expect(checks[1]?.study).toBe(waiting);
    expect((checks[1]?.at as number) - arrivedAt).toBeGreaterThanOrEqual(QUIET_MS - 20);
  });
});
