import { randomUUID } from 'node:crypto';
import { createLogger } from '../../shared/src/log';
import { BullMqJobQueue } from '../../shared/src/queue';
import { studyDeletionRefusal } from '../../services/worker/src/pipeline/study-deletion-guard';
import { startRedis, type TestRedis } from '../support/redis';
import { until } from '../support/until';

interface Line { level: number; msg: string; err?: unknown }

describe('queue mode while Redis is unreachable', () => {
  let redis: TestRedis;
  let queue: BullMqJobQueue | undefined;
  let consoleError: jest.SpyInstance | undefined;
  /** A queue closes only once Redis answers: a failed test must bring it back before the clean-up. */
  let redisDown = false;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    if (redisDown) await redis.start();
    redisDown = false;
    await queue?.close();
    queue = undefined;
  });
  afterAll(async () => {
    consoleError?.mockRestore();
    await redis.stop();
  });

  test('logs the outage once through the logger, nothing raw on the console, and one line when Redis is back', async () => {
    consoleError = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const lines: Line[] = [];
    const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as Line) });
    await redis.kill();
    redisDown = true;
    const retry = { attempts: 1, baseDelayMs: 100 };
    queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
      exportDestinations: ['stow'], lockDurationMs: 5000 }, log);
    queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.reject(new Error('not in this test')),
      exportResult: (_id, _result, destination) => Promise.resolve({ destination, state: 'sent', attempts: 1, updatedAt: 0 }) },
    { concurrency: 1, studyChecks: true, analyses: true });

    // Long enough for every client (the shared one, three workers' blocking ones) to fail many times.
    await new Promise((r) => setTimeout(r, 2500));
    const outage = lines.filter((l) => l.level >= 40);
    expect(outage.map((l) => l.msg)).toEqual(['Redis unreachable; reconnecting']);
    expect(outage[0]?.err).toBeDefined();
    expect(consoleError).not.toHaveBeenCalled();

    await redis.start();
    redisDown = false;
    await until(() => Promise.resolve(lines.some((l) => l.msg === 'Redis reachable again') ? true : undefined), 'the recovery line');
    expect(lines.filter((l) => l.msg === 'Redis reachable again')).toHaveLength(1);
    expect(await queue.pendingStudies()).toEqual([]);
  });

  test('ping (asked by /readyz) fails at once while Redis is away, naming MIPSEG_QUEUE_UNAVAILABLE, and passes once it is back', async () => {
    const log = createLogger('silent');
    const retry = { attempts: 1, baseDelayMs: 100 };
    queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
      exportDestinations: [], lockDurationMs: 5000 }, log);
    await until(() => queue!.ping().then(() => true, () => undefined), 'the first ping');

    await redis.kill();
    redisDown = true;
    await until(() => queue!.ping().then(() => undefined, (err: unknown) => err), 'ping to fail');
    const started = Date.now();
    await expect(queue.ping()).rejects.toMatchObject({ code: 'MIPSEG_QUEUE_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(1500); // not left waiting in the offline queue until Redis is back

    await redis.start();
    redisDown = false;
    await until(() => queue!.ping().then(() => true, () => undefined), 'ping to pass again');
  });

  test('a study deletion asked while Redis is away is refused at once (503), not allowed blind or left waiting', async () => {
    const retry = { attempts: 1, baseDelayMs: 100 };
    queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
      exportDestinations: [], lockDurationMs: 5000 }, createLogger('silent'));
    await until(() => queue!.ping().then(() => true, () => undefined), 'the first ping');
    expect(await studyDeletionRefusal(queue, '2.25.8')).toBeUndefined();

    await redis.kill();
    redisDown = true;
    await until(() => queue!.ping().then(() => undefined, () => true), 'ping to fail');
    await expect(studyDeletionRefusal(queue, '2.25.8')).rejects.toMatchObject({ code: 'MIPSEG_QUEUE_UNAVAILABLE', httpStatus: 503 });
  });
});
