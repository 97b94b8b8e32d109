import Database from 'better-sqlite3';
import IORedis from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { MipsegError } from '@mipseg/shared/errors';
import {
  BullMqJobQueue, EmbeddedJobQueue, type AnalysisPlan, type ExportStatus, type JobHandlers, type JobQueue, type ResultUids, type RetryPolicy,
} from '@mipseg/shared/queue';
import { startRedis, type TestRedis } from '../support/redis';
import { until } from '../support/until';

/**
 * A result superseded before it went out is not sent after the newer one: the PACS's newest result must be the
 * newest. Scenario: version 1's export retries while the PACS is down, a late instance makes version 2, which is done
 * first; when the PACS is back, version 1 must not arrive after (or instead of) version 2.
 */

const log = pino({ level: 'silent' });
const STUDY = '1.2.840.1';
const SERIES = '1.2.840.1.7';
/** Another series of the study. */
const OTHER_SERIES = '1.2.840.1.8';
const analysisRetry: RetryPolicy = { attempts: 3, baseDelayMs: 50 };
/** Many quick attempts: the export is still retrying when the newer result is done. */
const KEEPS_RETRYING: RetryPolicy = { attempts: 50, baseDelayMs: 20 };

const plan = (contentHash: string, seriesInstanceUid = SERIES): AnalysisPlan =>
  ({ studyInstanceUid: STUDY, seriesInstanceUid, sopInstanceUids: [`${seriesInstanceUid}.1`], contentHash, reason: 'study-complete' });

/** Each job's own result ('v2' → UIDs 2.25.2.n), so that what was sent can be told apart. */
const resultOf = (jobId: string): ResultUids => {
  const n = jobId.replace(/\D/g, '');
  return { studyInstanceUid: STUDY, mipSeriesInstanceUid: `2.25.${n}.1`, mipSopInstanceUid: `2.25.${n}.2`,
    segSeriesInstanceUid: `2.25.${n}.3`, segSopInstanceUid: `2.25.${n}.4`, lesionCount: 1, tumourAreaMm2: 40, modelName: 'm', modelVersion: '1' };
};

/** A PACS that is down until `up` is set; it records which job's result each send carried, and whether it arrived. */
class TestPacs {
  up = false;
  readonly sends: Array<{ readonly jobId: string; readonly arrived: boolean }> = [];
  readonly exportResult: NonNullable<JobHandlers['exportResult']> = (jobId, _result, destination, attempt) => {
    this.sends.push({ jobId, arrived: this.up });
    const status: ExportStatus = this.up ? { destination, state: 'sent', attempts: attempt, updatedAt: Date.now() }
      : { destination, state: 'retrying', attempts: attempt, detail: 'connection refused', updatedAt: Date.now() };
    return Promise.resolve(status);
  };

  arrived(jobId: string): boolean {
    return this.sends.some((s) => s.jobId === jobId && s.arrived);
  }
}

interface Harness {
  make(exportRetry: RetryPolicy, exportDestinations?: readonly string[]): Promise<JobQueue>;
  /** Makes a job's stored record unreadable (bad JSON), as a torn write or a bad disk block would: reading it throws. */
  corrupt(jobId: string): Promise<void>;
  cleanup(): Promise<void>;
}

let redis: TestRedis | undefined;
afterAll(async () => redis?.stop());

