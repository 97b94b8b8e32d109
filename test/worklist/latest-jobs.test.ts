import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { BullMqJobQueue, EmbeddedJobQueue, type AnalysisRequest, type JobQueue } from '@mipseg/shared/queue';
import { startRedis, type TestRedis } from '../support/redis';

const log = pino({ level: 'silent' });
const retry = { attempts: 1, baseDelayMs: 100 };
const request = (study: string, series: string): AnalysisRequest =>
  ({ studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUids: [`${series}.1`], contentHash: 'h', reason: 'study-complete', version: 1 });
const tick = () => new Promise((r) => setTimeout(r, 5)); // distinct creation times

let redis: TestRedis | undefined;
let dir: string | undefined;
afterAll(async () => {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const makers: Array<[string, () => Promise<JobQueue>]> = [
  ['embedded (SQLite)', () => {
    dir ??= mkdtempSync(join(tmpdir(), 'mipseg-latest-jobs-'));
    return Promise.resolve(new EmbeddedJobQueue(join(dir, `${randomUUID()}.sqlite`), log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [] }));
  }],
  ['BullMQ (Redis)', async () => {
    redis ??= await startRedis();
    return new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry, exportDestinations: [],
      lockDurationMs: 5000 }, log);
  }],
];

describe.each(makers)('the worklist\'s job lookups: %s', (_name, make) => {
  let q: JobQueue;
  beforeAll(async () => {
    q = await make();
    await q.recordNotApplicable('na-a', '1.1', 'no PET');
    await tick();
    await q.enqueueAnalysis('job-a', request('1.1', '1.1.2')); // newer: study 1.1 is now queued
    await tick();
    await q.recordNotApplicable('na-b', '1.2', 'no PET');
    await tick();
    await q.enqueueAnalysis('job-c', request('1.3', '1.3.2'));
  });
  afterAll(() => q.close());

  test('finds the newest job of each study asked for, and leaves out studies without one', async () => {
    const latest = await q.latestJobsByStudy(['1.1', '1.2', '9.9']);
    expect([...latest.keys()].sort()).toEqual(['1.1', '1.2']);
    expect(latest.get('1.1')).toMatchObject({ id: 'job-a', state: 'queued' });
    expect(latest.get('1.2')).toMatchObject({ id: 'na-b', state: 'not-applicable', failureReason: 'no PET' });
    expect((await q.latestJobsByStudy([])).size).toBe(0);
  });

  test('lists the studies whose newest job is in a state', async () => {
    expect((await q.studiesWithLatestJobState('queued')).sort()).toEqual(['1.1', '1.3']);
    expect(await q.studiesWithLatestJobState('not-applicable')).toEqual(['1.2']);
    expect(await q.studiesWithLatestJobState('failed')).toEqual([]);
  });
});
