import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '@mipseg/shared/log';

/** One log line per request when it ends: what PACS administrators grep for first. */
export function requestLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    // Read now: by 'finish' a destroyed request (an aborted upload) has no socket, and a throw in this
    // listener would be an uncaught exception.
    const remote = req.socket?.remoteAddress;
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const fields = { method: req.method, url: req.originalUrl, status: res.statusCode, ms: Math.round(ms), remote };
      if (req.path === '/healthz' || req.path === '/readyz') log.debug(fields, 'request');
      else log.info(fields, 'request');
    });
    next();
  };
}
