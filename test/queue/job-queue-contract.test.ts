import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { MipsegError } from '@mipseg/shared/errors';
import {
  BullMqJobQueue, EmbeddedJobQueue, type AnalysisRequest, type ExportStatus, type JobHandlers, type JobQueue, type JobRecord, type ResultUids,
} from '@mipseg/shared/queue';
import { startRedis, type TestRedis } from '../support/redis';
import { until } from '../support/until';

const log = pino({ level: 'silent' });
const retry = { attempts: 3, baseDelayMs: 100 };
const STUDY_CHECK_RETRY_MS = 200;

function request(series: string): AnalysisRequest {
  return { studyInstanceUid: '1.2.3', seriesInstanceUid: series, sopInstanceUids: ['1.2.3.4'], contentHash: 'abc', reason: 'study-complete', version: 1 };
}

const RESULT: ResultUids = {
  studyInstanceUid: '1.2.3',
  mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4',
  lesionCount: 1, tumourAreaMm2: 40, modelName: 'm', modelVersion: '1',
};

const finished = (q: JobQueue, id: string) => until(async () => {
  const j = await q.getJob(id);
  return j && ['done', 'failed', 'not-applicable'].includes(j.state) ? j : undefined;
}, `job ${id} to finish`);

interface Harness {
  make(destinations: string[]): Promise<JobQueue>;
  cleanup(): Promise<void>;
}

let redis: TestRedis | undefined;
afterAll(async () => redis?.stop());

const harnesses: Array<[string, () => Harness]> = [
  ['embedded (SQLite)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-jobs-'));
    const queues: JobQueue[] = [];
    return {
      make: (exportDestinations) => {
        const q = new EmbeddedJobQueue(join(dir, `${randomUUID()}.sqlite`), log,
          { analysisRetry: retry, exportRetry: retry, exportDestinations, pollMs: 20, studyCheckRetryMs: STUDY_CHECK_RETRY_MS });
        queues.push(q);
        return Promise.resolve(q);
      },
      cleanup: async () => {
        await Promise.all(queues.map((q) => q.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }],
  ['BullMQ (Redis)', () => {
    const queues: JobQueue[] = [];
    return {
      make: async (exportDestinations) => {
        redis ??= await startRedis();
        const q = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
          exportDestinations, lockDurationMs: 5000, studyCheckRetryMs: STUDY_CHECK_RETRY_MS }, log);
        queues.push(q);
        return q;
      },
      cleanup: async () => {
        await Promise.all(queues.map((q) => q.close()));
      },
    };
  }],
];

