import type { NextFunction, Request, Response } from 'express';
import { toMipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';

/** When a client refused as busy should try again: about the time the queued segmentations take. */
const BUSY_RETRY_AFTER_S = 5;

/** Every error leaves as JSON `{code, message}` with the catalogue's status; internal ones are logged. */
export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const error = toMipsegError(err);
    if (error.httpStatus >= 500) log.error({ err, url: req.originalUrl }, 'request failed');
    else log.info({ code: error.code, url: req.originalUrl, status: error.httpStatus }, error.message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A refused upload may still be streaming in: answer, then drop the connection instead of reading it all.
    if (!req.complete) res.set('Connection', 'close');
    if (error.code === 'MIPSEG_UNAUTHORIZED') res.set('WWW-Authenticate', 'Bearer realm="mipseg"');
    if (error.code === 'MIPSEG_BUSY') res.set('Retry-After', String(BUSY_RETRY_AFTER_S));
    res.status(error.httpStatus).json({ code: error.code, message: error.message });
  };
}
