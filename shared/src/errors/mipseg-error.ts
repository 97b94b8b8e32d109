import { ERRORS, type ErrorCode } from './catalogue';

/** An error from the catalogue. `detail` fills the message's %s; callers match on `code`. */
export class MipsegError extends Error {
  override readonly name = 'MipsegError';
  readonly httpStatus: number;
  readonly failureReason: number | undefined;

  constructor(
    readonly code: ErrorCode,
    readonly detail = '',
    options?: { cause?: unknown },
  ) {
    const def = ERRORS[code];
    super(def.message.replace('%s', detail), options);
    this.httpStatus = def.httpStatus;
    this.failureReason = 'failureReason' in def ? def.failureReason : undefined;
  }
}

/** Normalises anything thrown into a MipsegError (unknown errors become MIPSEG_INTERNAL). */
export function toMipsegError(err: unknown): MipsegError {
  if (err instanceof MipsegError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new MipsegError('MIPSEG_INTERNAL', detail, { cause: err });
}

export function isMipsegError(err: unknown, code?: ErrorCode): err is MipsegError {
  return err instanceof MipsegError && (code === undefined || err.code === code);
}
