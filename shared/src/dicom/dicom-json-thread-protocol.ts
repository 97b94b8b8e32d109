import { ERRORS, MipsegError, toMipsegError, type ErrorCode } from '../errors';

/** One file to read into the DICOM JSON model on a thread (readDicomJson's arguments). */
export interface DicomJsonRequest {
  readonly bytes: Uint8Array;
  readonly bitsAllocated: number | null;
  readonly encapsulated: boolean;
}

/**
 * What the error's cause was, as far as the main thread's callers look at it: failsOverTheBytes (store) tells a
 * failure over the bytes from one of the process by the cause's class (RangeError) or its `code`, and an Error
 * crossing a thread boundary loses both.
 */
export type CauseKind = { readonly kind: 'none' } | { readonly kind: 'error' | 'range'; readonly message: string; readonly code?: string };

/** A MipsegError as it crosses the thread boundary: its code and detail rebuild the same message from the catalogue. */
export interface SerializedDicomJsonError {
  readonly code: string;
  readonly detail: string;
  readonly cause: CauseKind;
}

export type DicomJsonReply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'read'; readonly json: string }
  | { readonly kind: 'failed'; readonly error: SerializedDicomJsonError };

function causeKindOf(cause: unknown): CauseKind {
  if (!(cause instanceof Error)) return { kind: 'none' };
  const code = (cause as NodeJS.ErrnoException).code;
  return { kind: cause instanceof RangeError ? 'range' : 'error', message: cause.message, ...(typeof code === 'string' ? { code } : {}) };
}

export function serializeDicomJsonError(err: unknown): SerializedDicomJsonError {
  const error = toMipsegError(err);
  return { code: error.code, detail: error.detail, cause: causeKindOf(error.cause) };
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERRORS, code);
}

/** The same catalogue error on this side (code, message), with a cause of the same class and code as the thread's. */
export function rebuildDicomJsonError(serialized: SerializedDicomJsonError): MipsegError {
  const { cause: kind } = serialized;
  let cause: Error | undefined;
  if (kind.kind !== 'none') {
    cause = kind.kind === 'range' ? new RangeError(kind.message) : new Error(kind.message);
    if (kind.code !== undefined) Object.assign(cause, { code: kind.code });
  }
  const code = isErrorCode(serialized.code) ? serialized.code : 'MIPSEG_INTERNAL';
  return new MipsegError(code, serialized.detail, cause ? { cause } : undefined);
}
