import { createHash, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { createLogger } from '@mipseg/shared/log';
import { BullMqJobQueue, type ResultUids } from '@mipseg/shared/queue';
import { startRedis, type TestRedis } from '../support/redis';
import { until } from '../support/until';

const RESULT: ResultUids = {
  studyInstanceUid: '1.2.3',
  mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4',
  lesionCount: 1, tumourAreaMm2: 40, modelName: 'm', modelVersion: '1',
};

describe('queue mode after an upgrade or a configuration change', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  test('exports queued in the shared queue of earlier releases are sent and shown, and a failed one can be retried', async () => {
    const prefix = `t-${randomUUID()}`;
    const destination = 'dimse:PACS@pacs.example:104';
    const retry = { attempts: 1, baseDelayMs: 100 };
    // As an earlier release left them: exports in the shared 'exports' queue, one under each of its id schemes. The
    // analyses are delayed out of the test's way: only their records matter here.
    const connection = new IORedis(redis.url, { maxRetriesPerRequest: null });
    const oldAnalyses = new Queue('analyses', { connection, prefix });
    const oldExports = new Queue('exports', { connection, prefix });
    const queue = new BullMqJobQueue({ redisUrl: redis.url, prefix, analysisRetry: retry, exportRetry: retry,
      exportDestinations: [destination], lockDurationMs: 5000 }, createLogger('silent'));
    const sent: string[] = [];
    let pacsUp = false;
    try {
      for (const jobId of ['seg-old-1', 'seg-old-2']) {
        await oldAnalyses.add('analyze', { request: { studyInstanceUid: '1.2.3', seriesInstanceUid: `${jobId}.s`, sopInstanceUids: [],
          contentHash: 'x', reason: 'study-complete', version: 1 } }, { jobId, delay: 3_600_000 });
      }
      await oldExports.add('export', { jobId: 'seg-old-1', destination, result: RESULT },
        { jobId: `seg-old-1--${createHash('sha256').update(destination).digest('hex').slice(0, 32)}`, attempts: 1 });
      await oldExports.add('export', { jobId: 'seg-old-2', destination, result: RESULT },
        { jobId: `seg-old-2--${destination.replace(/[^A-Za-z0-9]/g, '_')}`, attempts: 1 });

      queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT),
        exportResult: (jobId, _result, to, attempt) => {
          sent.push(jobId);
          return Promise.resolve(pacsUp || jobId === 'seg-old-1'
            ? { destination: to, state: 'sent', attempts: attempt, updatedAt: Date.now() }
            : { destination: to, state: 'failed', attempts: attempt, detail: 'refused', updatedAt: Date.now() });
        } }, { concurrency: 1, studyChecks: false, analyses: true });
      const shown = (id: string) => until(async () => {
        const e = (await queue.getJob(id))?.exports[0];
        return e && (e.state === 'sent' || e.state === 'failed') ? e : undefined;
      }, `the export of ${id}`);
      expect(await shown('seg-old-1')).toMatchObject({ destination, state: 'sent' });
      expect(await shown('seg-old-2')).toMatchObject({ destination, state: 'failed', detail: 'refused' });

      pacsUp = true;
      expect(await queue.retryExport('seg-old-2', destination)).toBe(true);
      await until(async () => ((await queue.getJob('seg-old-2'))?.exports[0]?.state === 'sent' ? true : undefined), 'the retried export');
      expect(sent.sort()).toEqual(['seg-old-1', 'seg-old-2', 'seg-old-2']);
    } finally {
      await queue.close();
      await oldAnalyses.close();
      await oldExports.close();
      connection.disconnect();
    }
  });

  test('an export queued for a destination since taken out of EXPORT_DESTINATIONS is still sent and shown; new results do not go there', async () => {
    const prefix = `t-${randomUUID()}`;
    const retry = { attempts: 1, baseDelayMs: 100 };
    const request = (series: string) => ({ studyInstanceUid: '1.2.3', seriesInstanceUid: series, sopInstanceUids: ['1.2.3.4'],
      contentHash: series, reason: 'study-complete' as const });
    // Before: results go to old-pacs; this worker analyses but sends nothing (its export is left queued).
    const before = new BullMqJobQueue({ redisUrl: redis.url, prefix, analysisRetry: retry, exportRetry: retry,
      exportDestinations: ['old-pacs'], lockDurationMs: 5000 }, createLogger('silent'));
    await until(() => before.ping().then(() => true, () => undefined), 'Redis');
    before.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT) },
      { concurrency: 1, studyChecks: false, analyses: true });
    await before.enqueueAnalysis('seg-a', request('2.25.1'));
    await until(async () => ((await before.getJob('seg-a'))?.exports[0]?.state === 'pending' ? true : undefined), 'the queued export');
    await before.close();

    // After: EXPORT_DESTINATIONS names new-pacs only.
    const lines: Array<{ msg: string; destination?: string }> = [];
    const after = new BullMqJobQueue({ redisUrl: redis.url, prefix, analysisRetry: retry, exportRetry: retry,
      exportDestinations: ['new-pacs'], lockDurationMs: 5000 }, createLogger('info', { write: (l: string) => lines.push(JSON.parse(l) as { msg: string; destination?: string }) }));
    const sent: string[] = [];
    try {
      await until(() => after.ping().then(() => true, () => undefined), 'Redis');
      after.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT),
        exportResult: (jobId, _result, to, attempt) => {
          sent.push(`${jobId}->${to}`);
          return Promise.resolve({ destination: to, state: 'sent', attempts: attempt, updatedAt: Date.now() });
        } }, { concurrency: 1, studyChecks: false, analyses: true });
      const old = await until(async () => {
        const e = (await after.getJob('seg-a'))?.exports.find((x) => x.destination === 'old-pacs');
        return e?.state === 'sent' ? e : undefined;
      }, 'the old destination\'s export to be sent');
      expect(old.destination).toBe('old-pacs');
      expect(lines.find((l) => l.msg.includes('no longer names'))?.destination).toBe('old-pacs');

      await after.enqueueAnalysis('seg-b', request('2.25.2'));
      await until(async () => ((await after.getJob('seg-b'))?.exports.some((e) => e.state === 'sent') ? true : undefined), 'the new result\'s export');
      expect(sent.sort()).toEqual(['seg-a->old-pacs', 'seg-b->new-pacs']);
    } finally {
      await after.close();
    }

    // Once nothing of it is left to send, the next worker forgets the old destination (job lists stop looking it up).
    const later = new BullMqJobQueue({ redisUrl: redis.url, prefix, analysisRetry: retry, exportRetry: retry,
      exportDestinations: ['new-pacs'], lockDurationMs: 5000 }, createLogger('silent'));
    const admin = new IORedis(redis.url);
    try {
      later.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT),
        exportResult: (_id, _result, to, attempt) => Promise.resolve({ destination: to, state: 'sent', attempts: attempt, updatedAt: Date.now() }) },
      { concurrency: 1, studyChecks: false, analyses: true });
      await until(async () => ((await admin.smembers(`${prefix}:export-destinations`)).includes('old-pacs') ? undefined : true), 'old-pacs forgotten');
      expect(await admin.smembers(`${prefix}:export-destinations`)).toEqual(['new-pacs']);
    } finally {
      admin.disconnect();
      await later.close();
    }
  });
});
