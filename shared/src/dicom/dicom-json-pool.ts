import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { MipsegError } from '../errors';
import { rebuildDicomJsonError, type DicomJsonReply, type DicomJsonRequest } from './dicom-json-thread-protocol';

/**
 * Threads that read metadata at once. Two on the 2-core machines mipseg runs on: one file that takes long (a 50 MB RT
 * Structure Set, or a crafted file nested 32 deep, which dcmjs reads in depth × bytes) leaves the other for the rest,
 * and with the main thread that is all the cores there are. Not a setting: no measurement has wanted another number.
 */
export const DICOM_JSON_THREADS = 2;

/**
 * Longest one file may take on its thread before the thread is stopped: a 50 MB RT Structure Set takes seconds, and a
 * read past a minute is a crafted file (about 16 MB nested 32 deep), which the archive then remembers (see
 * readTimedOut) so that it holds a thread once, not each time it is asked for.
 */
export const DICOM_JSON_TIMEOUT_MS = 60_000;

/**
 * Longest a thread may take to start (load its modules) before it is stopped and its file failed, as a failure of the
 * process: a start is not the file's doing, so it is not held to the file's limit, which a test shortens to a second
 * while a start under tsx on a busy machine takes seconds. Built, a start takes ~50 ms.
 */
const THREAD_START_TIMEOUT_MS = 60_000;

/**
 * Most reads that may wait for a thread; one more fails at once with MIPSEG_BUSY, holding no file. Each request reads
 * at most 8 instances at once (METADATA_READS_AT_ONCE, gateway), so 256 is 32 viewers opening studies at the same
 * moment, all of them missing the cache; the files waiting are those requests' files (256 PET slices: 9 MB).
 */
export const DICOM_JSON_MAX_WAITING = 256;

/**
 * Longest a read may wait for a thread before it fails with MIPSEG_BUSY (the gateway adds Retry-After). On a healthy
 * server a read waits milliseconds: a PET slice takes a few ms on a thread (the GE series, 267 slices 8 at once: 0.5-0.9 s
 * on 2 threads), and however large the study (3,000 instances: ~10 s in all) each request keeps at most 8 waiting, so a
 * few viewers keep a few dozen waiting, well under a second. Even behind two 50 MB RT Structure Sets (seconds each) 15 s
 * is not reached; behind two crafted files, each holding a thread for up to DICOM_JSON_TIMEOUT_MS, a viewer is told to
 * come back instead of waiting a minute, and its file is not held meanwhile.
 */
export const DICOM_JSON_MAX_WAIT_MS = 15_000;

/**
 * Files up to this size are read on the calling thread (see parsesInline), larger ones on a thread. Measured with
 * test/bench/metadata-read-bench.ts on 2 cores: a thread's round trip (post, reply) adds ~0.8 ms to a read, more than a
 * whole small file takes (a 1 KB instance: 0.5 ms), but the GE whole-body series (267 slices of 35 KB, 8 at once, as
 * OHIF opens a study) reads in 0.5-0.9 s on 2 threads against 0.7-1.5 s on the event loop, which then stalls 35-45 ms
 * at a time. And dcmjs's cost is about depth × bytes before Pixel Data, at most MAX_SEQUENCE_DEPTH (32) deep: a
 * crafted file of 16 KiB holds the event loop ~25 ms at worst (2 MiB: 3.1 s).
 */
export const INLINE_READ_MAX_BYTES = 16 * 1024;

export function parsesInline(byteLength: number): boolean {
  return byteLength <= INLINE_READ_MAX_BYTES;
}

export interface DicomJsonPoolOptions {
  readonly size?: number;
  readonly timeoutMs?: number;
  readonly maxWaiting?: number;
  readonly maxWaitMs?: number;
  /** A module that exports serveDicomJsonThread(); by default ./dicom-json-thread. Tests give one that can die. */
  readonly threadModule?: string;
}

interface DicomJsonTask {
  readonly request: DicomJsonRequest;
  resolve(json: string): void;
  reject(error: MipsegError): void;
  /** While it waits for a thread: fails it with MIPSEG_BUSY at its wait limit. */
  waitLimit?: NodeJS.Timeout;
}

/** Where serveDicomJsonThread is: beside this file, as .js when built and as .ts when a test runs the source. */
function defaultThreadModule(): string {
  return join(__dirname, `dicom-json-thread${extname(__filename)}`);
}

/** The code a thread starts with (as ComputePool's): TypeScript source is compiled on the fly by tsx, as ts-jest does here. */
function bootstrapScript(threadModule: string): string {
  const register = threadModule.endsWith('.ts') ? `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();\n` : '';
  return `${register}require(${JSON.stringify(threadModule)}).serveDicomJsonThread();\n`;
}

