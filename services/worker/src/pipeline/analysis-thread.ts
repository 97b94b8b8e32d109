import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { loadModel, type SegmentationModel } from '@mipseg/shared/inference';
import {
  isInstanceBytes, prepareTransfer, serializeError, type AnalysisThreadInit, type FromAnalysisThread, type SeriesInstances,
  type ToAnalysisThread,
} from './analysis-thread-protocol';
import { deriveSeriesResults, type ComputeTimings, type ResultIdentity } from './derive-series-results';

function post(port: MessagePort, message: FromAnalysisThread, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** The bytes of the series, and how long reading them took here (counted as part of decode). */
function readInstances(instances: SeriesInstances): { bytes: readonly Uint8Array[]; readMs: number } {
  if (isInstanceBytes(instances)) return { bytes: instances, readMs: 0 };
  const t0 = performance.now();
  // Synchronous on purpose: this thread has nothing else to do meanwhile, and a sync read costs less than
  // the open/stat/read/close round trips of an async one.
  const bytes = instances.files.map((file) => readFileSync(file));
  return { bytes, readMs: performance.now() - t0 };
}

async function analyse(port: MessagePort, instances: SeriesInstances, identity: ResultIdentity, model: SegmentationModel,
  init: AnalysisThreadInit): Promise<void> {
  try {
    const { bytes, readMs } = readInstances(instances);
    const withRead = (timingsMs: ComputeTimings): ComputeTimings => ({ ...timingsMs, decode: (timingsMs.decode ?? 0) + readMs });
    const found = await deriveSeriesResults(bytes, model, init.equipment,
      (stage, timingsMs) => post(port, { kind: 'stage', stage, timingsMs: withRead(timingsMs) }), identity);
    const results = { ...found, timingsMs: withRead(found.timingsMs) };
    const { views: [mipBytes, segBytes], transfer } = prepareTransfer([results.mip.bytes, results.seg.bytes]);
    post(port, { kind: 'done', results: { ...results, mip: { ...results.mip, bytes: mipBytes as Uint8Array },
      seg: { ...results.seg, bytes: segBytes as Uint8Array } } }, transfer);
  } catch (err) {
    post(port, { kind: 'failed', error: serializeError(err) });
  }
}

async function handle(port: MessagePort, message: ToAnalysisThread, model: SegmentationModel, init: AnalysisThreadInit): Promise<void> {
  if (message.kind === 'analyse') return analyse(port, message.instances, message.identity, model, init);
  await model.release();
  port.close(); // nothing else holds the thread's event loop: the thread ends
}

/**
 * The body of an analysis thread (see ComputePool): loads its own copy of the model, says it is ready, then
 * analyses one series per message, in order, until told to close. A model that will not load is reported
 * and ends the thread.
 */
export function serveAnalysisThread(): void {
  const port = parentPort;
  if (isMainThread || !port) throw new Error('serveAnalysisThread runs inside a worker thread');
  const init = workerData as AnalysisThreadInit;
  loadModel(init.modelDir, init.loadOptions).then((model) => {
    // One message at a time: a close that arrives during an analysis must wait for it to finish.
    let previous = Promise.resolve();
    port.on('message', (message: ToAnalysisThread) => {
      previous = previous.then(() => handle(port, message, model, init));
    });
    post(port, { kind: 'ready', model: { name: model.manifest.name, version: model.manifest.version } });
  }, (err: unknown) => {
    post(port, { kind: 'start-failed', error: serializeError(err) });
    port.close();
  });
}
