import type { Request } from 'express';
import { requestOrigin } from './dicomweb/urls';

/** GET and HEAD change nothing here: a page of another site may cause them (links, images) without harm. */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** The origin of a URL; "null" (nobody's origin) when it cannot be read. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'null';
  }
}

/**
 * Where the browser says a request comes from: its Origin, else the origin of its Referer; undefined when it sends
 * neither, as clients other than browsers do.
 */
export function claimedOrigin(req: Request): string | undefined {
  const origin = req.get('origin');
  if (origin !== undefined) return originOf(origin);
  const referer = req.get('referer');
  return referer === undefined ? undefined : originOf(referer);
}

/** Whether `origin` is this gateway's as the client reached it (scheme and host, through TRUST_PROXY when set). */
export function isOwnOrigin(req: Request, origin: string | undefined): boolean {
  return origin !== undefined && origin !== 'null' && origin === originOf(requestOrigin(req));
}