/** The code of the cause of a read stopped at its time limit (see readTimedOut). */
const READ_TIMED_OUT = 'ERR_METADATA_READ_TIMED_OUT';

/**
 * A failure of the thread or the pool, not of the bytes: its cause carries a code, as a Node error does, so that
 * failsOverTheBytes (store) does not remember it for the copy for good, and the next read tries again.
 */
function threadFailure(detail: string, code: string, cause?: unknown, errorCode: 'MIPSEG_INTERNAL' | 'MIPSEG_BUSY' = 'MIPSEG_INTERNAL'): MipsegError {
  const reason = Object.assign(new Error(detail, cause === undefined ? undefined : { cause }), { code });
  return new MipsegError(errorCode, detail, { cause: reason });
}

/**
 * Whether a read failed because it ran past its time limit on a thread that had started: the file's doing, most likely
 * (a crafted one), though an overloaded machine can do it too, so the archive remembers it for a while, not for good.
 */
export function readTimedOut(error: MipsegError): boolean {
  const cause: unknown = error.cause;
  return cause instanceof Error && (cause as NodeJS.ErrnoException).code === READ_TIMED_OUT;
}

/**
 * The bytes to post and the buffers to move with them: a view over its whole ArrayBuffer moves without a copy (a file
 * fs.readFile read); any other is copied, since moving its buffer would empty every view that shares it.
 */
function transferable(bytes: Uint8Array): { bytes: Uint8Array; transfer: ArrayBuffer[] } {
  const { buffer } = bytes;
  if (buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength) return { bytes, transfer: [buffer] };
  return { bytes: new Uint8Array(bytes), transfer: [] };
}

/** One metadata thread: one file at a time, its time limited; it keeps the process alive only while it reads one. */
class DicomJsonThread {
  private readonly worker: Worker;
  private task: DicomJsonTask | undefined;
  private timer: NodeJS.Timeout | undefined;
  private uncaught: NodeJS.ErrnoException | undefined;
  /** Its modules are loaded: a file's time limit is then its own. */
  private started = false;
  /** Timed out or closed: on its way out, it takes no other file. */
  private stopping = false;

  constructor(script: string, private readonly timeoutMs: number, private readonly events: {
    idle(thread: DicomJsonThread): void;
    ended(thread: DicomJsonThread): void;
  }) {
    this.worker = new Worker(script, { eval: true });
    this.worker.unref();
    this.worker.on('message', (reply: DicomJsonReply) => this.receive(reply));
    this.worker.on('error', (err) => (this.uncaught = err));
    this.worker.once('exit', (exitCode: number) => this.end(exitCode));
  }

  get idle(): boolean {
    return this.task === undefined && !this.stopping;
  }

  /** Bytes move to the thread where they own their memory: the caller must not read them afterwards. */
  read(task: DicomJsonTask): void {
    this.task = task;
    this.worker.ref();
    this.startClock();
    try {
      const { bytes, transfer } = transferable(task.request.bytes);
      this.worker.postMessage({ ...task.request, bytes }, transfer);
    } catch (err) {
      this.settle((t) => t.reject(threadFailure(`could not hand the file to a metadata thread: ${String(err)}`, 'ERR_WORKER_POST', err)));
      if (this.idle) this.events.idle(this);
    }
  }

  /**
   * The file's time limit, from when the thread has loaded its modules; until then the start's own limit, whose expiry
   * is not the file's doing (see THREAD_START_TIMEOUT_MS).
   */
  private startClock(): void {
    clearTimeout(this.timer);
    const [limitMs, failure] = this.started
      ? [this.timeoutMs, () => threadFailure(`metadata not read within ${this.timeoutMs / 1000} s: its thread was stopped`, READ_TIMED_OUT)]
      : [THREAD_START_TIMEOUT_MS, () => threadFailure(`a metadata thread did not start within ${THREAD_START_TIMEOUT_MS / 1000} s`, 'ETIMEDOUT')];
    this.timer = setTimeout(() => void this.stop(failure()), limitMs).unref();
  }

  /** Fails its file with `error`, and ends the thread: it cannot be asked to stop while it reads. */
  stop(error: MipsegError): Promise<void> {
    this.stopping = true;
    this.settle((task) => task.reject(error));
    return this.worker.terminate().then(() => undefined);
  }

  private receive(reply: DicomJsonReply): void {
    if (reply.kind === 'ready') {
      this.started = true;
      if (this.task) this.startClock();
      return;
    }
    this.settle((task) => (reply.kind === 'read' ? task.resolve(reply.json) : task.reject(rebuildDicomJsonError(reply.error))));
    if (this.idle) this.events.idle(this);
  }

