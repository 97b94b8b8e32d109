import { extname, join } from 'node:path';
import { MipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';
import type { AnalysisThreadInit, SeriesInstances } from './analysis-thread-protocol';
import { ComputeThread, type ComputeTask } from './compute-thread';
import type { ResultIdentity, SeriesResults, StageReporter } from './derive-series-results';

/** How long to wait before trying again to start a thread whose model would not load. */
const RESTART_DELAY_MS = 5_000;

export interface ComputePoolOptions {
  /** Threads, each with its own model: the analyses that can run at once (WORKER_CONCURRENCY). */
  readonly size: number;
  readonly thread: AnalysisThreadInit;
  readonly log: Logger;
  /** A module that exports serveAnalysisThread(); by default ./analysis-thread. Tests give one that can crash. */
  readonly threadModule?: string;
  /** Longest one analysis may run on its thread before the thread is stopped (ANALYSIS_TIMEOUT_MS). */
  readonly analysisTimeoutMs?: number;
}

/** Where serveAnalysisThread is: beside this file, as .js when built and as .ts when a test runs the source. */
function defaultThreadModule(): string {
  return join(__dirname, `analysis-thread${extname(__filename)}`);
}

/** The code a thread starts with. TypeScript source is compiled on the fly by tsx, as ts-jest does on this side. */
function bootstrapScript(threadModule: string): string {
  const register = threadModule.endsWith('.ts') ? `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();\n` : '';
  return `${register}require(${JSON.stringify(threadModule)}).serveAnalysisThread();\n`;
}

/**
 * The CPU stages of analyses (decode, SUV, MIP, inference, DICOM writing) on worker threads, so that
 * analyses run in parallel while this thread keeps the I/O. A thread that dies fails its analysis and is
 * replaced; one whose model will not load is tried again every RESTART_DELAY_MS.
 */
export class ComputePool {
  private readonly script: string;
  private readonly threads = new Set<ComputeThread>();
  private readonly waiting: ComputeTask[] = [];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private started = false;
  private closing = false;

  private constructor(private readonly options: ComputePoolOptions) {
    this.script = bootstrapScript(options.threadModule ?? defaultThreadModule());
  }

  /** Starts `size` threads and resolves once every one has loaded its model; rejects with the first that cannot. */
  static async start(options: ComputePoolOptions): Promise<ComputePool> {
    const pool = new ComputePool(options);
    const threads = Array.from({ length: options.size }, () => pool.startThread());
    try {
      const [model] = await Promise.all(threads.map((t) => t.ready));
      options.log.info({ threads: options.size, model }, 'analysis threads started');
    } catch (err) {
      await pool.close();
      throw err;
    }
    pool.started = true;
    return pool;
  }

  /** Analyses on a thread now. */
  get running(): number {
    return [...this.threads].filter((t) => t.busy).length;
  }

  /** Analyses waiting for a free thread. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Runs the CPU stages of one series on the next free thread. Bytes move there: do not use them after. */
  deriveSeriesResults(instances: SeriesInstances, onStage: StageReporter, identity: ResultIdentity = {}): Promise<SeriesResults> {
    if (this.closing) return Promise.reject(new MipsegError('MIPSEG_INTERNAL', 'the analysis threads are closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ instances, identity, onStage, resolve, reject });
      this.dispatch();
    });
  }

  /** Fails what waits, then lets every thread release its model and end. */
  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    this.failWaiting(new MipsegError('MIPSEG_INTERNAL', 'the analysis threads are closed'));
    await Promise.all([...this.threads].map((t) => t.close()));
    this.threads.clear();
  }

  private startThread(): ComputeThread {
    const thread = new ComputeThread(this.script, this.options.thread, {
      idle: () => this.dispatch(),
      ended: (t, error, wasReady) => this.threadEnded(t, error, wasReady),
    }, this.options.analysisTimeoutMs);
    this.threads.add(thread);
    return thread;
  }

  private dispatch(): void {
    for (const thread of this.threads) {
      let task: ComputeTask | undefined;
      // A loop, not an if: a task the thread cannot take (it fails at once) leaves the thread idle for the next.
      while (thread.idle && (task = this.waiting.shift())) thread.analyse(task);
    }
  }

  private threadEnded(thread: ComputeThread, error: MipsegError, wasReady: boolean): void {
    this.threads.delete(thread);
    if (this.closing) return;
    const log = this.options.log.child({ threadId: thread.threadId });
    if (wasReady) {
      log.error({ err: error }, 'analysis thread died; starting another');
      this.startThread();
      return;
    }
    if (!this.started) return; // start() rejects with the error itself
    log.error({ err: error, retryInMs: RESTART_DELAY_MS }, 'analysis thread could not start');
    // With no thread left, what waits would wait for as long as the model stays broken.
    if (this.threads.size === 0) this.failWaiting(error);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (!this.closing) this.startThread();
    }, RESTART_DELAY_MS);
    this.restartTimers.add(timer);
  }

  private failWaiting(error: MipsegError): void {
    for (const task of this.waiting.splice(0)) task.reject(error);
  }
}
