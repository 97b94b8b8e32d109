import { Worker } from 'node:worker_threads';
import { MipsegError, toMipsegError } from '@mipseg/shared/errors';
import {
  isInstanceBytes, prepareTransfer, rebuildError, type AnalysisThreadInit, type FromAnalysisThread, type SeriesInstances,
  type ToAnalysisThread,
} from './analysis-thread-protocol';
import type { ModelIdentity, ResultIdentity, SeriesResults, StageReporter } from './derive-series-results';

/** How long a closing thread may take to release its model and end before it is terminated. */
const CLOSE_TIMEOUT_MS = 5_000;

/** ANALYSIS_TIMEOUT_MS's default: a whole-body PET series takes well under a minute here, a GE series a fraction of a second. */
export const DEFAULT_ANALYSIS_TIMEOUT_MS = 600_000;

/** One series to analyse and who waits for it. */
export interface ComputeTask {
  /** Bytes are moved to the thread where they own their memory: the caller must not read them afterwards. */
  readonly instances: SeriesInstances;
  /** The job's result UID seed and version (AnalysisRequest.resultUidSeed, .version). */
  readonly identity: ResultIdentity;
  readonly onStage: StageReporter;
  resolve(results: SeriesResults): void;
  reject(error: MipsegError): void;
}

export interface ComputeThreadEvents {
  /** The thread can take a task: it has just loaded its model, or finished one. */
  idle(thread: ComputeThread): void;
  /** The thread has ended: it could not load its model (`wasReady` false) or it died; its task has failed. */
  ended(thread: ComputeThread, error: MipsegError, wasReady: boolean): void;
}

/**
 * An analysis thread as the main thread sees it: starts it, hands it one task at a time, and turns its
 * messages and its death into the task's outcome.
 */
export class ComputeThread {
  /** The model the thread loaded; rejects with the thread's error if it could not. */
  readonly ready: Promise<ModelIdentity>;
  readonly threadId: number;
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private markReady: (model: ModelIdentity) => void = () => undefined;
  private markStartFailed: (error: MipsegError) => void = () => undefined;
  private wasReady = false;
  private closing = false;
  private task: ComputeTask | undefined;
  private startError: MipsegError | undefined;
  private uncaught: Error | undefined;
  /** Ends the task's thread once it has run ANALYSIS_TIMEOUT_MS (a decoder or the model stuck on a series). */
  private taskTimer: NodeJS.Timeout | undefined;
  private timedOut = false;

  constructor(script: string, init: AnalysisThreadInit, private readonly events: ComputeThreadEvents,
    private readonly analysisTimeoutMs = DEFAULT_ANALYSIS_TIMEOUT_MS) {
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.markStartFailed = reject;
    });
    // Threads started after the pool's start-up report failure through `ended`; nobody awaits their `ready`.
    this.ready.catch(() => undefined);
    this.worker = new Worker(script, { eval: true, workerData: init });
    this.threadId = this.worker.threadId;
    this.worker.on('message', (message: FromAnalysisThread) => this.receive(message));
    this.worker.on('error', (err) => (this.uncaught = err));
    this.exited = new Promise((resolve) => this.worker.once('exit', (code: number) => {
      this.end(code);
      resolve();
    }));
  }

  /** The thread holds a task. */
  get busy(): boolean {
    return this.task !== undefined;
  }

  get idle(): boolean {
    // A thread its time limit stopped is on its way out: a result that arrived as it was stopped must not make it
    // take the next analysis, which its exit would then fail.
    return this.wasReady && !this.closing && !this.timedOut && this.task === undefined;
  }

  /** Starts a task; only on an idle thread. */
  analyse(task: ComputeTask): void {
    if (!this.idle) throw new MipsegError('MIPSEG_INTERNAL', `analysis thread ${this.threadId} is not idle`);
    this.task = task;
    this.taskTimer = setTimeout(() => {
      // The thread cannot be asked to stop (it is not reading messages): its task fails now, and the thread is
      // terminated; the pool starts another once it has exited. Failing the task first: a thread stuck in a native
      // call can take long to exit, and the job would hold its worker slot meanwhile. The analysis is retried like
      // any internal failure, and fails for good after its attempts.
      this.timedOut = true;
      const timedOutTask = this.task;
      this.task = undefined;
      timedOutTask?.reject(this.timeoutError());
      void this.worker.terminate();
    }, this.analysisTimeoutMs).unref();
    try {
      if (!isInstanceBytes(task.instances)) {
        this.post({ kind: 'analyse', instances: task.instances, identity: task.identity });
      } else {
        const { views, transfer } = prepareTransfer(task.instances);
        this.post({ kind: 'analyse', instances: views, identity: task.identity }, transfer);
      }
    } catch (err) {
      clearTimeout(this.taskTimer);
      this.task = undefined;
      task.reject(toMipsegError(err));
    }
  }

  /** Lets the thread release its model and end; terminates it if it does not within CLOSE_TIMEOUT_MS. */
  async close(): Promise<void> {
    this.closing = true;
    this.post({ kind: 'close' });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), CLOSE_TIMEOUT_MS)));
    const stuck = await Promise.race([this.exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (stuck) await this.worker.terminate();
  }

  private timeoutError(): MipsegError {
    return new MipsegError('MIPSEG_INTERNAL', `the analysis did not end within ${this.analysisTimeoutMs / 1000} s (ANALYSIS_TIMEOUT_MS): its thread was stopped`);
  }

  private post(message: ToAnalysisThread, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  private receive(message: FromAnalysisThread): void {
    switch (message.kind) {
      case 'ready':
        this.wasReady = true;
        this.markReady(message.model);
        this.events.idle(this);
        return;
      case 'start-failed':
        this.startError = rebuildError(message.error); // the thread ends next; `end` reports it
        return;
      case 'stage':
        this.task?.onStage(message.stage, message.timingsMs);
        return;
      case 'done':
        this.finish((task) => task.resolve(message.results));
        return;
      case 'failed':
        this.finish((task) => task.reject(rebuildError(message.error)));
    }
  }

  private finish(settle: (task: ComputeTask) => void): void {
    clearTimeout(this.taskTimer);
    const task = this.task;
    this.task = undefined;
    if (task) settle(task);
    if (this.idle) this.events.idle(this);
  }

  private end(exitCode: number): void {
    clearTimeout(this.taskTimer);
    const error = this.closing
      ? new MipsegError('MIPSEG_INTERNAL', `analysis thread ${this.threadId} was closed`)
      : this.timedOut
        ? this.timeoutError()
        : this.startError ?? new MipsegError('MIPSEG_INTERNAL', `analysis thread ${this.threadId} stopped (exit code ${exitCode})` +
        (this.uncaught ? `: ${this.uncaught.message}` : ''), { cause: this.uncaught });
    this.markStartFailed(error); // no effect once ready
    const task = this.task;
    this.task = undefined;
    task?.reject(error);
    if (!this.closing) this.events.ended(this, error, this.wasReady);
  }
}
