import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { createLogger } from '@mipseg/shared/log';
import { BullMqJobQueue, type AnalysisPlan, type ResultUids } from '@mipseg/shared/queue';
import { useRedisWithClient } from '../support/redis';
import { until } from '../support/until';

const RESULT: ResultUids = {
  studyInstanceUid: '1.2.3',
  mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4',
  lesionCount: 1, tumourAreaMm2: 40, modelName: 'm', modelVersion: '1',
};
const retry = { attempts: 1, baseDelayMs: 50 };
const plan = (study: string): AnalysisPlan =>
  ({ studyInstanceUid: study, seriesInstanceUid: `${study}.1`, sopInstanceUids: [`${study}.1.1`], contentHash: 'h', reason: 'study-complete' });

describe('queue mode: a study\'s jobs are found however many jobs came after them', () => {
  const fixture = useRedisWithClient();
  const open = (prefix: string) => new BullMqJobQueue({ redisUrl: fixture.redis.url, prefix, analysisRetry: retry, exportRetry: retry,
    exportDestinations: [], lockDurationMs: 5000 }, createLogger('silent'));
  const work = (queue: BullMqJobQueue) => queue.startProcessing({ checkStudy: () => Promise.resolve(),
    analyze: (_id, req) => Promise.resolve({ ...RESULT, studyInstanceUid: req.studyInstanceUid }) }, { concurrency: 1, studyChecks: false, analyses: true });
  const indexed = (prefix: string) => until(async () => ((await fixture.connection.exists(`${prefix}:study-jobs-indexed`)) ? true : undefined), 'the index');

  test('an old study keeps its newest job and history in the worklist after 5,001 newer finished jobs', async () => {
    const prefix = `t-${randomUUID()}`;
    const queue = open(prefix);
    try {
      work(queue);
      await indexed(prefix);
      await queue.recordNotApplicable('na-old', '1.2.9', 'no PET series');
      await queue.enqueueAnalysis('seg-old', plan('1.2.9'));
      await until(async () => ((await queue.getJob('seg-old'))?.state === 'done' ? true : undefined), 'the old study\'s job');
      // 5,001 newer finished jobs, as months of CT-only studies routed in leave them (added in bulk: fast).
      const filler = new Queue('analyses', { connection: fixture.connection, prefix });
      await filler.addBulk(Array.from({ length: 5001 }, (_, i) => ({ name: 'not-applicable', opts: { jobId: `na-${i}` },
        data: { notApplicable: { studyInstanceUid: `1.3.${i}`, reason: 'no PET series' } } })));
      await until(async () => ((await filler.getCompletedCount()) >= 5003 ? true : undefined), 'the newer jobs', { timeoutMs: 120_000, pollMs: 500 });
      await filler.close();
      expect((await queue.latestJobsByStudy(['1.2.9'])).get('1.2.9')).toMatchObject({ id: 'seg-old', state: 'done' });
      expect((await queue.listJobs({ studyInstanceUid: '1.2.9', limit: 10, offset: 0 })).map((j) => j.id)).toEqual(['seg-old', 'na-old']);
    } finally {
      await queue.close();
    }
  });

  test('jobs added by an earlier release are indexed by study once, when a worker starts, also while it moves them', async () => {
    const prefix = `t-${randomUUID()}`;
    const old = new Queue('analyses', { connection: fixture.connection, prefix });
    try {
      await old.add('analyze', { request: { ...plan('1.2.7'), version: 1 } }, { jobId: 'seg-earlier', delay: 3_600_000 });
      // Waiting jobs, which the starting worker takes (8 at a time) while the index is built: they change state under it.
      await old.addBulk(Array.from({ length: 3000 }, (_, i) => ({ name: 'not-applicable', opts: { jobId: `na-${i}` },
        data: { notApplicable: { studyInstanceUid: `1.4.${i}`, reason: 'no PET series' } } })));
      const queue = new BullMqJobQueue({ redisUrl: fixture.redis.url, prefix, analysisRetry: retry, exportRetry: retry, exportDestinations: [],
        lockDurationMs: 5000 }, createLogger('silent'));
      try {
        queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT) },
          { concurrency: 8, studyChecks: false, analyses: true });
        await indexed(prefix);
        const studies = ['1.2.7', ...Array.from({ length: 3000 }, (_, i) => `1.4.${i}`)];
        const latest = await queue.latestJobsByStudy(studies);
        expect(studies.filter((s) => !latest.has(s))).toEqual([]);
        expect(latest.get('1.2.7')?.id).toBe('seg-earlier');
      } finally {
        await queue.close();
      }
    } finally {
      await old.close();
    }
  });

  test('a study whose newest indexed id names no job (its add failed) shows its newest job that exists', async () => {
    const prefix = `t-${randomUUID()}`;
    const queue = open(prefix);
    try {
      work(queue);
      await indexed(prefix);
      await queue.recordNotApplicable('na-older', '1.2.5', 'no PET series');
      await fixture.connection.zadd(`${prefix}:study-jobs:1.2.5`, Date.now() + 60_000, 'seg-never-added');
      expect((await queue.latestJobsByStudy(['1.2.5'])).get('1.2.5')?.id).toBe('na-older');
    } finally {
      await queue.close();
    }
  });
});
