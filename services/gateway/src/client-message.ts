import { randomBytes } from 'node:crypto';
import { MipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';

/**
 * What a client is told of an error. The detail of a 500 (MIPSEG_INTERNAL, MIPSEG_STORAGE_FAILED, …) describes our
 * side, not the request, and can name files and directories: it is logged under a short reference, and the client
 * gets the catalogue's message with that reference in place of the detail.
 */
export function clientMessage(error: MipsegError, log: Logger, context: Readonly<Record<string, unknown>>): string {
  if (error.httpStatus !== 500) return error.message;
  const ref = randomBytes(4).toString('hex');
  log.error({ err: error.cause ?? error, code: error.code, ref, ...context }, error.message);
  return new MipsegError(error.code, `details in the server log, ref ${ref}`).message;
}
