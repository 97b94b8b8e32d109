import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { createLogger } from '@mipseg/shared/log';
import { BullMqJobQueue, type AnalysisPlan, type JobRecord } from '@mipseg/shared/queue';
import { killAndWait } from '../support/mipseg-process';
import { useRedisWithClient } from '../support/redis';
import { until } from '../support/until';

const QUEUE_MODULE = resolve(__dirname, '..', '..', 'shared', 'src', 'queue', 'index.ts');
const LOG_MODULE = resolve(__dirname, '..', '..', 'shared', 'src', 'log', 'index.ts');
const JOB = 'seg-stalls';
const DESTINATION = 'stow:http://127.0.0.1:9/dicom-web';
/** Short, so that a dead worker's job is taken back within seconds (stalled jobs are looked for every half of it). */
const LOCK_MS = 1000;

const PLAN: AnalysisPlan = { studyInstanceUid: '2.25.7401', seriesInstanceUid: '2.25.7402', sopInstanceUids: ['2.25.7403'],
  contentHash: 'abc', reason: 'study-complete', resultUidSeed: 'seed' };

/**
 * A `mipseg worker` as far as the queue goes, with JOB_ATTEMPTS and EXPORT_ATTEMPTS of ATTEMPTS (and a stall budget of
 * MAX_STALLS, where set). It hangs in the step that STALL names (analyze, or export after an analysis that succeeds at
 * once) until it is killed, saying "running <step>"; with STALL=none it runs both and says "analyzed" for each analysis.
 */
const WORKER_SCRIPT = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();
const { BullMqJobQueue } = require(${JSON.stringify(QUEUE_MODULE)});
const { createLogger } = require(${JSON.stringify(LOG_MODULE)});
const retry = { attempts: Number(process.env.ATTEMPTS), baseDelayMs: 100 };
const queue = new BullMqJobQueue({ redisUrl: process.env.REDIS_URL, prefix: process.env.QUEUE_PREFIX, analysisRetry: retry,
  exportRetry: retry, exportDestinations: [${JSON.stringify(DESTINATION)}], lockDurationMs: ${LOCK_MS},
  ...(process.env.MAX_STALLS ? { maxStalls: Number(process.env.MAX_STALLS) } : {}) }, createLogger('silent'));
const hang = (step) => { process.stdout.write('running ' + step + '\\n'); return new Promise(() => undefined); };
const result = { studyInstanceUid: '2.25.7401', mipSeriesInstanceUid: '2.25.7404', mipSopInstanceUid: '2.25.7405',
  segSeriesInstanceUid: '2.25.7406', segSopInstanceUid: '2.25.7407', lesionCount: 0, tumourAreaMm2: 0, modelName: 'm', modelVersion: '1' };
