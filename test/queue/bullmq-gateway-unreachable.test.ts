import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { MipsegError } from '@mipseg/shared/errors';
import { BullMqJobQueue, type AnalysisRequest, type JobRecord, type ResultUids } from '@mipseg/shared/queue';
import { startRedis, type TestRedis } from '../support/redis';
import { until } from '../support/until';

/**
 * A queue-mode worker reads the series and stores its results through GATEWAY_URL. While the gateway restarts it
 * cannot be reached for tens of seconds, longer than JOB_ATTEMPTS at its backoff: such a wait must use no attempt.
 */
const retry = { attempts: 2, baseDelayMs: 100 };

const RESULT: ResultUids = {
  studyInstanceUid: '1.2.3',
  mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4',
  lesionCount: 1, tumourAreaMm2: 40, modelName: 'm', modelVersion: '1',
};

function request(series: string): AnalysisRequest {
  return { studyInstanceUid: '1.2.3', seriesInstanceUid: series, sopInstanceUids: ['1.2.3.4'], contentHash: 'abc', reason: 'study-complete', version: 1 };
}

/** What undici's fetch throws when nothing listens: "fetch failed", the socket error as its cause. */
function connectionRefused(): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), { code: 'ECONNREFUSED' }) });
}

let redis: TestRedis;
let queue: BullMqJobQueue;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => redis.stop());
beforeEach(() => {
  queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
    exportDestinations: [], lockDurationMs: 5000 }, pino({ level: 'silent' }));
});
afterEach(async () => queue.close());

const finished = (id: string) => until(async () => {
  const j = await queue.getJob(id);
  return j && ['done', 'failed'].includes(j.state) ? j : undefined;
}, `job ${id} to finish`);

test('an analysis that cannot reach the gateway more often than it has attempts waits for it and completes', async () => {
  let runs = 0;
  queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => {
    runs++;
    // Four refusals against two attempts: a gateway restart that outlasts the backoff.
    return runs <= 4 ? Promise.reject(connectionRefused()) : Promise.resolve(RESULT);
  } }, { concurrency: 1, studyChecks: false, analyses: true });
  await queue.enqueueAnalysis('job-gw', request('1.2.3.1'));
  const job: JobRecord = await finished('job-gw');
  expect([job.state, runs]).toEqual(['done', 5]);
  expect(job.result).toEqual(RESULT);
});

test('the result sink\'s error made of a refused connection counts as the gateway away too', async () => {
  let runs = 0;
  queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => {
    runs++;
    return runs <= 3
      ? Promise.reject(new MipsegError('MIPSEG_DESTINATION_UNAVAILABLE', 'STOW-RS to http://127.0.0.1:8080/dicomweb: ECONNREFUSED', { cause: connectionRefused() }))
      : Promise.resolve(RESULT);
  } }, { concurrency: 1, studyChecks: false, analyses: true });
  await queue.enqueueAnalysis('job-sink', request('1.2.3.2'));
  expect((await finished('job-sink')).state).toBe('done');
});

test('any other transient failure still uses an attempt and fails the job once they are used', async () => {
  let runs = 0;
  queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => {
    runs++;
    return Promise.reject(new Error('onnxruntime: out of memory'));
  } }, { concurrency: 1, studyChecks: false, analyses: true });
  await queue.enqueueAnalysis('job-oom', request('1.2.3.3'));
  const job = await finished('job-oom');
  expect([job.state, runs]).toEqual(['failed', retry.attempts]);
});

test('an analysis that cannot reach the gateway for longer than the wait is failed once its attempts are used, saying so', async () => {
  await queue.close();
  queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
    exportDestinations: [], lockDurationMs: 5000, gatewayWaitMaxMs: 1500 }, pino({ level: 'silent' }));
  let runs = 0;
  queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => {
    runs++;
    return Promise.reject(connectionRefused());
  } }, { concurrency: 1, studyChecks: false, analyses: true });
  await queue.enqueueAnalysis('job-typo', request('1.2.3.4'));
  const job = await finished('job-typo');
  expect(job.state).toBe('failed');
  expect(job.failureReason).toContain('gateway unreachable: ECONNREFUSED; check GATEWAY_URL');
  // Put back while the wait lasted (at least twice, 1 s apart), then its two attempts.
  expect(runs).toBeGreaterThanOrEqual(2 + retry.attempts);
});

test('the wait for the gateway starts again once the analysis has got past it', async () => {
  await queue.close();
  const attempts3 = { attempts: 3, baseDelayMs: 100 };
  queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: attempts3, exportRetry: attempts3,
    exportDestinations: [], lockDurationMs: 5000, gatewayWaitMaxMs: 1500 }, pino({ level: 'silent' }));
  let runs = 0;
  queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: async () => {
    runs++;
    // A restart (refused), then the gateway back for longer than the wait (an attempt used on something else),
    // then a second, shorter restart: it is a new wait, not the end of the first.
    if (runs === 2) {
      await new Promise((resolve) => setTimeout(resolve, 1600));
      throw new Error('onnxruntime: out of memory');
    }
    if (runs <= 4) throw connectionRefused();
    return RESULT;
  } }, { concurrency: 1, studyChecks: false, analyses: true });
  await queue.enqueueAnalysis('job-two-restarts', request('1.2.3.5'));
  const job = await finished('job-two-restarts');
  expect([job.state, runs]).toEqual(['done', 5]);
});

describe('an export, which reads the result back through the gateway, waits for it as an analysis does', () => {
  const destination = 'stow:http://127.0.0.1:1/dicomweb';
  const exportingQueue = (gatewayWaitMaxMs?: number) => new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`,
    analysisRetry: retry, exportRetry: retry, exportDestinations: [destination], lockDurationMs: 5000,
    ...(gatewayWaitMaxMs === undefined ? {} : { gatewayWaitMaxMs }) }, pino({ level: 'silent' }));
  const exported = (id: string) => until(async () => {
    const e = (await queue.getJob(id))?.exports[0];
    return e && ['sent', 'failed'].includes(e.state) ? e : undefined;
  }, `the export of ${id} to finish`);

  test('a gateway restart that outlasts EXPORT_ATTEMPTS uses none of them, and the export is sent', async () => {
    await queue.close();
    queue = exportingQueue();
    let sends = 0;
    queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT), exportResult: (_job, _result, dest, attempt) => {
      sends++;
      return sends <= 4 ? Promise.reject(connectionRefused())
        : Promise.resolve({ destination: dest, state: 'sent', attempts: attempt, updatedAt: Date.now(), detail: '2 instance(s) stored' });
    } }, { concurrency: 1, studyChecks: false, analyses: true });
    await queue.enqueueAnalysis('job-export-gw', request('1.2.3.6'));
    const e = await exported('job-export-gw');
    expect([e.state, sends]).toEqual(['sent', 5]);
  });

  test('past the wait, its failure uses attempts and names the socket error', async () => {
    await queue.close();
    queue = exportingQueue(1500);
    queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT),
      exportResult: () => Promise.reject(connectionRefused()) }, { concurrency: 1, studyChecks: false, analyses: true });
    await queue.enqueueAnalysis('job-export-typo', request('1.2.3.7'));
    const e = await exported('job-export-typo');
    expect(e.state).toBe('failed');
    expect(e.detail).toContain('gateway unreachable: ECONNREFUSED; check GATEWAY_URL');
  });
});
