import { randomUUID } from 'node:crypto';
import IORedis from 'ioredis';
import pino from 'pino';
import { BullMqJobQueue, type AnalysisRequest, type ResultUids } from '@mipseg/shared/queue';
import { startRedis, type TestRedis } from '../support/redis';
import { until } from '../support/until';

// BullMQ appends each failed attempt's stack to its job's hash, without limit unless told one. A study check is
// retried every STUDY_CHECK_RETRY_MS for as long as its fault lasts (files unreadable after a restore, say): each
// failure would add its trace to Redis, and rewrite them all, for every study waiting.

const log = pino({ level: 'silent' });
const retry = { attempts: 6, baseDelayMs: 20 };
const RESULT: ResultUids = {
  studyInstanceUid: '1.2.3',
  mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4',
  lesionCount: 1, tumourAreaMm2: 40, modelName: 'm', modelVersion: '1',
};
const request: AnalysisRequest = {
  studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.9', sopInstanceUids: ['1.2.3.4'], contentHash: 'abc', reason: 'study-complete', version: 1,
};

let redis: TestRedis;
let client: IORedis;
let queue: BullMqJobQueue;
let prefix: string;
beforeAll(async () => {
  redis = await startRedis();
  client = new IORedis(redis.url);
});
beforeEach(() => {
  prefix = `t-${randomUUID()}`;
  queue = new BullMqJobQueue({ redisUrl: redis.url, prefix, analysisRetry: retry, exportRetry: retry, exportDestinations: [],
    lockDurationMs: 5000, studyCheckRetryMs: 20 }, log);
});
afterEach(() => queue.close());
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

/** The number of stack traces each job hash under the queue's prefix holds. */
async function storedTraces(): Promise<number[]> {
  const counts: number[] = [];
  for (const key of await client.keys(`${prefix}:*`)) {
    if ((await client.type(key)) !== 'hash') continue;
    const trace = await client.hget(key, 'stacktrace');
    if (trace !== null) counts.push((JSON.parse(trace) as unknown[]).length);
  }
  return counts;
}

test('a study check failing again and again keeps no stack trace per failure in Redis', async () => {
  let checks = 0;
  queue.startProcessing({ checkStudy: () => {
    checks++;
    return Promise.reject(new Error('EACCES: permission denied, open instances/1.2.3/…'));
  }, analyze: () => Promise.resolve(RESULT) }, { concurrency: 1, studyChecks: true, analyses: false });
  await queue.scheduleStudyCheck('1.2.3', 0);
  await until(() => Promise.resolve(checks >= 8 ? true : undefined), 'eight failed study checks');
  const traces = await storedTraces();
  expect(traces.length).toBeGreaterThan(0); // the check's job is there, with its trace field
  expect(Math.max(...traces)).toBeLessThanOrEqual(1);
});

test('an analysis that failed several times before it was done keeps at most its last stack trace', async () => {
  let attempts = 0;
  queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => {
    attempts++;
    return attempts < 5 ? Promise.reject(new Error('connection reset')) : Promise.resolve(RESULT);
  } }, { concurrency: 1, studyChecks: false, analyses: true });
  await queue.enqueueAnalysis('flaky', request);
  await until(async () => ((await queue.getJob('flaky'))?.state === 'done' ? true : undefined), 'the analysis to be done');
  expect(attempts).toBe(5);
  const traces = await storedTraces();
  expect(traces.length).toBeGreaterThan(0);
  expect(Math.max(...traces)).toBeLessThanOrEqual(1);
});
