import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MipsegError } from '@mipseg/shared/errors';
import { createLogger } from '@mipseg/shared/log';
import { EmbeddedJobQueue, scheduleJobPruning, type AnalysisRequest, type JobQueue, type JobRecord, type ResultUids } from '@mipseg/shared/queue';
import { prunableJobIds } from '../../shared/src/queue/job-retention';
import { until } from '../support/until';

const DAY_MS = 86_400_000;
const retry = { attempts: 1, baseDelayMs: 100 };
const RESULT: ResultUids = {
  studyInstanceUid: '1.8.1', mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3',
  segSopInstanceUid: '2.25.4', lesionCount: 0, tumourAreaMm2: 0, modelName: 'm', modelVersion: '1',
};
const plan = (contentHash: string): Omit<AnalysisRequest, 'version'> => ({ studyInstanceUid: '1.8.1', seriesInstanceUid: '1.8.1.1',
  sopInstanceUids: ['1.8.1.1.1'], contentHash, reason: 'study-complete' });

interface Line { readonly level: number; readonly msg: string; readonly jobs?: number; readonly retentionDays?: number }

function capturingLogger(): { lines: Line[]; log: ReturnType<typeof createLogger> } {
  const lines: Line[] = [];
  return { lines, log: createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as Line) }) };
}

describe('JOB_RETENTION_DAYS: the records of old finished jobs are removed at start-up and daily', () => {
  let dir: string;
  let queue: EmbeddedJobQueue;
  let schedule: { stop(): Promise<void> } | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-job-retention-'));
    queue = new EmbeddedJobQueue(join(dir, 'jobs.sqlite'), createLogger('silent'), { analysisRetry: retry, exportRetry: retry, exportDestinations: [] });
  });
  afterEach(async () => {
    await schedule?.stop();
    schedule = undefined;
    await queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sets when the job finished, as if it had `days` ago (the job store is SQLite: another connection may write it). */
  function finishedDaysAgo(jobId: string, days: number): void {
    const db = new Database(join(dir, 'jobs.sqlite'));
    try {
      db.prepare('UPDATE jobs SET finished_at = ? WHERE id = ?').run(Date.now() - days * DAY_MS, jobId);
    } finally {
      db.close();
    }
  }

  test('removes a result superseded more than the retention ago, keeps the newer one, and logs how many it removed', async () => {
    queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT) },
      { concurrency: 1, studyChecks: false, analyses: true });
    for (const id of ['v1', 'v2', 'v3']) {
      await queue.enqueueAnalysis(id, plan(id));
      await until(async () => ((await queue.getJob(id))?.state === 'done' ? true : undefined), `${id} to be done`);
    }
    finishedDaysAgo('v1', 40);
    finishedDaysAgo('v2', 20);
    const { lines, log } = capturingLogger();
    schedule = scheduleJobPruning(queue, 30, log);
    const line = await until(() => Promise.resolve(lines.find((l) => l.msg === 'removed the records of old finished jobs')), 'the pruning log line');
    expect(line).toMatchObject({ jobs: 1, retentionDays: 30 });
    const left = await queue.listJobs({ studyInstanceUid: '1.8.1', limit: 10, offset: 0 });
    expect(left.map((j) => j.id).sort()).toEqual(['v2', 'v3']);
  });

  test('a run that finds the queue unavailable (Redis still connecting at start-up) is tried again soon, not the next day', async () => {
    let calls = 0;
    const connecting = { pruneFinishedJobs: () => {
      calls++;
      return calls < 3 ? Promise.reject(new MipsegError('MIPSEG_QUEUE_UNAVAILABLE', 'Redis is not connected (connecting)')) : Promise.resolve(2);
    } } as unknown as JobQueue;
    const { lines, log } = capturingLogger();
    schedule = scheduleJobPruning(connecting, 30, log, { retryMs: 50 });
    const line = await until(() => Promise.resolve(lines.find((l) => l.msg === 'removed the records of old finished jobs')), 'the pruning log line');
    expect(line).toMatchObject({ jobs: 2 });
    expect(calls).toBe(3);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]); // a moment's wait at start-up is no warning
  });

  test('a pruning run that fails, even at once, is logged as a warning and the service goes on', async () => {
    const failing = { pruneFinishedJobs: () => {
      throw new Error('SQLITE_FULL: database or disk is full');
    } } as unknown as JobQueue;
    const { lines, log } = capturingLogger();
    schedule = scheduleJobPruning(failing, 7, log);
    const warning = await until(() => Promise.resolve(lines.find((l) => l.msg.startsWith('could not remove the records of old finished jobs'))),
      'the warning');
    expect(warning).toMatchObject({ level: 40, retentionDays: 7 });
  });
});

describe('which finished jobs are pruned', () => {
  const finishedLongAgo = (id: string, version: number): JobRecord => ({
    id, studyInstanceUid: '1.8.1', seriesInstanceUid: '1.8.1.1', state: 'done', stage: null, progress: 100, attempts: 1,
    createdAt: 1_000, startedAt: 1_000, finishedAt: 2_000, timingsMs: {}, failureCode: null, failureReason: null, result: RESULT,
    exports: [], request: { studyInstanceUid: '1.8.1', seriesInstanceUid: '1.8.1.1', contentHash: id, reason: 'study-complete', version, instanceCount: 1 },
  });

  test('of two jobs made in the same millisecond, the one the job list shows first (ids in code-unit order) is kept as the newest', () => {
    // The list orders ties by id as SQLite does ('B' < 'a'); a locale's order ('a' < 'B') would keep 'a' instead and
    // remove the job the worklist shows.
    const jobs = [finishedLongAgo('a', 2), finishedLongAgo('B', 1)];
    expect(prunableJobIds(jobs, Date.now())).toEqual([]);
  });
});
