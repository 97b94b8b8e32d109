import type { Worker } from 'node:worker_threads';
import { MipsegError } from '@mipseg/shared/errors';
import type { AnalysisThreadInit } from './analysis-thread-protocol';
import { ComputeThread, type ComputeTask, type ComputeThreadEvents } from './compute-thread';

/**
 * A thread that loads no model and answers every analysis at once with empty results: what a test needs to
 * control when the answer reaches the main thread relative to the time limit.
 */
const ANSWERING_THREAD = `
const { parentPort } = require('node:worker_threads');
parentPort.postMessage({ kind: 'ready', model: { name: 'test', version: '0' } });
parentPort.on('message', (message) => {
  if (message.kind === 'analyse') parentPort.postMessage({ kind: 'done', results: {} });
  if (message.kind === 'close') process.exit(0);
});
`;
/** A thread that takes an analysis and never answers (a decoder or model call that does not return). */
const SILENT_THREAD = `
const { parentPort } = require('node:worker_threads');
parentPort.postMessage({ kind: 'ready', model: { name: 'test', version: '0' } });
parentPort.on('message', () => undefined);
`;
const INIT = {} as AnalysisThreadInit;

/** The events a thread reported, in order. */
function recordingEvents(): { log: string[]; events: ComputeThreadEvents; ended: Promise<MipsegError> } {
  const log: string[] = [];
  let reportEnd: (error: MipsegError) => void = () => undefined;
  const ended = new Promise<MipsegError>((resolve) => (reportEnd = resolve));
  return {
    log,
    ended,
    events: {
      idle: () => log.push('idle'),
      ended: (_thread, error) => {
        log.push('ended');
        reportEnd(error);
      },
    },
  };
}

function task(): { task: ComputeTask; settled: Promise<string> } {
  let settle: (outcome: string) => void = () => undefined;
  const settled = new Promise<string>((resolve) => (settle = resolve));
  return {
    settled,
    task: {
      instances: [],
      identity: {},
      onStage: () => undefined,
      resolve: () => settle('resolved'),
      reject: (error) => settle(`rejected: ${error.message}`),
    },
  };
}

/** Blocks this thread, so that everything due meanwhile (the limit's timer, the thread's answer) waits together. */
function blockFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) { /* the main thread is busy, as with a large study's I/O */ }
}

describe('an analysis thread at its time limit', () => {
  test('is not handed another analysis when its answer arrives after the limit stopped it', async () => {
    const { log, events, ended } = recordingEvents();
    const thread = new ComputeThread(ANSWERING_THREAD, INIT, events, 20);
    await thread.ready;
    expect(log).toEqual(['idle']);

    const { task: analysis, settled } = task();
    // Started from a check-phase callback and held past the limit: the next loop turn runs the limit's timer
    // before it reads the thread's answer, which arrives on a thread already being stopped.
    await new Promise<void>((resolve) => setImmediate(() => {
      thread.analyse(analysis);
      blockFor(300);
      resolve();
    }));
    await settled;
    const error = await ended;

    expect(log).toEqual(['idle', 'ended']);
    expect(thread.idle).toBe(false);
    expect(error.message).toMatch(/ANALYSIS_TIMEOUT_MS/);
  });

  test('fails its analysis at the limit, not only once the thread has exited (which a stuck native call can delay)', async () => {
    const { events } = recordingEvents();
    const thread = new ComputeThread(SILENT_THREAD, INIT, events, 50);
    await thread.ready;
    const { worker } = thread as unknown as { worker: Worker };
    const terminate = worker.terminate.bind(worker);
    // Termination that does not end the thread in time: the job must not wait on it, holding its worker slot.
    worker.terminate = () => new Promise<number>(() => undefined);
    const { task: analysis, settled } = task();
    thread.analyse(analysis);
    try {
      expect(await settled).toMatch(/^rejected: .*ANALYSIS_TIMEOUT_MS/);
    } finally {
      await terminate();
    }
  });

  test('is idle again when it answers within the limit', async () => {
    const { log, events } = recordingEvents();
    const thread = new ComputeThread(ANSWERING_THREAD, INIT, events, 60_000);
    await thread.ready;
    const { task: analysis, settled } = task();
    thread.analyse(analysis);

    expect(await settled).toBe('resolved');
    expect(log).toEqual(['idle', 'idle']);
    expect(thread.idle).toBe(true);
    await thread.close();
  });
});
