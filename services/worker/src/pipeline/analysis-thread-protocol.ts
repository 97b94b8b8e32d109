import { ERRORS, MipsegError, toMipsegError, type ErrorCode } from '@mipseg/shared/errors';
import type { LoadModelOptions } from '@mipseg/shared/inference';
import type { EquipmentIdentity } from '../dicom-output';
import type { ComputeTimings, ModelIdentity, ResultIdentity, SeriesResults } from './derive-series-results';

/** What an analysis thread is started with (its workerData). */
export interface AnalysisThreadInit {
  readonly modelDir: string;
  readonly loadOptions: LoadModelOptions;
  readonly equipment: EquipmentIdentity;
}

/**
 * A MipsegError as it crosses a thread boundary (an Error object loses its class and fields on the way).
 * `detail` rebuilds the same message from the catalogue; `message` and `stack` keep what the thread saw.
 */
export interface SerializedError {
  readonly code: string;
  readonly detail: string;
  readonly message: string;
  readonly stack?: string;
}

/**
 * A series' instances as handed to a thread: their bytes (read by the main thread, e.g. from WADO-RS), or the
 * paths of local files, which the thread reads itself so that the main thread's event loop, shared by every
 * analysis, does none of that work.
 */
export type SeriesInstances = readonly Uint8Array[] | { readonly files: readonly string[] };

export type ToAnalysisThread =
  | { readonly kind: 'analyse'; readonly instances: SeriesInstances; readonly identity: ResultIdentity }
  | { readonly kind: 'close' };

export type FromAnalysisThread =
  | { readonly kind: 'ready'; readonly model: ModelIdentity }
  | { readonly kind: 'start-failed'; readonly error: SerializedError }
  | { readonly kind: 'stage'; readonly stage: 'inference' | 'write'; readonly timingsMs: ComputeTimings }
  | { readonly kind: 'done'; readonly results: SeriesResults }
  | { readonly kind: 'failed'; readonly error: SerializedError };

export function serializeError(err: unknown): SerializedError {
  const error = toMipsegError(err);
  // The original's stack says where in the thread it went wrong; the wrapper's would point here.
  const stack = err instanceof Error ? err.stack : undefined;
  return { code: error.code, detail: error.detail, message: error.message, ...(stack === undefined ? {} : { stack }) };
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERRORS, code);
}

/** The same catalogue error on this side (so the queues classify it as before), the thread's error as its cause. */
export function rebuildError(serialized: SerializedError): MipsegError {
  const cause = new Error(serialized.message);
  if (serialized.stack !== undefined) cause.stack = serialized.stack;
  if (!isErrorCode(serialized.code)) return new MipsegError('MIPSEG_INTERNAL', serialized.message, { cause });
  return new MipsegError(serialized.code, serialized.detail, { cause });
}

/**
 * The views to post and the buffers to move with them. A view that owns its whole ArrayBuffer moves without a
 * copy; any other is copied, since moving its buffer would empty every view that shares it (Node's pooled
 * small Buffers, the parts of one multipart body). The caller must not use moved views afterwards.
 */
export function prepareTransfer(views: readonly Uint8Array[]): { views: Uint8Array[]; transfer: ArrayBuffer[] } {
  const transfer = new Set<ArrayBuffer>();
  const prepared = views.map((view) => {
    const { buffer } = view;
    const ownsWholeBuffer = buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buffer.byteLength;
    if (!ownsWholeBuffer || transfer.has(buffer)) return new Uint8Array(view);
    transfer.add(buffer);
    return view;
  });
  return { views: prepared, transfer: [...transfer] };
}

export function isInstanceBytes(instances: SeriesInstances): instances is readonly Uint8Array[] {
  return Array.isArray(instances);
}

/** A received view as a Buffer over the same memory (what the result sinks take). */
export function asBuffer(view: Uint8Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
