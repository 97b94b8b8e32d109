import { parentPort } from 'node:worker_threads';
import type { ToAnalysisThread } from '../../services/worker/src/pipeline/analysis-thread-protocol';
import { serveAnalysisThread as serveRealAnalysisThread } from '../../services/worker/src/pipeline/analysis-thread';

/** Why the thread dies: the tests look for it in the error of the analysis that was running. */
export const CRASH_MESSAGE = 'analysis thread crashed on purpose (a series of no instances)';

/**
 * The real analysis thread (ComputePool's `threadModule` in tests), except that a series of no instances
 * crashes it with an uncaught exception, as a bug or a native fault in a stage would, and a series of one empty
 * instance keeps it busy for ever. This listener is
 * registered before the real one, which handles a message only a promise turn later: the thread is dead by then.
 */
export function serveAnalysisThread(): void {
  parentPort?.on('message', (message: ToAnalysisThread) => {
    if (message.kind !== 'analyse' || !Array.isArray(message.instances)) return;
    if (message.instances.length === 0) throw new Error(CRASH_MESSAGE);
    // One empty instance: the thread never answers again, as a decoder or the model stuck on a series would.
    if (message.instances.length === 1 && (message.instances[0] as Uint8Array).length === 0) for (;;) { /* stuck */ }
  });
  serveRealAnalysisThread();
}