const harnesses: Array<[string, () => Harness]> = [
  ['embedded (SQLite)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-superseded-'));
    const queues: JobQueue[] = [];
    return {
      make: (exportRetry, exportDestinations = ['pacs']) => {
        const q = new EmbeddedJobQueue(join(dir, 'jobs.sqlite'), log, { analysisRetry, exportRetry, exportDestinations, pollMs: 20 });
        queues.push(q);
        return Promise.resolve(q);
      },
      corrupt: (jobId) => {
        const db = new Database(join(dir, 'jobs.sqlite'));
        try {
          db.prepare(`UPDATE jobs SET timings = '{' WHERE id = ?`).run(jobId);
        } finally {
          db.close();
        }
        return Promise.resolve();
      },
      cleanup: async () => {
        await Promise.all(queues.map((q) => q.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }],
  ['BullMQ (Redis)', () => {
    const queues: JobQueue[] = [];
    const prefix = `t-${randomUUID()}`;
    return {
      make: async (exportRetry, exportDestinations = ['pacs']) => {
        redis ??= await startRedis();
        const q = new BullMqJobQueue({ redisUrl: redis.url, prefix, analysisRetry, exportRetry,
          exportDestinations, lockDurationMs: 5000 }, log);
        queues.push(q);
        return q;
      },
      corrupt: async (jobId) => {
        const client = new IORedis(redis?.url ?? '');
        try {
          await client.hset(`${prefix}:analyses:${jobId}`, 'data', '{');
        } finally {
          client.disconnect();
        }
      },
      cleanup: () => Promise.all(queues.map((q) => q.close())).then(() => undefined),
    };
  }],
];

const exportOf = async (q: JobQueue, jobId: string, destination = 'pacs'): Promise<ExportStatus | undefined> =>
  (await q.getJob(jobId))?.exports.find((e) => e.destination === destination);

/** The export once it has ended (sent, failed or superseded). */
const exportEnded = (q: JobQueue, jobId: string, destination = 'pacs') => until(async () => {
  const e = await exportOf(q, jobId, destination);
  return e && e.state !== 'pending' && e.state !== 'retrying' ? e : undefined;
}, `job ${jobId}'s export to ${destination} to end`);

const jobInState = (q: JobQueue, jobId: string, state: string) =>
  until(async () => ((await q.getJob(jobId))?.state === state ? true : undefined), `job ${jobId} to be ${state}`);

describe.each(harnesses)('exports of a superseded result: %s', (_name, harnessOf) => {
  let harness: Harness;
  beforeEach(() => {
    harness = harnessOf();
  });
  afterEach(() => harness.cleanup());

  test('an export still retrying when a newer version of its series is done ends superseded, unsent; the newer one is sent', async () => {
    const q = await harness.make(KEEPS_RETRYING);
    const pacs = new TestPacs();
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (jobId) => Promise.resolve(resultOf(jobId)), exportResult: pacs.exportResult },
      { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('v1', plan('first'));
    await until(async () => ((await exportOf(q, 'v1'))?.state === 'retrying' ? true : undefined), 'v1\'s export to retry');
    expect(await q.enqueueAnalysis('v2', plan('late-instance'))).toEqual({ created: true, version: 2 });
    await jobInState(q, 'v2', 'done');
    pacs.up = true;

    const older = await exportEnded(q, 'v1');
    expect(older.state).toBe('superseded');
    expect(older.detail).toMatch(/version 2 .*job v2/);
    // The attempts made, each a send that did not arrive: ending superseded is none.
    expect(older.attempts).toBe(pacs.sends.filter((s) => s.jobId === 'v1').length);
    expect((await exportEnded(q, 'v2')).state).toBe('sent');
    expect(pacs.arrived('v1')).toBe(false);
    expect(pacs.arrived('v2')).toBe(true);
    // Final: the retry button does not send it (the jobs API answers 409, it is not failed).
    expect(await q.retryExport('v1', 'pacs')).toBe(false);
    expect((await exportOf(q, 'v1'))?.state).toBe('superseded');
  });

  test('a failed export retried by hand after a newer version of its series is done ends superseded, unsent', async () => {
    const q = await harness.make({ attempts: 2, baseDelayMs: 20 });
    const pacs = new TestPacs();
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (jobId) => Promise.resolve(resultOf(jobId)), exportResult: pacs.exportResult },
      { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('v1', plan('first'));
    expect((await exportEnded(q, 'v1')).state).toBe('failed');
    pacs.up = true;
    await q.enqueueAnalysis('v2', plan('late-instance'));
    expect((await exportEnded(q, 'v2')).state).toBe('sent');

    expect(await q.retryExport('v1', 'pacs')).toBe(true);
    const older = await exportEnded(q, 'v1');
    // The retry gave it its attempts back, and it ended with none made.
    expect(older).toMatchObject({ state: 'superseded', attempts: 0, detail: expect.stringMatching(/version 2 .*job v2/) });
    expect(pacs.arrived('v1')).toBe(false);
  });

  test('a newer version that failed or is still running supersedes nothing: the older result is sent, and stays sent', async () => {
    const q = await harness.make(KEEPS_RETRYING);
    const pacs = new TestPacs();
    let finishV3: (() => void) | undefined;
    q.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: (jobId) => {
        if (jobId === 'v2') return Promise.reject(new MipsegError('MIPSEG_IMAGE_INVALID', 'missing slice at z=12'));
        if (jobId === 'v3') return new Promise((resolve) => { finishV3 = () => resolve(resultOf(jobId)); });
        return Promise.resolve(resultOf(jobId));
      },
      exportResult: pacs.exportResult,
    }, { concurrency: 2, studyChecks: false, analyses: true });
    try {
      await q.enqueueAnalysis('v1', plan('first'));
      await until(async () => ((await exportOf(q, 'v1'))?.state === 'retrying' ? true : undefined), 'v1\'s export to retry');
      await q.enqueueAnalysis('v2', plan('refused'));
      await q.enqueueAnalysis('v3', plan('running'));
      await jobInState(q, 'v2', 'failed');
      await jobInState(q, 'v3', 'running');
      pacs.up = true;
      expect((await exportEnded(q, 'v1')).state).toBe('sent');
    } finally {
      await until(() => Promise.resolve(finishV3 ? true : undefined), 'v3 to start');
      finishV3?.();
    }
    // v3, done later, goes out after v1; v1's sent export is left as it is.
    expect((await exportEnded(q, 'v3')).state).toBe('sent');
    expect((await exportOf(q, 'v1'))?.state).toBe('sent');
    expect(pacs.sends.filter((s) => s.arrived).map((s) => s.jobId)).toEqual(['v1', 'v3']);
  });

  test('a newer result supersedes an export only to a destination it is going to: where its own export failed, the older one is sent', async () => {
    const q = await harness.make({ attempts: 2, baseDelayMs: 20 }, ['pacs', 'archive']);
    let archiveUp = false;
    const arrived: string[] = [];
    q.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: (jobId) => Promise.resolve(resultOf(jobId)),
      exportResult: (jobId, _result, destination, attempt) => {
        const at = { destination, attempts: attempt, updatedAt: Date.now() };
        // The archive PACS is down while v1 is sent, then refuses v2 (say, its series too large for it).
        if (destination === 'archive' && jobId === 'v2') return Promise.resolve({ ...at, state: 'failed', detail: 'refused (0xA700)' });
        if (destination === 'archive' && !archiveUp) return Promise.resolve({ ...at, state: 'retrying', detail: 'connection refused' });
        arrived.push(`${jobId} → ${destination}`);
        return Promise.resolve({ ...at, state: 'sent' });
      },
    }, { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('v1', plan('first'));
    expect((await exportEnded(q, 'v1', 'archive')).state).toBe('failed');
    expect((await exportEnded(q, 'v1', 'pacs')).state).toBe('sent');
    await q.enqueueAnalysis('v2', plan('late-instance'));
    expect((await exportEnded(q, 'v2', 'archive')).state).toBe('failed');
    expect((await exportEnded(q, 'v2', 'pacs')).state).toBe('sent');
    archiveUp = true;

    // The archive never gets v2: v1, retried by hand, is its newest result.
    expect(await q.retryExport('v1', 'archive')).toBe(true);
    expect((await exportEnded(q, 'v1', 'archive')).state).toBe('sent');
    expect(arrived).toEqual(['v1 → pacs', 'v2 → pacs', 'v1 → archive']);
  });

  test('an export whose study\'s jobs cannot be read for the check is sent all the same, once, as an ordinary attempt', async () => {
    const q = await harness.make({ attempts: 2, baseDelayMs: 20 });
    const pacs = new TestPacs();
    pacs.up = true;
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (jobId) => Promise.resolve(resultOf(jobId)), exportResult: pacs.exportResult },
      { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('v10', plan('other', OTHER_SERIES));
    expect((await exportEnded(q, 'v10')).state).toBe('sent');
    await harness.corrupt('v10');

    await q.enqueueAnalysis('v1', plan('first'));
    expect(await exportEnded(q, 'v1')).toMatchObject({ state: 'sent', attempts: 1 });
    expect(pacs.sends.filter((s) => s.jobId === 'v1')).toEqual([{ jobId: 'v1', arrived: true }]);
  });
});

