import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { createLogger } from '../log';
import { until } from '../../../test/support/until';
import { DUE_EXPORTS_SQL, EmbeddedJobQueue, type EmbeddedQueueOptions } from './embedded-job-queue';
import type { JobHandlers } from './job-queue';
import type { AnalysisRequest, ExportStatus, JobRecord, ResultUids } from './job-types';

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

  test('a study check that takes long (a slow disk) does not hold up the start of an analysis', async () => {
    const q = open(NO_POLL_MS);
    let releaseCheck: () => void = () => undefined;
    const checkHeld = new Promise<void>((resolve) => (releaseCheck = resolve));
    const events: string[] = [];
    q.startProcessing({
      checkStudy: async (uid) => {
        events.push(`check ${uid} started`);
        await checkHeld;
      },
      analyze: (id) => Promise.resolve(void events.push(`analysis ${id}`)).then(() => RESULT),
    }, { concurrency: 1, studyChecks: true, analyses: true });
    try {
      await q.scheduleStudyCheck('9.9.9', 0);
      await until(() => Promise.resolve(events.length ? true : undefined), 'the study check to start', WAIT);
      await q.enqueueAnalysis('seg-a', request('1.2.3.1'));
      await until(() => Promise.resolve(events.includes('analysis seg-a') ? true : undefined), 'the analysis to start', WAIT);
      expect(events).toEqual(['check 9.9.9 started', 'analysis seg-a']);
    } finally {
      releaseCheck();
    }
  });

  test('a shutdown that begins during a study check starts nothing more: the analysis it planned stays queued for the next start', async () => {
    const path = join(dir, 'jobs.sqlite');
    const q = open(NO_POLL_MS, path);
    let checking = false;
    const analysed: string[] = [];
    q.startProcessing({
      checkStudy: async () => {
        checking = true;
        await new Promise((r) => setTimeout(r, 300));
        await q.enqueueAnalysis('job-1', request('1.2.3.1'));
      },
      analyze: (id) => Promise.resolve(void analysed.push(id)).then(() => RESULT),
    }, { concurrency: 1, studyChecks: true, analyses: true });
    await q.scheduleStudyCheck('1.2.3', 0);
    await until(() => Promise.resolve(checking ? true : undefined), 'the study check to start', WAIT);
    await q.close();
    expect(analysed).toEqual([]);
    const reopened = open(NO_POLL_MS, path);
    expect((await reopened.getJob('job-1'))?.state).toBe('queued');
  });

  test('the due-export query of every tick reads an index, not every export ever sent', () => {
    const path = join(dir, 'jobs.sqlite');
    open(NO_POLL_MS, path);
    const db = new Database(path, { readonly: true });
    try {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${DUE_EXPORTS_SQL}`).all(0, 2) as { detail: string }[]).map((r) => r.detail);
      expect(plan.some((d) => /exports_due/.test(d))).toBe(true);
      expect(plan.some((d) => /^SCAN (e|exports)\b/.test(d))).toBe(false);
    } finally {
      db.close();
    }
  });

  test('the due-export query reads no more rows per destination than can be sent at once, however long the backlog', () => {
    const path = join(dir, 'jobs.sqlite');
    open(NO_POLL_MS, path);
    const db = new Database(path);
    try {
      const insert = db.prepare(`INSERT INTO exports (job_id, destination, state, updated_at, next_attempt_at) VALUES (?, ?, 'pending', 0, ?)`);
      for (let k = 0; k < 500; k++) {
        db.prepare(`INSERT INTO jobs (id, study_uid, state, created_at, result) VALUES (?, '1.2.3', 'done', 0, '{}')`).run(`job-${k}`);
        insert.run(`job-${k}`, 'pacs', k);
        if (k < 3) insert.run(`job-${k}`, 'archive', k);
      }
      const due = db.prepare(DUE_EXPORTS_SQL).all(Date.now(), 2) as { job_id: string; destination: string }[];
      expect(due.map((r) => `${r.destination}:${r.job_id}`).sort()).toEqual(['archive:job-0', 'archive:job-1', 'pacs:job-0', 'pacs:job-1']);
    } finally {
      db.close();
    }
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

  test('a job waiting to be tried again shows no stage of the attempt that failed, and keeps that attempt\'s timings', async () => {
    const q = new EmbeddedJobQueue(join(dir, 'retry.sqlite'), log,
      { analysisRetry: { attempts: 2, baseDelayMs: 60_000 }, exportRetry: retry, exportDestinations: [], pollMs: NO_POLL_MS });
    queues.push(q);
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: async (_id, _req, progress) => {
      await progress.stage('store', 90);
      progress.timing('inference', 120);
      throw new Error('connection reset');
    } }, { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('job-r', request('1.2.3.7'));
    const waiting = await until(async () => {
      const job = await q.getJob('job-r');
      return job?.state === 'queued' && job.attempts === 1 ? job : undefined;
    }, 'the first attempt to fail', WAIT);
    expect(waiting).toMatchObject({ stage: null, progress: 0, timingsMs: { inference: 120 }, failureReason: expect.stringMatching(/connection reset/) });
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

  test('an export being sent when the process died is sent again after a restart', async () => {
    const path = join(dir, 'export-restart.sqlite');
    // No poll in the first process: once "dead" it must not pick the export up again itself.
    const options = { analysisRetry: retry, exportRetry: retry, exportDestinations: ['pacs'], pollMs: NO_POLL_MS };
    const crashed = new EmbeddedJobQueue(path, log, options);
    let releaseHungSend: (status: ExportStatus) => void = () => undefined;
    let sendStarted = false;
    crashed.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: () => Promise.resolve(RESULT),
      exportResult: () => {
        sendStarted = true;
        return new Promise<ExportStatus>((resolve) => (releaseHungSend = resolve));
      },
    }, { concurrency: 1, studyChecks: false, analyses: true });
    await crashed.enqueueAnalysis('job-a', request('1.2.3.1'));
    await until(() => Promise.resolve(sendStarted ? true : undefined), 'the first send to start', WAIT);
    // The first process never finishes that send (as if killed); a second one opens the same database.
    try {
      await expectSentAfterRestart(open(20, path));
    } finally {
      releaseHungSend({ destination: 'pacs', state: 'sent', attempts: 1, updatedAt: Date.now() });
      await crashed.close();
    }
  });

  /**
   * Processes that each start the analysis and never end it (as if killed during it); the next one opens the same
   * database while the one before still "runs", as a crash leaves it.
   */
  function killedProcesses(path: string, options: EmbeddedQueueOptions) {
    const runs: number[] = [];
    const hung: EmbeddedJobQueue[] = [];
    const release: (() => void)[] = [];
    const start = (analyze?: JobHandlers['analyze']): EmbeddedJobQueue => {
      const q = new EmbeddedJobQueue(path, log, options);
      q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: analyze ?? (() => {
        runs.push(hung.length);
        return new Promise<ResultUids>((_resolve, reject) => release.push(() => reject(new Error('released after the test'))));
      }) }, { concurrency: 1, studyChecks: false, analyses: true });
      hung.push(q);
      return q;
    };
    const started = (n: number) => until(() => Promise.resolve(runs.length === n ? true : undefined), `start ${n} of the analysis`, WAIT);
    const end = async () => {
      for (const r of release) r();
      await Promise.all(hung.map((q) => q.close()));
    };
    return { runs, start, started, end };
  }

  test('an analysis that ends the process at every start is failed at the start after its JOB_MAX_STALLS-th, not run for ever', async () => {
    const processes = killedProcesses(join(dir, 'poison.sqlite'),
      { analysisRetry: { attempts: 2, baseDelayMs: 100 }, exportRetry: retry, exportDestinations: [], maxStalls: 2, pollMs: 20 });
    try {
      await processes.start().enqueueAnalysis('job-a', request('1.2.3.1'));
      await processes.started(1);
      processes.start();
      await processes.started(2);
      processes.start();
      await processes.started(3); // two stalls: the budget, whatever JOB_ATTEMPTS (2) says
      const fourth = processes.start();
      const job = await until(async () => ((await fourth.getJob('job-a'))?.state === 'failed' ? fourth.getJob('job-a') : undefined),
        'the job to be failed', WAIT);
      expect(job).toMatchObject({ failureCode: 'MIPSEG_INTERNAL', attempts: 0 });
      expect(job.failureReason).toMatch(/job stalled more than allowable limit: the process stopped while running it .*\(3 times\)/);
      await new Promise((resolve) => setTimeout(resolve, 200)); // ten polls: none may start it again
      expect(processes.runs).toEqual([1, 2, 3]);
    } finally {
      await processes.end();
    }
  });

  test('a restart during an analysis uses no attempt: at JOB_ATTEMPTS 1 it runs again after two, and a failure then still has its retry', async () => {
    const processes = killedProcesses(join(dir, 'restarted.sqlite'),
      { analysisRetry: { attempts: 2, baseDelayMs: 0 }, exportRetry: retry, exportDestinations: [], pollMs: 20 });
    try {
      await processes.start().enqueueAnalysis('job-a', request('1.2.3.1'));
      await processes.started(1);
      processes.start();
      await processes.started(2);
      let calls = 0;
      const third = processes.start(() => (++calls === 1 ? Promise.reject(new Error('connection reset')) : Promise.resolve(RESULT)));
      const job = await doneJob(third, 'job-a');
      // Two restarts and one transient failure: the retry JOB_ATTEMPTS 2 gives is still there, and the job shows its two attempts.
      expect({ calls, attempts: job.attempts }).toEqual({ calls: 2, attempts: 2 });
    } finally {
      await processes.end();
    }
  });

  test('a job store written before stalls were counted opens, and its interrupted analysis runs again', async () => {
    const path = join(dir, 'before-stalls.sqlite');
    const before = new Database(path);
    // The jobs table as releases before jobs.stalls wrote it (user_version 1).
    before.exec(`CREATE TABLE jobs (id TEXT PRIMARY KEY, study_uid TEXT NOT NULL, series_uid TEXT, state TEXT NOT NULL, stage TEXT,
      progress INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, started_at INTEGER,
      finished_at INTEGER, timings TEXT NOT NULL DEFAULT '{}', failure_code TEXT, failure_reason TEXT, result TEXT, request TEXT,
      version INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL DEFAULT 0); PRAGMA user_version = 1`);
    before.prepare(`INSERT INTO jobs (id, study_uid, series_uid, state, attempts, created_at, request, version)
      VALUES ('job-a', '1.2.3', '1.2.3.1', 'running', 1, 1, ?, 1)`).run(JSON.stringify(request('1.2.3.1')));
    before.close();
    const q = open(20, path);
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT) }, { concurrency: 1, studyChecks: false, analyses: true });
    expect(await doneJob(q, 'job-a')).toMatchObject({ attempts: 1, result: RESULT });
  });

  async function expectSentAfterRestart(restarted: EmbeddedJobQueue): Promise<void> {
    const sent: number[] = [];
    restarted.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: () => Promise.resolve(RESULT),
      exportResult: (_id, _result, destination, attempt) => {
        sent.push(attempt);
        return Promise.resolve({ destination, state: 'sent', attempts: attempt, updatedAt: Date.now() });
      },
    }, { concurrency: 1, studyChecks: false, analyses: true });
    const job = await until(async () => {
      const j = await restarted.getJob('job-a');
      return j?.exports[0]?.state === 'sent' ? j : undefined;
    }, 'the export to be sent after the restart', WAIT);
    expect(sent).toEqual([1]);
    expect(job.exports).toHaveLength(1);
  }

  test('only a failed export can be sent again by hand', async () => {
    const q = new EmbeddedJobQueue(join(dir, 'retry.sqlite'), log, { analysisRetry: retry, exportRetry: retry, exportDestinations: ['good', 'bad'], pollMs: 20 });
    queues.push(q);
    q.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: () => Promise.resolve(RESULT),
      exportResult: (_id, _result, destination, attempt) =>
        Promise.resolve({ destination, state: destination === 'good' ? 'sent' : 'failed', attempts: attempt, updatedAt: Date.now() }),
    }, { concurrency: 1, studyChecks: false, analyses: true });
    await q.enqueueAnalysis('job-a', request('1.2.3.1'));
    await until(async () => {
      const states = (await q.getJob('job-a'))?.exports.map((e) => e.state).sort();
      return states?.join() === 'failed,sent' ? true : undefined;
    }, 'one export sent and one failed', WAIT);
    expect(await q.retryExport('job-a', 'good')).toBe(false);
    expect(await q.retryExport('job-a', 'unknown')).toBe(false);
    expect(await q.retryExport('job-a', 'bad')).toBe(true);
    const good = (await q.getJob('job-a'))?.exports.find((e) => e.destination === 'good');
    expect(good?.state).toBe('sent');
  });

  test('sends at most two exports at once to one destination; another destination is not held up', async () => {
    const destinations = ['dimse:PACS@pacs-a:104', 'stow:http://pacs-b/dicom-web'];
    const q = new EmbeddedJobQueue(join(dir, 'busy.sqlite'), log, { analysisRetry: retry, exportRetry: retry, exportDestinations: destinations, pollMs: 20 });
    queues.push(q);
    // A destination that takes each result only when the test lets it, counting the sends it holds at once.
    const sending = new Map<string, number>();
    const most = new Map<string, number>();
    let taking = false;
    const waiting: (() => void)[] = [];
    q.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: () => Promise.resolve(RESULT),
      exportResult: async (_id, _result, destination, attempt) => {
        sending.set(destination, (sending.get(destination) ?? 0) + 1);
        most.set(destination, Math.max(most.get(destination) ?? 0, sending.get(destination) ?? 0));
        if (!taking) await new Promise<void>((resolve) => waiting.push(resolve));
        sending.set(destination, (sending.get(destination) ?? 0) - 1);
        return { destination, state: 'sent', attempts: attempt, updatedAt: Date.now() };
      },
    }, { concurrency: 1, studyChecks: false, analyses: true });
    const letThrough = () => {
      taking = true;
      for (const release of waiting.splice(0)) release();
    };
    const jobs = ['a', 'b', 'c', 'd', 'e', 'f'];
    try {
      for (const [i, id] of jobs.entries()) await q.enqueueAnalysis(`job-${id}`, request(`1.2.3.${i + 1}`));
      for (const id of jobs) await doneJob(q, `job-${id}`);
      await new Promise((r) => setTimeout(r, 200)); // ten polls with six results' exports due
      expect(destinations.map((d) => sending.get(d))).toEqual([2, 2]);
    } finally {
      letThrough(); // else close() would wait for sends that never end
    }
    await until(async () => {
      const states = (await q.listJobs({ limit: 10, offset: 0 })).flatMap((j) => j.exports.map((e) => e.state));
      return states.length === 12 && states.every((s) => s === 'sent') ? true : undefined;
    }, 'all twelve exports to be sent', WAIT);
    expect(destinations.map((d) => most.get(d))).toEqual([2, 2]);
  });
});

describe('embedded job runner: what a finished job keeps', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-embedded-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const storedRequests = (path: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return Object.fromEntries((db.prepare('SELECT id, request FROM jobs').all() as { id: string; request: string }[])
        .map((r) => [r.id, JSON.parse(r.request) as Record<string, unknown>]));
    } finally {
      db.close();
    }
  };

  test('a done or failed job keeps the count of its instances, a queued one the list; earlier releases\' rows are summarised at start-up', async () => {
    const path = join(dir, 'jobs.sqlite');
    const uids = Array.from({ length: 300 }, (_, i) => `1.2.3.4.${i}`);
    const q = new EmbeddedJobQueue(path, log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [], pollMs: 20 });
    for (const id of ['done', 'failed', 'waiting']) await q.enqueueAnalysis(id, { ...request(`1.2.3.${id}`), sopInstanceUids: uids });
    let release = (): void => undefined;
    const held = new Promise<ResultUids>((resolve) => {
      release = () => resolve(RESULT);
    });
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (id) =>
      id === 'done' ? Promise.resolve(RESULT) : id === 'failed' ? Promise.reject(new Error('no')) : held },
    { concurrency: 3, studyChecks: false, analyses: true });
    await doneJob(q, 'done');
    await until(async () => ((await q.getJob('failed'))?.state === 'failed' ? true : undefined), 'the failed job', WAIT);
    await until(async () => ((await q.getJob('waiting'))?.state === 'running' ? true : undefined), 'the running job', WAIT);
    const stored = storedRequests(path);
    expect(stored['done']).toMatchObject({ instanceCount: 300, seriesInstanceUid: '1.2.3.done', version: 1 });
    expect(stored['done']).not.toHaveProperty('sopInstanceUids');
    expect(stored['failed']).toMatchObject({ instanceCount: 300 });
    expect(stored['failed']).not.toHaveProperty('sopInstanceUids');
    expect(stored['waiting']?.['sopInstanceUids']).toEqual(uids);
    // A row as an earlier release left it, read by a second runner opened on the same file.
    const db = new Database(path);
    db.prepare(`UPDATE jobs SET request = ? WHERE id = 'done'`).run(JSON.stringify({ ...request('1.2.3.done'), sopInstanceUids: uids }));
    db.close();
    const reopened = new EmbeddedJobQueue(path, log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [], pollMs: 20 });
    try {
      const after = storedRequests(path);
      expect(after['done']).toMatchObject({ instanceCount: 300, seriesInstanceUid: '1.2.3.done' });
      expect(after['done']).not.toHaveProperty('sopInstanceUids');
      expect(after['waiting']?.['sopInstanceUids']).toEqual(uids);
    } finally {
      await reopened.close();
      release();
      await q.close();
    }
  });
});

describe('embedded job runner: a tick that keeps failing', () => {
  let dir: string;
  let queue: EmbeddedJobQueue | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-embedded-'));
  });
  afterEach(async () => {
    await queue?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('is logged once, not at every poll, and once more when ticks work again', async () => {
    const lines: { msg: string; err?: unknown }[] = [];
    const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) });
    const path = join(dir, 'jobs.sqlite');
    queue = new EmbeddedJobQueue(path, log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [], pollMs: 20 });
    queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT) },
      { concurrency: 1, studyChecks: true, analyses: true });
    // Every tick reads the jobs table: without it each one fails, as each does on a full disk.
    const admin = new Database(path);
    admin.exec('ALTER TABLE jobs RENAME TO jobs_away');
    await new Promise((r) => setTimeout(r, 1000));
    const failures = lines.filter((l) => l.msg.startsWith('job runner tick failed'));
    expect(failures).toHaveLength(1);
    expect(failures[0]?.err).toBeDefined();

    admin.exec('ALTER TABLE jobs_away RENAME TO jobs');
    admin.close();
    await until(() => Promise.resolve(lines.some((l) => l.msg === 'job runner ticks again') ? true : undefined), 'the recovery line', WAIT);
    expect(lines.filter((l) => l.msg.startsWith('job runner tick failed'))).toHaveLength(1);
  });
});

describe('embedded job runner: a job whose end cannot be written (a full disk)', () => {
  let dir: string;
  let queue: EmbeddedJobQueue | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-embedded-'));
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    process.off('unhandledRejection', onUnhandled);
    await queue?.close();
    queue = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /** Makes every write to `table` fail (as each does on a full disk) until the returned function is called. */
  function breakTable(path: string, table: string): () => void {
    const admin = new Database(path);
    admin.exec(`ALTER TABLE ${table} RENAME TO ${table}_away`);
    return () => {
      admin.exec(`ALTER TABLE ${table}_away RENAME TO ${table}`);
      admin.close();
    };
  }

  test('an analysis runs again once the database takes writes, and is recorded done, with no unhandled rejection', async () => {
    const lines: { msg: string }[] = [];
    const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) });
    const path = join(dir, 'jobs.sqlite');
    queue = new EmbeddedJobQueue(path, log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [], pollMs: 20, unrecordedRetryMs: 300 });
    let runs = 0;
    let repair: (() => void) | undefined;
    queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => {
      runs++;
      if (runs === 1) repair = breakTable(path, 'jobs');
      return Promise.resolve(RESULT);
    } }, { concurrency: 1, studyChecks: false, analyses: true });
    await queue.enqueueAnalysis('job-a', request('1.2.3.9'));
    await until(() => Promise.resolve(lines.some((l) => l.msg.startsWith('the end of a job could not be written')) ? true : undefined),
      'the failed write to be logged', WAIT);
    repair?.();

    const job = await doneJob(queue, 'job-a');
    expect(job.result).toEqual(RESULT);
    expect(runs).toBe(2);
    expect(unhandled).toEqual([]);
    expect(lines.some((l) => l.msg === 'job states are written again')).toBe(true);
  });

  test('an analysis whose done record alone fails (its exports cannot be added) is run again, not recorded failed', async () => {
    const path = join(dir, 'jobs.sqlite');
    queue = new EmbeddedJobQueue(path, createLogger('silent'), { analysisRetry: retry, exportRetry: retry,
      exportDestinations: ['dimse:PACS@127.0.0.1:11112'], pollMs: 20, unrecordedRetryMs: 300 });
    let runs = 0;
    let repair: (() => void) | undefined;
    queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => {
      runs++;
      if (runs === 1) repair = breakTable(path, 'exports');
      return Promise.resolve(RESULT);
    } }, { concurrency: 1, studyChecks: false, analyses: true });
    await queue.enqueueAnalysis('job-c', request('1.2.3.11'));
    await until(() => Promise.resolve(runs >= 1 ? true : undefined), 'the first run', WAIT);
    await new Promise((r) => setTimeout(r, 100));
    const look = new Database(path, { readonly: true });
    // Waiting to run again, not 'failed' with the database's error.
    expect(look.prepare('SELECT state, failure_code AS code FROM jobs WHERE id = ?').get('job-c')).toEqual({ state: 'queued', code: null });
    look.close();
    repair?.();
    const job = await doneJob(queue, 'job-c');
    expect(job.failureCode).toBeNull();
    expect(runs).toBe(2);
  });

  test('ping rejects with MIPSEG_QUEUE_UNAVAILABLE while the job store cannot be read', async () => {
    const path = join(dir, 'jobs.sqlite');
    queue = new EmbeddedJobQueue(path, createLogger('silent'), { analysisRetry: retry, exportRetry: retry, exportDestinations: [] });
    await expect(queue.ping()).resolves.toBeUndefined();
    const repair = breakTable(path, 'jobs');
    await expect(queue.ping()).rejects.toMatchObject({ code: 'MIPSEG_QUEUE_UNAVAILABLE' });
    repair();
  });

  test('an export is sent again once the database takes writes, and is recorded sent', async () => {
    const log = createLogger('silent');
    const path = join(dir, 'jobs.sqlite');
    queue = new EmbeddedJobQueue(path, log, { analysisRetry: retry, exportRetry: { attempts: 3, baseDelayMs: 10 },
      exportDestinations: ['dimse:PACS@127.0.0.1:11112'], pollMs: 20, unrecordedRetryMs: 300 });
    const sends: number[] = [];
    let repair: (() => void) | undefined;
    const exportResult = (_id: string, _result: ResultUids, _destination: string, attempt: number): Promise<ExportStatus> => {
      sends.push(attempt);
      if (sends.length === 1) repair = breakTable(path, 'exports');
      return Promise.resolve({ destination: 'dimse:PACS@127.0.0.1:11112', state: 'sent', attempts: attempt, updatedAt: Date.now() });
    };
    queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.resolve(RESULT), exportResult },
      { concurrency: 1, studyChecks: false, analyses: true });
    await queue.enqueueAnalysis('job-b', request('1.2.3.10'));
    await until(() => Promise.resolve(sends.length ? true : undefined), 'the first send', WAIT);
    await new Promise((r) => setTimeout(r, 200)); // its record fails, and ticks fail while the table is away
    repair?.();

    const sent = await until(async () => {
      const job = await queue?.getJob('job-b');
      return job?.exports[0]?.state === 'sent' ? job : undefined;
    }, 'the export to be recorded sent', WAIT);
    expect(sent.exports[0]).toMatchObject({ destination: 'dimse:PACS@127.0.0.1:11112', state: 'sent' });
    expect(sends).toHaveLength(2);
    expect(unhandled).toEqual([]);
  });
});

describe('embedded job runner and a wall clock that steps back', () => {
  let dir: string;
  const queues: EmbeddedJobQueue[] = [];
  const open = (path: string) => {
    const q = new EmbeddedJobQueue(path, log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [], pollMs: 50 });
    queues.push(q);
    return q;
  };
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-clock-'));
    warnings.length = 0;
    process.on('warning', onWarning);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    process.off('warning', onWarning);
    await Promise.all(queues.splice(0).map((q) => q.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  const DAYS_30 = 30 * 86_400_000;

  test('a study check scheduled while the clock ran 30 days ahead runs a quiet period after, once NTP steps it back', async () => {
    const q = open(join(dir, 'jobs.sqlite'));
    const checked: string[] = [];
    q.startProcessing({ checkStudy: (uid) => Promise.resolve(void checked.push(uid)), analyze: () => Promise.resolve(RESULT) },
      { concurrency: 1, studyChecks: true, analyses: true });
    const realNow = Date.now.bind(Date);
    const ahead = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + DAYS_30);
    await new Promise((resolve) => setTimeout(resolve, 120)); // a tick or two on the wrong clock
    await q.scheduleStudyCheck('1.2.3', 200);
    ahead.mockRestore(); // the step back
    await until(() => Promise.resolve(checked.length ? true : undefined), 'the study check', WAIT);
    expect(checked).toEqual(['1.2.3']);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });

  test('a retry an hour off (JOB_BACKOFF_MS 3600000) keeps its wait across a restart: only a wait no backoff gives is a wrong clock\'s', async () => {
    const path = join(dir, 'jobs.sqlite');
    const hourly = { attempts: 3, baseDelayMs: 3_600_000 };
    const openHourly = () => {
      const q = new EmbeddedJobQueue(path, log, { analysisRetry: hourly, exportRetry: hourly, exportDestinations: [], pollMs: 50 });
      queues.push(q);
      return q;
    };
    let runs = 0;
    const failing = { checkStudy: () => Promise.resolve(), analyze: () => {
      runs += 1;
      return Promise.reject(new Error('the gateway did not answer'));
    } };
    const first = openHourly();
    first.startProcessing(failing, { concurrency: 1, studyChecks: false, analyses: true });
    await first.enqueueAnalysis('seg-hourly', request('1.2.3.1'));
    await until(async () => ((await first.getJob('seg-hourly'))?.attempts === 1 && runs === 1 ? true : undefined), 'the first attempt', WAIT);
    await first.close();
    const second = openHourly();
    second.startProcessing(failing, { concurrency: 1, studyChecks: false, analyses: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(runs).toBe(1);
    expect((await second.getJob('seg-hourly'))?.state).toBe('queued');
  });

  test('jobs start in the order they were made, whatever the clock said when each was made', async () => {
    const q = open(join(dir, 'jobs.sqlite'));
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + DAYS_30);
    await q.enqueueAnalysis('seg-x', request('1.2.3.1'));
    jest.restoreAllMocks();
    await q.enqueueAnalysis('seg-y', request('1.2.3.1'));
    await q.enqueueAnalysis('seg-z', { ...request('1.2.4.1'), studyInstanceUid: '1.2.4' });
    const started: string[] = [];
    q.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (id) => Promise.resolve(void started.push(id)).then(() => RESULT) },
      { concurrency: 1, studyChecks: false, analyses: true });
    await until(() => Promise.resolve(started.length === 3 ? true : undefined), 'all three', WAIT);
    expect(started).toEqual(['seg-x', 'seg-y', 'seg-z']);
  });

  test('a study check left due 30 days ahead by a clock set wrong before a restart runs at the next start', async () => {
    const path = join(dir, 'jobs.sqlite');
    const first = open(path);
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + DAYS_30);
    await first.scheduleStudyCheck('1.2.3', 200);
    jest.restoreAllMocks();
    await first.close();
    const q = open(path);
    const checked: string[] = [];
    q.startProcessing({ checkStudy: (uid) => Promise.resolve(void checked.push(uid)), analyze: () => Promise.resolve(RESULT) },
      { concurrency: 1, studyChecks: true, analyses: true });
    await until(() => Promise.resolve(checked.length ? true : undefined), 'the study check', WAIT);
    expect(checked).toEqual(['1.2.3']);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });
});