queue.startProcessing({
  checkStudy: () => Promise.resolve(),
  analyze: () => {
    if (process.env.STALL === 'analyze') return hang('analyze');
    process.stdout.write('analyzed\\n');
    return Promise.resolve(result);
  },
  exportResult: (_jobId, _result, destination, attempt) => (process.env.STALL === 'export' ? hang('export')
    : Promise.resolve({ destination, state: 'sent', attempts: attempt, updatedAt: Date.now(), detail: 'stored' })),
}, { concurrency: 1, studyChecks: false, analyses: true });`;

interface WorkerProcess {
  readonly child: ChildProcess;
  /** Whether it has said that it runs the step. */
  readonly running: () => boolean;
  /** How many analyses it has run to the end. */
  readonly analyzed: () => number;
}

function startWorker(env: Record<string, string>, step: string): WorkerProcess {
  const child = spawn(process.execPath, ['-e', WORKER_SCRIPT], { env: { ...process.env, ...env, STALL: step }, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  return { child, running: () => output.includes(`running ${step}`), analyzed: () => output.split('analyzed').length - 1 };
}

/** Whether the step's job has been failed: the analysis, or its export. */
function failed(job: JobRecord | undefined, step: string): boolean {
  return step === 'analyze' ? job?.state === 'failed' : job?.exports[0]?.state === 'failed';
}

describe('a job whose worker process is killed while running it', () => {
  const fixture = useRedisWithClient();
  const running: WorkerProcess[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((w) => killAndWait(w.child, 'SIGKILL')));
  });

  /**
   * Starts workers one after another, killing each once it runs the step; returns what each found: running, or the job
   * failed. With `thenRetry`, the failed export is then retried (the worklist's button) and that many more workers follow.
   */
  async function startAndKill(step: string, attempts: number, workers: number, options: { thenRetry?: number; maxStalls?: number } = {}):
    Promise<{ outcomes: string[]; job: JobRecord | undefined }> {
    const prefix = `t-${randomUUID()}`;
    const env = { REDIS_URL: fixture.redis.url, QUEUE_PREFIX: prefix, ATTEMPTS: String(attempts),
      ...(options.maxStalls === undefined ? {} : { MAX_STALLS: String(options.maxStalls) }) };
    const queue = queueAt(prefix, attempts);
    const outcomes: string[] = [];
    const startAndKillOne = async (worker: number): Promise<void> => {
      const started = startWorker(env, step);
      running.push(started);
      outcomes.push(await until(async () => {
        if (started.running()) return 'running';
        return failed(await queue.getJob(JOB), step) ? 'failed' : undefined;
      }, `worker ${worker} to run the ${step} or find it failed`, { timeoutMs: 30_000 }));
      await killAndWait(started.child, 'SIGKILL');
    };
    try {
      await queue.enqueueAnalysis(JOB, PLAN);
      for (let worker = 1; worker <= workers; worker++) await startAndKillOne(worker);
      const thenRetry = options.thenRetry ?? 0;
      if (thenRetry > 0) {
        expect(await queue.retryExport(JOB, DESTINATION)).toBe(true);
        for (let worker = 1; worker <= thenRetry; worker++) await startAndKillOne(workers + worker);
      }
      return { outcomes, job: await queue.getJob(JOB) };
    } finally {
      await queue.close();
    }
  }

  function queueAt(prefix: string, attempts: number): BullMqJobQueue {
    const retry = { attempts, baseDelayMs: 100 };
    return new BullMqJobQueue({ redisUrl: fixture.redis.url, prefix, analysisRetry: retry, exportRetry: retry,
      exportDestinations: [DESTINATION], lockDurationMs: LOCK_MS }, createLogger('silent'));
  }

  // A stall is not the job's fault (a worker restarted, Redis away for longer than the lock): tied to JOB_ATTEMPTS, the
  // budget was 0 at JOB_ATTEMPTS=1, and the first killed worker failed the job for good.
  test('with JOB_ATTEMPTS=1, is completed once by the worker started after the kill', async () => {
    const prefix = `t-${randomUUID()}`;
    const env = { REDIS_URL: fixture.redis.url, QUEUE_PREFIX: prefix, ATTEMPTS: '1' };
    const queue = queueAt(prefix, 1);
    try {
      await queue.enqueueAnalysis(JOB, PLAN);
      const killed = startWorker(env, 'analyze');
      running.push(killed);
      await until(() => Promise.resolve(killed.running() || undefined), 'the first worker to run the analysis');
      await killAndWait(killed.child, 'SIGKILL');
      const next = startWorker(env, 'none');
      running.push(next);
      const done = await until(async () => {
        const job = await queue.getJob(JOB);
        return job?.state === 'done' || job?.state === 'failed' ? job : undefined;
      }, 'the analysis to finish', { timeoutMs: 30_000 });
      expect([done.state, done.failureReason]).toEqual(['done', null]);
      // Once: nothing takes it up again after it is done (a stall check runs every LOCK_MS / 2).
      await new Promise((r) => setTimeout(r, 3 * LOCK_MS));
      expect([(await queue.getJob(JOB))?.finishedAt, next.analyzed()]).toEqual([done.finishedAt, 1]);
    } finally {
      await queue.close();
    }
  }, 60_000);

  // BullMQ's default maxStalledCount (1) failed the job when the second worker's death was noticed, by the third.
  test.each(['analyze', 'export'])('%s, with JOB_ATTEMPTS=1: is still run by a third worker after two kills, not failed as stalled', async (step) => {
    expect((await startAndKill(step, 1, 3)).outcomes).toEqual(['running', 'running', 'running']);
  }, 120_000);

  // An input that kills its worker every time (out of memory) must end, visibly: the budget is its own, whatever the attempts.
  test('analyze, with 5 attempts and a budget of one stall: is started twice in all, then failed, saying its workers stopped', async () => {
    const { outcomes, job } = await startAndKill('analyze', 5, 3, { maxStalls: 1 });
    expect(outcomes).toEqual(['running', 'running', 'failed']);
    expect(job?.failureReason).toMatch(/^job stalled more than allowable limit: its worker stopped while running it/);
  }, 120_000);

  // BullMQ keeps a job's stall count through a retry: the retried export failed at its first stall, as stalled.
  test('export, failed as stalled, then retried, is started as often again', async () => {
    expect((await startAndKill('export', 5, 3, { thenRetry: 2, maxStalls: 1 })).outcomes).toEqual(['running', 'running', 'failed', 'running', 'running']);
  }, 120_000);
});
