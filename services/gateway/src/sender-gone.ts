import type { Request } from 'express';
import { MipsegError } from '@mipseg/shared/errors';

/**
 * The error for a body whose sender went away before sending all of it, which Node reports as an Error
 * "aborted" (ECONNRESET) from the request stream; undefined for any other error. That is the sender's doing, not
 * a fault of the service to log as an error: a 400, and the request log records the request as aborted.
 */
export function senderGoneError(err: unknown, req: Request): MipsegError | undefined {
  const code = typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
  if (req.complete || code !== 'ECONNRESET') return undefined;
  return new MipsegError('MIPSEG_BAD_REQUEST', 'the body ended early: the sender went away', { cause: err });
}