  private settle(outcome: (task: DicomJsonTask) => void): void {
    clearTimeout(this.timer);
    const task = this.task;
    this.task = undefined;
    this.worker.unref();
    if (task) outcome(task);
  }

  private end(exitCode: number): void {
    // Out of memory (ERR_WORKER_OUT_OF_MEMORY), an exception outside the read, or a start that failed.
    const why = this.uncaught ? `: ${this.uncaught.message}` : '';
    const code = this.uncaught?.code ?? 'ERR_WORKER_EXITED';
    this.settle((task) => task.reject(threadFailure(`the metadata thread stopped (exit code ${exitCode})${why}`, code, this.uncaught)));
    this.events.ended(this);
  }
}

/**
 * Reads files into the DICOM JSON model (readDicomJson, then JSON text) on worker threads, so that a large or crafted
 * file does not hold up the event loop that serves every request. Threads start when a file first waits for one and
 * never keep the process alive while idle; one that dies or runs past its time fails its file and is replaced by the
 * next file that waits. Errors of the read come back as the same MipsegError (code, message, the class and code of
 * its cause).
 */
export class DicomJsonPool {
  private readonly script: string;
  private readonly size: number;
  private readonly timeoutMs: number;
  private readonly maxWaiting: number;
  private readonly maxWaitMs: number;
  private readonly threads = new Set<DicomJsonThread>();
  private readonly waiting: DicomJsonTask[] = [];
  private closing = false;

  constructor(options: DicomJsonPoolOptions = {}) {
    this.script = bootstrapScript(options.threadModule ?? defaultThreadModule());
    this.size = options.size ?? DICOM_JSON_THREADS;
    this.timeoutMs = options.timeoutMs ?? DICOM_JSON_TIMEOUT_MS;
    this.maxWaiting = options.maxWaiting ?? DICOM_JSON_MAX_WAITING;
    this.maxWaitMs = options.maxWaitMs ?? DICOM_JSON_MAX_WAIT_MS;
  }

  /** Threads started and not yet ended. */
  get threadCount(): number {
    return this.threads.size;
  }

  /**
   * The file's DICOM JSON, as JSON text. Its bytes move to a thread: do not use them after. Fails with MIPSEG_BUSY,
   * not over the bytes, where the read would wait behind DICOM_JSON_MAX_WAITING others or waits DICOM_JSON_MAX_WAIT_MS.
   */
  read(request: DicomJsonRequest): Promise<string> {
    if (this.closing) return Promise.reject(threadFailure('the metadata threads are closed', 'ERR_WORKER_CLOSED'));
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(threadFailure(`${this.waiting.length} metadata reads are waiting for a thread`, 'ERR_METADATA_QUEUE_FULL', undefined, 'MIPSEG_BUSY'));
    }
    return new Promise((resolve, reject) => {
      const task: DicomJsonTask = { request, resolve, reject };
      this.waiting.push(task);
      this.dispatch();
      if (this.waiting.includes(task)) task.waitLimit = setTimeout(() => this.giveUpWaiting(task), this.maxWaitMs).unref();
    });
  }

  /** Fails a read still waiting at its wait limit, and lets its file go. */
  private giveUpWaiting(task: DicomJsonTask): void {
    const at = this.waiting.indexOf(task);
    if (at < 0) return;
    this.waiting.splice(at, 1);
    task.reject(threadFailure(`the read waited ${this.maxWaitMs / 1000} s for a metadata thread`, 'ERR_METADATA_WAIT_TIMED_OUT', undefined, 'MIPSEG_BUSY'));
  }

  /** The next waiting read, its wait over. */
  private nextWaiting(): DicomJsonTask | undefined {
    const task = this.waiting.shift();
    clearTimeout(task?.waitLimit);
    return task;
  }

  /** Fails what waits or is being read, and ends every thread. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = threadFailure('the metadata threads are closed', 'ERR_WORKER_CLOSED');
    for (const task of this.waiting.splice(0)) {
      clearTimeout(task.waitLimit);
      task.reject(closed);
    }
    await Promise.all([...this.threads].map((thread) => thread.stop(closed)));
    this.threads.clear();
  }

  private dispatch(): void {
    for (const thread of this.threads) {
      const task = thread.idle ? this.nextWaiting() : undefined;
      if (task) thread.read(task);
    }
    while (this.threads.size < this.size) {
      const task = this.nextWaiting();
      if (!task) return;
      this.startThread().read(task);
    }
  }

  private startThread(): DicomJsonThread {
    const thread = new DicomJsonThread(this.script, this.timeoutMs, {
      idle: () => this.dispatch(),
      ended: (t) => {
        this.threads.delete(t);
        if (!this.closing) this.dispatch();
      },
    });
    this.threads.add(thread);
    return thread;
  }
}
