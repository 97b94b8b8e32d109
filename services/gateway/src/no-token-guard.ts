import type { NextFunction, Request, Response } from 'express';
import { isLoopback, normaliseHostname } from '@mipseg/shared/config';
import { MipsegError } from '@mipseg/shared/errors';
import { claimedOrigin, isOwnOrigin, isSafeMethod } from './same-origin';

/** The host name a Host header names (port dropped, normalised as ALLOWED_HOSTS is); undefined when unreadable. */
function hostnameOf(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    return undefined;
  }
  if (url.pathname !== '/' || url.search !== '' || url.username !== '' || url.password !== '') return undefined;
  return normaliseHostname(url.hostname);
}

/**
 * Without AUTH_TOKENS, reaching the port is the only credential, and a web page can borrow a browser's: by DNS
 * rebinding (a name of the attacker's that resolves to 127.0.0.1) its requests become same-origin and it may read
 * the answers; and a cross-site form or fetch may POST without reading them. So every request must name a loopback
 * host or one of ALLOWED_HOSTS in Host (403 MIPSEG_HOST_REFUSED), and a request that changes something and that a
 * browser says comes from another origin is refused (403 MIPSEG_CROSS_ORIGIN). Clients that send no Origin or
 * Referer (STOW senders, the CLI, curl) are not browsers, and pass.
 */
export function noTokenGuard(allowedHosts: readonly string[]) {
  const allowed = new Set(allowedHosts);
  return (req: Request, _res: Response, next: NextFunction): void => {
    const host = hostnameOf(req.get('host'));
    if (host === undefined || !(isLoopback(host) || allowed.has(host))) {
      return next(new MipsegError('MIPSEG_HOST_REFUSED', req.get('host') ?? '(no Host header)'));
    }
    const origin = claimedOrigin(req);
    if (!isSafeMethod(req.method) && origin !== undefined && !isOwnOrigin(req, origin)) {
      return next(new MipsegError('MIPSEG_CROSS_ORIGIN', origin));
    }
    next();
  };
}
