import { ERRORS, type ErrorCode } from './catalogue';
import { resourceShortage } from './out-of-space';

/**
 * An error from the catalogue. `detail` fills the message's %s; callers match on `code`. `retryAfterS`: when a client
 * refused for now should try again, where the error knows better than the gateway's default (its Retry-After).
 */
export class MipsegError extends Error {
  override readonly name = 'MipsegError';
  readonly httpStatus: number;
  readonly failureReason: number | undefined;
  readonly retryAfterS: number | undefined;

  constructor(
    readonly code: ErrorCode,
    readonly detail = '',
    options?: { cause?: unknown; retryAfterS?: number },
  ) {
    const def = ERRORS[code];
    super(def.message.replace('%s', detail), options);
    this.httpStatus = def.httpStatus;
    this.failureReason = 'failureReason' in def ? def.failureReason : undefined;
    this.retryAfterS = options?.retryAfterS;
  }
}

/**
 * Normalises anything thrown into a MipsegError: out of space (ENOSPC, EDQUOT, SQLITE_FULL, from any layer) becomes
 * MIPSEG_STORAGE_FULL, so that a full disk reads as 507 / 0xA700 and not as a fault of ours; a resource short for
 * now (EMFILE, SQLITE_BUSY, …) MIPSEG_STORAGE_BUSY (503 / 0xA700: send again later); other unknown errors
 * become MIPSEG_INTERNAL.
 */
export function toMipsegError(err: unknown): MipsegError {
  if (err instanceof MipsegError) return err;
  const shortage = resourceShortage(err);
  if (shortage) return new MipsegError(shortage.code, shortage.errorCode, { cause: err });
  const detail = err instanceof Error ? err.message : String(err);
  return new MipsegError('MIPSEG_INTERNAL', detail, { cause: err });
}

/**
 * A failure to write an instance's bytes: out of space is MIPSEG_STORAGE_FULL (507, 0xA700: the sender may try
 * again later), a resource short for now MIPSEG_STORAGE_BUSY (503, 0xA700), anything else MIPSEG_STORAGE_FAILED.
 */
export function toStorageError(err: unknown): MipsegError {
  if (err instanceof MipsegError) return err;
  const shortage = resourceShortage(err);
  if (shortage) return new MipsegError(shortage.code, shortage.errorCode, { cause: err });
  return new MipsegError('MIPSEG_STORAGE_FAILED', err instanceof Error ? err.message : String(err), { cause: err });
}

export function isMipsegError(err: unknown, code?: ErrorCode): err is MipsegError {
  return err instanceof MipsegError && (code === undefined || err.code === code);
}
