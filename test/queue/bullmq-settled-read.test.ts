import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { readSettled } from '../../shared/src/queue/bullmq-settled-read';
import { startRedis, type TestRedis } from '../support/redis';
import { until } from '../support/until';

describe('reading a BullMQ job whose state changes between two reads', () => {
  let redis: TestRedis;
  let connection: { host: string; port: number; maxRetriesPerRequest: null };
  let queue: Queue;
  let worker: Worker | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    // Connection options rather than a shared client: the queue and the worker own and close their connections.
    connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
    queue = new Queue('analyses', { connection: connection, prefix: `t-${randomUUID()}` });
  });

  afterAll(async () => {
    await worker?.close();
    await queue.close();
    await redis.stop();
  });

  test('a hash read while the job ran is read again once the job is completed, so state, attempts and result agree', async () => {
    let release: () => void = () => undefined;
    const running = new Promise<void>((resolve) => { release = resolve; });
    worker = new Worker(queue.name, async () => { await running; return { segSopInstanceUid: '2.25.4' }; },
      { connection: connection, prefix: queue.opts.prefix });
    await queue.add('analysis', {}, { jobId: 'job-1' });
    await until(async () => ((await queue.getJob('job-1'))?.processedOn !== undefined ? true : undefined), 'the job to start');
    const stale = (await queue.getJob('job-1')) as Job;
    release();
    await until(async () => ((await queue.getJobState('job-1')) === 'completed' ? true : undefined), 'the job to complete');
    // Done with the worker: a worker left beside the delayed job of the next test keeps a timer for it.
    await worker.close();
    worker = undefined;

    // The hazard: the old hash beside the new state.
    expect(await stale.getState()).toBe('completed');
    expect(stale.returnvalue).toBeFalsy();

    const { job, state } = await readSettled(queue, stale);
    expect(state).toBe('completed');
    expect(job.returnvalue).toEqual({ segSopInstanceUid: '2.25.4' });
    expect(job.attemptsMade).toBe(1);
    expect(job.finishedOn).toBeGreaterThan(0);
  });

  test('a job that has not finished (here: delayed) keeps the hash it was read with', async () => {
    await queue.add('analysis', {}, { jobId: 'job-2', delay: 60_000 });
    const snapshot = (await queue.getJob('job-2')) as Job;
    const { job, state } = await readSettled(queue, snapshot);
    expect(state).toBe('delayed');
    expect(job).toBe(snapshot);
  });
});
