import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { MipsegError } from '@mipseg/shared/errors';

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Bearer-token check. Tokens are compared as SHA-256 digests with timingSafeEqual, so neither the
 * content nor the length of a configured token leaks through response timing.
 */
export function bearerAuth(tokens: readonly string[]) {
  const digests = tokens.map(digest);
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (digests.length === 0) return next();
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const cookie = /(?:^|;\s*)mipseg_token=([^;]+)/.exec(req.get('cookie') ?? '');
    const presented = match?.[1] ?? (cookie?.[1] ? decodeURIComponent(cookie[1]) : undefined);
    if (presented !== undefined) {
      const d = digest(presented);
      let ok = false;
      for (const candidate of digests) ok = timingSafeEqual(candidate, d) || ok;
      if (ok) return next();
    }
    next(new MipsegError('MIPSEG_UNAUTHORIZED'));
  };
}
