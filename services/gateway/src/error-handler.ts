import type { NextFunction, Request, Response } from 'express';
import { isMipsegError, MipsegError, toMipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';
import { clientMessage } from './client-message';
import { requestLogFields } from './request-log';

/** When a client refused as busy should try again: about the time the queued segmentations take. */
const BUSY_RETRY_AFTER_S = 5;

/**
 * Express and its router mark a fault in what the client sent with a 4xx `status` (a path's malformed %-escape
 * reaches us as "Failed to decode param"): that is the client's error, not an internal one. A system error with
 * such a status is not: sendFile gives a file of ours that is missing (ENOENT, with its path) a 404 status.
 */
function toGatewayError(err: unknown): MipsegError {
  if (isMipsegError(err) || !(err instanceof Error)) return toMipsegError(err);
  const { status, syscall } = err as Error & { status?: unknown; syscall?: unknown };
  if (typeof status === 'number' && status >= 400 && status < 500 && syscall === undefined) {
    return new MipsegError('MIPSEG_BAD_REQUEST', err.message, { cause: err });
  }
  return toMipsegError(err);
}

/**
 * A bad query's message repeats the value it could not use, which can be a patient's name or birth date; so does an
 * invalid UID's, which may have come from a query parameter (`?study=`, `?seg=`) as anything typed there.
 */
function loggableMessage(error: MipsegError): string {
  if (error.code === 'MIPSEG_BAD_QUERY') return 'bad query parameter (values are not logged)';
  if (error.code === 'MIPSEG_INVALID_UID') return 'invalid UID (values are not logged)';
  return error.message;
}

/** Every error leaves as JSON `{code, message}` with the catalogue's status; a 500's detail stays in the log. */
export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const error = toGatewayError(err);
    const message = clientMessage(error, log, req);
    const fields = { code: error.code, ...requestLogFields(req), status: error.httpStatus };
    if (error.httpStatus > 500) log.warn(fields, error.message);
    else if (error.httpStatus < 500) log.info(fields, loggableMessage(error));
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A handler may have tagged the answer it meant to give (answeredNotModified): an error is not that answer, and a
    // client holding it under that tag would be told "not modified" about the error once the instance is back.
    res.removeHeader('ETag');
    res.set('Cache-Control', 'no-store');
    // A refused upload may still be streaming in: answer, then drop the connection instead of reading it all.
    if (!req.complete) res.set('Connection', 'close');
    if (error.code === 'MIPSEG_UNAUTHORIZED') res.set('WWW-Authenticate', 'Bearer realm="mipseg"');
    if (error.code === 'MIPSEG_BUSY') res.set('Retry-After', String(error.retryAfterS ?? BUSY_RETRY_AFTER_S));
    // A study URL also takes POST (STOW-RS); a handler that knows better (a series URL) has set its own.
    if (error.code === 'MIPSEG_DELETE_DISABLED' && !res.get('Allow')) res.set('Allow', 'GET, HEAD, POST');
    res.status(error.httpStatus).json({ code: error.code, message });
  };
}
