import type { Request } from 'express';
import { MipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';
import { requestLogFields } from './request-log';

/**
 * What a client is told of an error. The detail of a 500 (MIPSEG_INTERNAL, MIPSEG_STORAGE_FAILED, …) describes our
 * side, not the request, and can name files and directories: it is logged with the request's id, and the client
 * gets the catalogue's message with that id as the reference in place of the detail (the same id its answer
 * carries in X-Request-Id).
 */
export function clientMessage(error: MipsegError, log: Logger, req: Request): string {
  if (error.httpStatus !== 500) return error.message;
  const fields = requestLogFields(req);
  log.error({ err: error.cause ?? error, code: error.code, ...fields }, error.message);
  return new MipsegError(error.code, `details in the server log, ref ${fields.requestId}`).message;
}
