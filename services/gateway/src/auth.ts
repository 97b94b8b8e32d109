import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { MipsegError } from '@mipseg/shared/errors';

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** The session cookie's token; undefined when absent or not valid %-encoding, which is no credential (401). */
function cookieToken(header: string): string | undefined {
  const raw = /(?:^|;\s*)mipseg_token=([^;]+)/.exec(header)?.[1];
  if (!raw) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
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
    const presented = match?.[1] ?? cookieToken(req.get('cookie') ?? '');
    if (presented !== undefined) {
      const d = digest(presented);
      let ok = false;
      for (const candidate of digests) ok = timingSafeEqual(candidate, d) || ok;
      if (ok) return next();
    }
    next(new MipsegError('MIPSEG_UNAUTHORIZED'));
  };
}
