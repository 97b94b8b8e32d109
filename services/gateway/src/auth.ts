import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { MipsegError } from '@mipseg/shared/errors';
import { claimedOrigin, isOwnOrigin, isSafeMethod } from './same-origin';

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
 *
 * The session cookie is an ambient credential: the browser adds it to requests that other pages cause, and
 * SameSite=Strict does not stop a page on another port or subdomain of the same site. So a request that changes
 * something (not GET or HEAD) and is authenticated by the cookie must say, by Origin or else Referer, that it comes
 * from this gateway's own origin (403 MIPSEG_CROSS_ORIGIN). An Authorization header is never ambient: no check.
 */
export function bearerAuth(tokens: readonly string[]) {
  const digests = tokens.map(digest);
  const valid = (token: string): boolean => {
    const d = digest(token);
    let ok = false;
    for (const candidate of digests) ok = timingSafeEqual(candidate, d) || ok;
    return ok;
  };
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (digests.length === 0) return next();
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    const presented = bearer ?? cookieToken(req.get('cookie') ?? '');
    if (presented === undefined || !valid(presented)) return next(new MipsegError('MIPSEG_UNAUTHORIZED'));
    const origin = claimedOrigin(req);
    if (bearer === undefined && !isSafeMethod(req.method) && !isOwnOrigin(req, origin)) {
      return next(new MipsegError('MIPSEG_CROSS_ORIGIN', origin ?? 'neither Origin nor Referer given'));
    }
    next();
  };
}
