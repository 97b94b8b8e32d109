import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { until } from '../../../test/support/until';
import { EmbeddedJobQueue } from './embedded-job-queue';
import type { JobHandlers } from './job-queue';
import type { AnalysisRequest, JobRecord, ResultUids } from './job-types';

const log = pino({ level: 'silent' });
const retry = { attempts: 1, baseDelayMs: 100 };
/** Far longer than any wait below: whatever starts in these tests was started by its event, not by the poll. */
const NO_POLL_MS = 600_000;

const RESULT: ResultUids = {
  studyInstanceUid: '1.2.3', mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3',
  segSopInstanceUid: '2.25.4', lesionCount: 0, tumourAreaMm2: 0, modelName: 'm', modelVersion: '1',
};

function request(series: string): AnalysisRequest {
  return { studyInstanceUid: '1.2.3', seriesInstanceUid: series, sopInstanceUids: ['1.2.3.4'], contentHash: 'abc', reason: 'study-complete', version: 1 };
}

/** Ten seconds, polled every 20 ms: these jobs start on events and finish in milliseconds. */
const WAIT = { timeoutMs: 10_000, pollMs: 20 };

const doneJob = (q: EmbeddedJobQueue, id: string): Promise<JobRecord> =>
  until(async () => ((await q.getJob(id))?.state === 'done' ? q.getJob(id) : undefined), `job ${id} to be done`, WAIT);

describe('embedded job runner: work starts when it becomes due, not at the next poll', () => {
  let dir: string;
  const queues: EmbeddedJobQueue[] = [];
  const open = (pollMs: number, path = join(dir, 'jobs.sqlite')) => {
    const q = new EmbeddedJobQueue(path, log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [], pollMs });
    queues.push(q);
    return q;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-embedded-'));
  });
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('a study check runs when its quiet period ends', async () => {
    const q = open(NO_POLL_MS);
    const checked: string[] = [];
    q.startProcessing({ checkStudy: (uid) => Promise.resolve(void checked.push(uid)), analyze: () => Promise.resolve(RESULT) },
      { concurrency: 1, studyChecks: true, analyses: true });
    await q.scheduleStudyCheck('1.2.3', 100);
    await until(() => Promise.resolve(checked.length ? true : undefined), 'the study check', WAIT);
    expect(checked).toEqual(['1.2.3']);
    expect(await q.pendingStudies()).toEqual([]);
  });

  test('a new analysis starts at once, and the next one as soon as it finishes', async () => {
    const q = open(NO_POLL_MS);
    const started: string[] = [];
    const handlers: JobHandlers = {
      checkStudy: () => Promise.resolve(),
      analyze: async (id) => {
        started.push(id);
        await new Promise((r) => setTimeout(r, 50));
        return RESULT;
      },
    };
    q.startProcessing(handlers, { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('job-a', request('1.2.3.1'));
    await q.enqueueAnalysis('job-b', request('1.2.3.2'));
    await doneJob(q, 'job-b');
    expect(started).toEqual(['job-a', 'job-b']);
  });

  test('after a restart, the poll finds the study checks and analyses left in the database', async () => {
    const path = join(dir, 'restart.sqlite');
    const before = new EmbeddedJobQueue(path, log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [], pollMs: NO_POLL_MS });
    await before.scheduleStudyCheck('1.2.3', 0); // not processing: nothing runs it
    await before.enqueueAnalysis('job-a', request('1.2.3.1'));
    await before.close();
    const after = open(20, path);
    const checked: string[] = [];
    after.startProcessing({ checkStudy: (uid) => Promise.resolve(void checked.push(uid)), analyze: () => Promise.resolve(RESULT) },
      { concurrency: 1, studyChecks: true, analyses: true });
    expect((await doneJob(after, 'job-a')).result).toEqual(RESULT);
    await until(() => Promise.resolve(checked.length ? true : undefined), 'the study check', WAIT);
    expect(checked).toEqual(['1.2.3']);
  });
});
