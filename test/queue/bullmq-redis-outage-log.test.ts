import { randomUUID } from 'node:crypto';
import IORedis from 'ioredis';
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
  const retry = { attempts: 1, baseDelayMs: 100 };

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

  test('ping gives up within seconds when Redis holds the connection open but does not answer (CLIENT PAUSE)', async () => {
    queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
      exportDestinations: [], lockDurationMs: 5000 }, createLogger('silent'));
    await until(() => queue!.ping().then(() => true, () => undefined), 'the first ping');
    const admin = new IORedis(redis.url);
    try {
      await admin.call('CLIENT', 'PAUSE', '6000', 'ALL');
      const started = Date.now();
      await expect(queue.ping()).rejects.toMatchObject({ code: 'MIPSEG_QUEUE_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(4000); // the pause lasts 6 s: the old ping waited it out
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      admin.disconnect();
    }
  });

  test('a ping on the wire when Redis dies settles within seconds, not when Redis comes back', async () => {
    queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
      exportDestinations: [], lockDurationMs: 5000 }, createLogger('silent'));
    await until(() => queue!.ping().then(() => true, () => undefined), 'the first ping');
    // Paused, Redis holds the PING unanswered, so it is surely on the wire when Redis dies (ioredis then resends
    // it after reconnecting: without a bound, it waits for the restart below).
    const admin = new IORedis(redis.url);
    await admin.call('CLIENT', 'PAUSE', '30000', 'ALL');
    admin.disconnect();
    const settled = queue.ping().then(() => 'answered', () => 'refused');
    await new Promise((r) => setTimeout(r, 100));
    await redis.kill();
    redisDown = true;
    const started = Date.now();
    const outcome = await Promise.race([settled, new Promise((r) => setTimeout(() => r('still waiting'), 4000))]);
    expect(outcome).toBe('refused');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  test('reads that answer a person (jobs, pending studies, an export retry) fail at once while Redis is away', async () => {
    queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
      exportDestinations: ['stow'], lockDurationMs: 5000 }, createLogger('silent'));
    await until(() => queue!.ping().then(() => true, () => undefined), 'the first ping');
    await redis.kill();
    redisDown = true;
    await until(() => queue!.ping().then(() => undefined, () => true), 'ping to fail');
    const q = queue;
    const reads: Array<[string, () => Promise<unknown>]> = [
      ['listJobs', () => q.listJobs({ limit: 10, offset: 0 })],
      ['getJob', () => q.getJob('seg-1')],
      ['pendingStudies', () => q.pendingStudies()],
      ['latestJobsByStudy', () => q.latestJobsByStudy(['2.25.8'])],
      ['retryExport', () => q.retryExport('seg-1', 'stow')],
    ];
    for (const [name, read] of reads) {
      const outcome = await Promise.race([read().then(() => 'answered', (err: unknown) => (err as { code?: string }).code),
        new Promise((r) => setTimeout(() => r('still waiting'), 1500))]);
      expect({ name, outcome }).toEqual({ name, outcome: 'MIPSEG_QUEUE_UNAVAILABLE' });
    }
  });

  test('a study deletion asked while Redis is away is refused at once (503), not allowed blind or left waiting', async () => {
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