describe('exports of the embedded runner', () => {
  test('a result that cannot be read is an attempt that fails, not an export that never ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-superseded-'));
    const path = join(dir, 'jobs.sqlite');
    // Waits long enough between attempts for the test to see the first one's end.
    const q = new EmbeddedJobQueue(path, log, { analysisRetry, exportRetry: { attempts: 3, baseDelayMs: 500 }, exportDestinations: ['pacs'], pollMs: 20 });
    const pacs = new TestPacs();
    const db = new Database(path);
    try {
      q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (jobId) => Promise.resolve(resultOf(jobId)), exportResult: pacs.exportResult },
        { concurrency: 1, studyChecks: false, analyses: true });
      await q.enqueueAnalysis('v1', plan('first'));
      await until(async () => ((await exportOf(q, 'v1'))?.state === 'retrying' ? true : undefined), 'v1\'s export to retry');
      db.prepare(`UPDATE jobs SET result = '{' WHERE id = 'v1'`).run();
      pacs.up = true;
      const ended = await until(() => Promise.resolve(db.prepare(`SELECT state, attempts, detail FROM exports WHERE job_id = 'v1' AND state = 'failed'`)
        .get() as { state: string; attempts: number; detail: string } | undefined), 'v1\'s export to fail');
      expect(ended).toMatchObject({ attempts: 3, detail: expect.stringMatching(/JSON/) });
      expect(pacs.arrived('v1')).toBe(false);
    } finally {
      db.close();
      await q.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('exports in queue mode', () => {
  test('before the jobs are indexed by study, an export is sent without the look for a newer result (no read of every recent job)', async () => {
    redis ??= await startRedis();
    const prefix = `t-${randomUUID()}`;
    const q = new BullMqJobQueue({ redisUrl: redis.url, prefix, analysisRetry, exportRetry: KEEPS_RETRYING, exportDestinations: ['pacs'],
      lockDurationMs: 5000 }, log);
    const client = new IORedis(redis.url);
    const pacs = new TestPacs();
    try {
      q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (jobId) => Promise.resolve(resultOf(jobId)), exportResult: pacs.exportResult },
        { concurrency: 1, studyChecks: false, analyses: true });
      // As at the first start of a release that brings the index: the worker's build has run, and has not yet been
      // seen to have (nothing has looked since), so the index reads as still being built.
      const built = `${prefix}:study-jobs-indexed`;
      await until(async () => ((await client.exists(built)) === 1 ? true : undefined), 'the study index to be built');
      await client.del(built);

      await q.enqueueAnalysis('v1', plan('first'));
      await until(async () => ((await exportOf(q, 'v1'))?.state === 'retrying' ? true : undefined), 'v1\'s export to retry');
      await q.enqueueAnalysis('v2', plan('late-instance'));
      await jobInState(q, 'v2', 'done');
      pacs.up = true;
      expect((await exportEnded(q, 'v1')).state).toBe('sent');
      expect(pacs.arrived('v1')).toBe(true);
    } finally {
      client.disconnect();
      await q.close();
    }
  });
});