describe.each(harnesses)('job queue: %s', (_name, harnessOf) => {
  let harness: Harness;
  beforeEach(() => {
    harness = harnessOf();
  });
  afterEach(() => harness.cleanup());

  test('two planners adding the same job at once: one is told it made it, the other that it exists', async () => {
    const q = await harness.make([]);
    const outcomes = await Promise.all([q.enqueueAnalysis('dup', request('1.2.3.4')), q.enqueueAnalysis('dup', request('1.2.3.4'))]);
    expect(outcomes.filter((o) => o.created)).toHaveLength(1);
    const made = outcomes.find((o) => o.created) as { version: number };
    expect((await q.getJob('dup'))?.request?.version).toBe(made.version);
  });

  test('jobs made in the same millisecond list in one order in both modes: newest first, then by id', async () => {
    const q = await harness.make([]);
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    try {
      for (const id of ['job-b', 'job-c', 'job-a']) await q.enqueueAnalysis(id, request('1.2.3.4'));
    } finally {
      clock.mockRestore();
    }
    const listed = async (filter: { studyInstanceUid?: string }) => (await q.listJobs({ ...filter, limit: 10, offset: 0 })).map((j) => j.id);
    expect(await listed({})).toEqual(['job-a', 'job-b', 'job-c']);
    expect(await listed({ studyInstanceUid: '1.2.3' })).toEqual(['job-a', 'job-b', 'job-c']);
    expect((await q.listJobs({ limit: 1, offset: 1 })).map((j) => j.id)).toEqual(['job-b']);
    expect((await q.latestJobsByStudy(['1.2.3'])).get('1.2.3')?.id).toBe('job-a');
  });

  test('a study check runs once, a quiet period after the last instance', async () => {
    const q = await harness.make([]);
    const checks: Array<[string, number]> = [];
    q.startProcessing({ checkStudy: (uid) => { checks.push([uid, Date.now()]); return Promise.resolve(); }, analyze: () => Promise.resolve(RESULT) },
      { concurrency: 1, studyChecks: true, analyses: true });
    const start = Date.now();
    await q.scheduleStudyCheck('1.2.3', 600);
    await new Promise((r) => setTimeout(r, 300));
    await q.scheduleStudyCheck('1.2.3', 600);
    expect(await q.pendingStudies()).toEqual(['1.2.3']);
    await until(() => Promise.resolve(checks.length ? true : undefined), 'the study check');
    await new Promise((r) => setTimeout(r, 500));
    expect(checks).toHaveLength(1);
    expect((checks[0] as [string, number])[1] - start).toBeGreaterThanOrEqual(850);
  });

  // The deletion guard and the results API read this: a study being planned is not yet safe to delete.
  test('a study whose check is running is still pending, until the check has finished', async () => {
    const q = await harness.make([]);
    let finishCheck: () => void = () => undefined;
    let checking = false;
    q.startProcessing({ checkStudy: () => {
      checking = true;
      return new Promise<void>((resolve) => (finishCheck = resolve));
    }, analyze: () => Promise.resolve(RESULT) }, { concurrency: 1, studyChecks: true, analyses: true });
    try {
      await q.scheduleStudyCheck('1.2.4', 20);
      await until(() => Promise.resolve(checking ? true : undefined), 'the study check to start');
      expect(await q.pendingStudies()).toEqual(['1.2.4']);
    } finally {
      finishCheck();
    }
    await until(async () => ((await q.pendingStudies()).length === 0 ? true : undefined), 'the study to leave the pending list');
  });

  test('a study check that fails is run again until it succeeds, and then not again', async () => {
    const q = await harness.make([]);
    const checks: number[] = [];
    q.startProcessing({ checkStudy: () => {
      checks.push(Date.now());
      return checks.length < 3 ? Promise.reject(new Error('the index is locked')) : Promise.resolve();
    }, analyze: () => Promise.resolve(RESULT) }, { concurrency: 1, studyChecks: true, analyses: true });
    await q.scheduleStudyCheck('1.2.3', 50);
    await until(() => Promise.resolve(checks.length >= 3 ? true : undefined), 'the third study check');
    await until(async () => ((await q.pendingStudies()).length === 0 ? true : undefined), 'the study to leave the pending list');
    await new Promise((r) => setTimeout(r, 3 * STUDY_CHECK_RETRY_MS));
    expect(checks).toHaveLength(3);
    expect((checks[2] as number) - (checks[0] as number)).toBeGreaterThanOrEqual(2 * STUDY_CHECK_RETRY_MS - 20);
  });

  test('an instance arriving while its due check waits behind another study\'s starts its quiet period again', async () => {
    const q = await harness.make([]);
    const QUIET_MS = 1000;
    const checks: Array<{ study: string; at: number }> = [];
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => { release = resolve; });
    q.startProcessing({ checkStudy: async (study) => {
      checks.push({ study, at: Date.now() });
      if (checks.length === 1) await held; // the first check runs long; the other study's waits behind it
    }, analyze: () => Promise.resolve(RESULT) }, { concurrency: 1, studyChecks: true, analyses: false });
    await q.scheduleStudyCheck('1.2.3.1', 0);
    await q.scheduleStudyCheck('1.2.3.2', 0);
    await until(() => Promise.resolve(checks.length === 1 ? true : undefined), 'the first study check');
    const waiting = checks[0]?.study === '1.2.3.1' ? '1.2.3.2' : '1.2.3.1';
    // Due, waiting its turn, when another instance of it is stored.
    const arrivedAt = Date.now();
    await q.scheduleStudyCheck(waiting, QUIET_MS);
    release();
    await until(() => Promise.resolve(checks.length === 2 ? true : undefined), 'the waiting study\'s check');
    expect(checks[1]?.study).toBe(waiting);
    expect((checks[1]?.at as number) - arrivedAt).toBeGreaterThanOrEqual(QUIET_MS - 20);
    await new Promise((r) => setTimeout(r, 2 * STUDY_CHECK_RETRY_MS));
    expect(checks).toHaveLength(2);
  });

  test('a job made after the wall clock stepped back is still its study\'s newest, in the list and as its latest', async () => {
    const q = await harness.make([]);
    const realNow = Date.now.bind(Date);
    const ahead = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 30 * 86_400_000);
    try {
      await q.enqueueAnalysis('seg-v1', request('1.2.3.1'));
    } finally {
      ahead.mockRestore();
    }
    await q.recordNotApplicable('na-later', '1.2.3', 'no PET series');
    await q.enqueueAnalysis('seg-v2', request('1.2.3.1'));
    expect((await q.listJobs({ studyInstanceUid: '1.2.3', limit: 10, offset: 0 })).map((j) => j.id)).toEqual(['seg-v2', 'na-later', 'seg-v1']);
    expect((await q.latestJobsByStudy(['1.2.3'])).get('1.2.3')?.id).toBe('seg-v2');
  });

  test('an id that names no job is not found, the names of the queue\'s own records included', async () => {
    const q = await harness.make([]);
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT) },
      { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('seg-1', request('1.2.3.9'));
    await finished(q, 'seg-1');
    for (const id of ['meta', 'events', 'id', 'wait', 'completed', 'stalled-check', 'seg-1:logs', '']) {
      await expect(q.getJob(id)).resolves.toBeUndefined();
      await expect(q.hasJob(id)).resolves.toBe(false);
    }
  });

  test('the same job id is accepted once and completes with its result', async () => {
    const q = await harness.make([]);
    let runs = 0;
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: async (_id, _req, progress) => {
      runs++;
      await progress.stage('inference', 50);
      progress.timing('inference', 12);
      return RESULT;
    } }, { concurrency: 1, studyChecks: false, analyses: true });
    expect(await q.enqueueAnalysis('job-a', request('1.2.3.1'))).toEqual({ created: true, version: 1 });
    expect(await q.enqueueAnalysis('job-a', request('1.2.3.1'))).toEqual({ created: false });
    expect([await q.hasJob('job-a'), await q.hasJob('job-z')]).toEqual([true, false]);
    const job = await finished(q, 'job-a');
    expect(job.state).toBe('done');
    expect(job.result).toEqual(RESULT);
    expect(job.timingsMs.inference).toBe(12);
    expect(runs).toBe(1);
    expect(job.request?.version).toBe(1);
    expect((await q.listJobs({ studyInstanceUid: '1.2.3', limit: 10, offset: 0 })).map((j) => j.id)).toEqual(['job-a']);
  });

  test('jobs of one series enqueued at the same moment get versions 1, 2 and 3, each once', async () => {
    const q = await harness.make([]);
    const queued = await Promise.all(['v-a', 'v-b', 'v-c'].map((id) => q.enqueueAnalysis(id, request('1.2.3.9'))));
    expect(queued.map((r) => (r.created ? r.version : 0)).sort()).toEqual([1, 2, 3]);
    const stored = await Promise.all(['v-a', 'v-b', 'v-c'].map(async (id) => (await q.getJob(id))?.request?.version));
    expect(stored.sort()).toEqual(queued.map((r) => (r.created ? r.version : 0)).sort());
    expect(await q.enqueueAnalysis('v-d', request('1.2.3.10'))).toEqual({ created: true, version: 1 });
  });

  test('bad data fails at once; a transient error is retried', async () => {
    const q = await harness.make([]);
    let transient = 0;
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (id) => {
      if (id === 'bad') return Promise.reject(new MipsegError('MIPSEG_IMAGE_INVALID', 'missing slice at z=12'));
      transient++;
      return transient < 2 ? Promise.reject(new Error('connection reset')) : Promise.resolve(RESULT);
    } }, { concurrency: 2, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('bad', request('1.2.3.2'));
    await q.enqueueAnalysis('flaky', request('1.2.3.3'));
    const bad = await finished(q, 'bad');
    expect(bad).toMatchObject({ state: 'failed', failureCode: 'MIPSEG_IMAGE_INVALID', attempts: 1 });
    expect(bad.failureReason).toMatch(/missing slice/);
    const flaky = await finished(q, 'flaky');
    expect(flaky).toMatchObject({ state: 'done', attempts: 2 });
  });

  test('a job on its next attempt shows why the last one failed, and no failure once it is done', async () => {
    const q = await harness.make([]);
    let runs = 0;
    let finishSecond: (() => void) | undefined;
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => {
      runs++;
      if (runs === 1) return Promise.reject(new Error('connection reset'));
      return new Promise<ResultUids>((resolve) => {
        finishSecond = () => resolve(RESULT);
      });
    } }, { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('retried', request('1.2.3.9'));
    const retrying = await until(async () => {
      const j = await q.getJob('retried');
      return finishSecond && j?.state === 'running' ? j : undefined;
    }, 'the second attempt to run');
    // Its attempts count the one under way, in both modes.
    expect(retrying).toMatchObject({ attempts: 2, failureCode: 'MIPSEG_INTERNAL', failureReason: expect.stringMatching(/connection reset/) });
    finishSecond?.();
    expect(await finished(q, 'retried')).toMatchObject({ state: 'done', failureCode: null, failureReason: null });
  });

  test('each attempt gets the whole instance list; the jobs API shows its length, queued, done and failed', async () => {
    const q = await harness.make([]);
    const uids = ['1.2.3.4.1', '1.2.3.4.2', '1.2.3.4.3'];
    await q.enqueueAnalysis('whole', { ...request('1.2.3.5'), sopInstanceUids: uids });
    await q.enqueueAnalysis('refused', { ...request('1.2.3.6'), sopInstanceUids: uids });
    const queued = (await q.getJob('whole')) as JobRecord;
    expect(queued.request).toMatchObject({ seriesInstanceUid: '1.2.3.5', instanceCount: 3, version: 1 });
    expect(queued.request).not.toHaveProperty('sopInstanceUids');
    const received: string[][] = [];
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (id, req) => {
      if (id === 'refused') return Promise.reject(new MipsegError('MIPSEG_IMAGE_INVALID', 'duplicate slice positions'));
      received.push([...req.sopInstanceUids]);
      return received.length < 2 ? Promise.reject(new Error('connection reset')) : Promise.resolve(RESULT);
    } }, { concurrency: 1, studyChecks: false, analyses: true });
    const done = await finished(q, 'whole');
    const failed = await finished(q, 'refused');
    expect(received).toEqual([uids, uids]);
    for (const job of [done, failed, ...(await q.listJobs({ limit: 10, offset: 0 }))]) {
      expect(job.request).toMatchObject({ instanceCount: 3, contentHash: 'abc' });
      expect(job.request).not.toHaveProperty('sopInstanceUids');
    }
  });

  test('gives the MIP and SEG of each study whose newest job is done, and of no other', async () => {
    const q = await harness.make([]);
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (id, req) => (id === 'seg-bad'
      ? Promise.reject(new MipsegError('MIPSEG_IMAGE_INVALID', 'gap'))
      : Promise.resolve({ ...RESULT, studyInstanceUid: req.studyInstanceUid, segSopInstanceUid: `${req.studyInstanceUid}.9` })) },
    { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('seg-good', { ...request('1.5.1.1'), studyInstanceUid: '1.5.1' });
    await q.enqueueAnalysis('seg-bad', { ...request('1.5.2.1'), studyInstanceUid: '1.5.2' });
    await finished(q, 'seg-good');
    await finished(q, 'seg-bad');
    await q.recordNotApplicable('na-later', '1.5.3', 'no PET series');
    expect([...(await q.latestDoneResults())]).toEqual([['1.5.1', { mipSopInstanceUid: RESULT.mipSopInstanceUid, segSopInstanceUid: '1.5.1.9' }]]);
  });

  test('retention removes old finished job records but keeps each study\'s newest and newest done job, each series\' newest analysis, and jobs with exports to send', async () => {
    const q = await harness.make(['pacs']);
    let releaseExport: () => void = () => undefined;
    const exportHeld = new Promise<void>((resolve) => (releaseExport = resolve));
    const sent = (destination: string, attempt: number): ExportStatus => ({ destination, state: 'sent', attempts: attempt, updatedAt: Date.now() });
    q.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: (id) => (id.endsWith('-failed') ? Promise.reject(new MipsegError('MIPSEG_IMAGE_INVALID', 'gap')) : Promise.resolve(RESULT)),
      // The first analysis of study B is still being sent to the PACS when retention runs.
      exportResult: async (id, _result, destination, attempt) => {
        if (id === 'b-1') await exportHeld;
        return sent(destination, attempt);
      },
    }, { concurrency: 1, studyChecks: false, analyses: true });
    // Released in any case: the harness's close waits for exports being sent.
    try {
      const analyse = async (id: string, study: string, series: string) => {
        await q.enqueueAnalysis(id, { ...request(series), studyInstanceUid: study });
        return finished(q, id);
      };
      await analyse('a-1', '1.7.1', '1.7.1.1');
      await analyse('a-2', '1.7.1', '1.7.1.1');
      await analyse('a-3-failed', '1.7.1', '1.7.1.1');
      await analyse('b-1', '1.7.2', '1.7.2.1');
      await analyse('b-2', '1.7.2', '1.7.2.1');
      await q.recordNotApplicable('na-1', '1.7.3', 'no PET series');
      await finished(q, 'na-1');
      await new Promise((r) => setTimeout(r, 5));
      await q.recordNotApplicable('na-2', '1.7.3', 'no PET series, still');
      await finished(q, 'na-2');
      await until(async () => ((await q.getJob('b-2'))?.exports[0]?.state === 'sent' ? true : undefined), 'b-2 to be sent');
      const ids = async (study: string) => (await q.listJobs({ studyInstanceUid: study, limit: 100, offset: 0 })).map((j) => j.id).sort();

      expect(await q.pruneFinishedJobs(Date.now() - 60_000)).toBe(0); // all finished within the last minute
      expect(await q.pruneFinishedJobs(Date.now() + 1)).toBe(2);
      expect(await ids('1.7.1')).toEqual(['a-2', 'a-3-failed']); // a-2: the newest done; a-3: the newest, and the series' newest
      expect(await ids('1.7.2')).toEqual(['b-1', 'b-2']); // b-1's export is still being sent
      expect(await ids('1.7.3')).toEqual(['na-2']);
      expect(await q.getJob('a-1')).toBeUndefined();
      expect((await q.listJobs({ limit: 100, offset: 0 })).map((j) => j.id)).not.toContain('a-1');
      // The series' next analysis still gets the next version.
      expect(await q.enqueueAnalysis('a-4', { ...request('1.7.1.1'), studyInstanceUid: '1.7.1' })).toEqual({ created: true, version: 4 });

      releaseExport();
      await until(async () => ((await q.getJob('b-1'))?.exports[0]?.state === 'sent' ? true : undefined), 'b-1 to be sent');
      await finished(q, 'a-4');
      expect(await q.pruneFinishedJobs(Date.now() + 1)).toBe(3); // b-1, sent; a-2 and a-3, followed by a-4
      expect(await ids('1.7.2')).toEqual(['b-2']);
      expect(await ids('1.7.1')).toEqual(['a-4']);
    } finally {
      releaseExport();
    }
  });

  test('a study without eligible series is recorded as not applicable with its reason', async () => {
    const q = await harness.make([]);
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT) }, { concurrency: 1, studyChecks: false, analyses: true });
    await q.recordNotApplicable('na-1', '1.2.9', 'no attenuation-corrected PET series');
    const job = (await q.getJob('na-1')) as JobRecord;
    expect(job).toMatchObject({ state: 'not-applicable', failureReason: 'no attenuation-corrected PET series', studyInstanceUid: '1.2.9' });
  });

  test('an export is retried with backoff, fails visibly after the last attempt, and can be retried', async () => {
    const q = await harness.make(['pacs']);
    let pacsUp = false;
    let attempts = 0;
    const handlers: JobHandlers = {
      checkStudy: () => Promise.resolve(),
      analyze: () => Promise.resolve(RESULT),
      exportResult: (_id, _result, destination, attempt) => {
        attempts++;
        return Promise.resolve(pacsUp ? { destination, state: 'sent', attempts: attempt, updatedAt: Date.now() }
          : { destination, state: 'retrying', attempts: attempt, detail: 'connection refused', updatedAt: Date.now() });
      },
    };
    q.startProcessing(handlers, { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('exp', request('1.2.3.4'));
    const failed = await until(async () => {
      const e = (await q.getJob('exp'))?.exports[0];
      return e?.state === 'failed' ? e : undefined;
    }, 'the export to fail');
    expect(attempts).toBe(3);
    expect(failed.detail).toMatch(/connection refused/);
    pacsUp = true;
    expect(await q.retryExport('exp', 'pacs')).toBe(true);
    const sent = await until(async () => {
      const e = (await q.getJob('exp'))?.exports[0];
      return e?.state === 'sent' ? e : undefined;
    }, 'the export to be sent');
    expect(sent.detail ?? '').not.toMatch(/connection refused/); // what was confirmed, not an earlier attempt's failure
    // A destination the job was never exported to is no export to retry, and (queue mode) opens no queue for it:
    // the route takes any string, and each queue object would stay for the life of the process.
    for (const unknown of ['stow:http://never-configured.example/dicom-web', 'dimse:NOBODY@10.9.9.9:104']) {
      expect(await q.retryExport('exp', unknown)).toBe(false);
      if (q instanceof BullMqJobQueue) expect((q as unknown as { exportQueues: Map<string, unknown> }).exportQueues.has(unknown)).toBe(false);
    }
  });

  test('two destinations whose names differ only in punctuation are two exports, each sent', async () => {
    const destinations = ['dimse:PACS@pacs-a.example:104', 'dimse:PACS@pacs_a.example:104'];
    const q = await harness.make(destinations);
    const sentTo: string[] = [];
    q.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: () => Promise.resolve(RESULT),
      exportResult: (_id, _result, destination, attempt) => {
        sentTo.push(destination);
        return Promise.resolve({ destination, state: 'sent', attempts: attempt, detail: `stored at ${destination}`, updatedAt: Date.now() });
      },
    }, { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('two', request('1.2.3.5'));
    const exports = await until(async () => {
      const e = (await q.getJob('two'))?.exports ?? [];
      return e.length === 2 && e.every((x) => x.state === 'sent') ? e : undefined;
    }, 'both exports to be sent');
    expect(sentTo.sort()).toEqual(destinations);
    expect(exports.map((e) => e.detail).sort()).toEqual(destinations.map((d) => `stored at ${d}`));
  });

  test('a destination that never answers holds up none of another destination\'s exports', async () => {
    const q = await harness.make(['hung-pacs', 'pacs']);
    const hung: Array<() => void> = [];
    q.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: () => Promise.resolve(RESULT),
      exportResult: (_id, _result, destination, attempt) => {
        const sent = { destination, state: 'sent' as const, attempts: attempt, updatedAt: Date.now() };
        return destination === 'pacs' ? Promise.resolve(sent) : new Promise((resolve) => hung.push(() => resolve(sent)));
      },
    }, { concurrency: 1, studyChecks: false, analyses: true });
    const ids = ['h1', 'h2', 'h3', 'h4'];
    try {
      for (const [i, id] of ids.entries()) await q.enqueueAnalysis(id, request(`1.2.3.6.${i}`));
      // Every result reaches 'pacs' while the hung PACS holds its exports (more of them than a worker's export slots).
      for (const id of ids) {
        await until(async () => ((await q.getJob(id))?.exports.find((e) => e.destination === 'pacs')?.state === 'sent' ? true : undefined),
          `job ${id}'s export to pacs`);
      }
    } finally {
      // Let the hung sends end, so that the queue can close.
      const release = setInterval(() => hung.splice(0).forEach((r) => r()), 20);
      await until(async () => ((await Promise.all(ids.map((id) => q.getJob(id))))
        .every((j) => j?.exports.every((e) => e.state === 'sent')) ? true : undefined), 'the hung exports to end');
      clearInterval(release);
    }
  });

  test('counts jobs by state, the oldest one waiting and exports by destination and state, as /metrics reads them', async () => {
    const q = await harness.make(['pacs-up', 'pacs-down']);
    await q.enqueueAnalysis('count-1', request('1.2.3.1'));
    await q.enqueueAnalysis('count-2', request('1.2.3.2'));
    const waiting = await q.jobCounts();
    expect(waiting.byState.queued).toBe(2);
    expect(waiting.oldestWaitingCreatedAt).toBe((await q.getJob('count-1'))?.createdAt);
    expect(waiting.exports).toEqual([]);
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT),
      exportResult: (_id, _result, destination, attempt) => Promise.resolve(destination === 'pacs-up'
        ? { destination, state: 'sent', attempts: attempt, updatedAt: Date.now() }
        : { destination, state: 'retrying', attempts: attempt, detail: 'connection refused', updatedAt: Date.now() }) },
    { concurrency: 1, studyChecks: false, analyses: true });
    await q.recordNotApplicable('count-na', '1.2.9', 'no PET series');
    const settled = await until(async () => {
      const counts = await q.jobCounts();
      return counts.exports.some((e) => e.destination === 'pacs-down' && e.state === 'failed' && e.count === 2) ? counts : undefined;
    }, 'the exports to settle');
    // Queue mode keeps a not-applicable record as a completed BullMQ job: it counts as done there (README, Metrics).
    const notApplicable = q.mode === 'embedded' ? { done: 2, 'not-applicable': 1 } : { done: 3, 'not-applicable': 0 };
    expect(settled.byState).toEqual({ queued: 0, running: 0, failed: 0, ...notApplicable });
    expect(settled.oldestWaitingCreatedAt).toBeNull();
    expect(settled.exports).toEqual([{ destination: 'pacs-down', state: 'failed', count: 2 }, { destination: 'pacs-up', state: 'sent', count: 2 }]);
  });

  test('lists the analyses done since a time, oldest first, without those already counted or not-applicable records', async () => {
    const q = await harness.make([]);
    const since = Date.now();
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (_id, _req, progress) => {
      progress.timing('inference', 12);
      return Promise.resolve(RESULT);
    } }, { concurrency: 1, studyChecks: false, analyses: true });
    await q.recordNotApplicable('done-na', '1.2.9', 'no PET series');
    await q.enqueueAnalysis('done-1', request('1.2.3.1'));
    await finished(q, 'done-1');
    await q.enqueueAnalysis('done-2', request('1.2.3.2'));
    const second = await finished(q, 'done-2');
    const done = await q.analysesDoneSince(since, 10, new Set());
    expect(done.map((d) => d.id)).toEqual(['done-1', 'done-2']);
    expect(done[1]).toEqual({ id: 'done-2', studyInstanceUid: '1.2.3', reason: 'study-complete', createdAt: second.createdAt,
      finishedAt: second.finishedAt, timingsMs: { inference: 12 } });
    expect((await q.analysesDoneSince(since, 1, new Set(['done-1']))).map((d) => d.id)).toEqual(['done-2']);
    expect((await q.analysesDoneSince(since, 1, new Set())).map((d) => d.id)).toEqual(['done-1']);
    expect(await q.analysesDoneSince((second.finishedAt ?? 0) + 1, 10, new Set())).toEqual([]);
  });
});
