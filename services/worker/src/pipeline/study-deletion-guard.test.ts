import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { EmbeddedJobQueue, type AnalysisPlan } from '@mipseg/shared/queue';
import { studyDeletionRefusal } from './study-deletion-guard';

const retry = { attempts: 1, baseDelayMs: 100 };
const plan = (study: string): AnalysisPlan => ({ studyInstanceUid: study, seriesInstanceUid: `${study}.1`, sopInstanceUids: [`${study}.1.1`],
  contentHash: 'abc', reason: 'study-complete' });

describe('a study may be deleted only when nothing of it is in flight', () => {
  let dir: string;
  let queue: EmbeddedJobQueue;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-delete-guard-'));
    queue = new EmbeddedJobQueue(join(dir, 'jobs.sqlite'), pino({ level: 'silent' }), { analysisRetry: retry, exportRetry: retry, exportDestinations: [] });
  });
  afterEach(async () => {
    await queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('refuses while the study waits out its quiet period', async () => {
    await queue.scheduleStudyCheck('2.25.1', 60_000);
    expect(await studyDeletionRefusal(queue, '2.25.1')).toMatch(/quiet period/);
    expect(await studyDeletionRefusal(queue, '2.25.2')).toBeUndefined();
  });

  test('refuses while its analysis is queued, naming the job', async () => {
    await queue.enqueueAnalysis('seg-queued', plan('2.25.3'));
    expect(await studyDeletionRefusal(queue, '2.25.3')).toMatch(/job seg-queued\) is queued/);
  });

  test('refuses while the study is in the outbox, not yet handed to Redis', async () => {
    expect(await studyDeletionRefusal(queue, '2.25.5', ['2.25.5'])).toMatch(/quiet period/);
  });

  test('allows a study whose jobs have all finished', async () => {
    await queue.recordNotApplicable('na-1', '2.25.4', 'no PET series');
    expect(await studyDeletionRefusal(queue, '2.25.4')).toBeUndefined();
  });
});
