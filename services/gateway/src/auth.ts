import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { MipsegError } from '@mipseg/shared/errors';
import { claimedOrigin, isOwnOrigin, isSafeMethod } from './same-origin';
import { secretDigest, type SessionStore } from './session-store';

/** The cookie that holds a sign-in's session id (never a token; see session-store.ts). */
export const SESSION_COOKIE = 'mipseg_token';
const SESSION_COOKIE_VALUE = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]*)`, 'g');

/**
 * The session ids of every cookie by that name, in the order sent; values that are not valid %-encoding are left
 * out (no credential). There can be several: cookies are not kept apart by port, so a page on another port of this
 * host can set one (with a longer path, which the browser sends first), and reading only the first would sign
 * every user out, or into the planter's session.
 */
export function sessionIdsFromCookie(req: Request): string[] {
  const ids: string[] = [];
  for (const [, raw] of (req.get('cookie') ?? '').matchAll(SESSION_COOKIE_VALUE)) {
    if (!raw) continue;
    try {
      ids.push(decodeURIComponent(raw));
    } catch { /* not a session id */ }
  }
  return ids;
}

const STILL_SIGNED_IN = 'mipsegStillSignedIn';
/** Set on a request the session cookie authenticated (not a bearer token). */
const BY_SESSION = 'mipsegBySession';
/** Who an authenticated request is from (see callerOf). */
const CALLER = 'mipsegCaller';

function setStillSignedIn(res: Response, check: () => boolean): void {
  res.locals[STILL_SIGNED_IN] = check;
}

/**
 * Whether the sign-in a request was authenticated by still holds (a session revoked by signing out, or expired,
 * does not); always true for a bearer token or without authentication, which hold for the process's life.
 */
export function stillSignedIn(res: Response): () => boolean {
  const check = res.locals[STILL_SIGNED_IN] as (() => boolean) | undefined;
  return check ?? (() => true);
}

/**
 * Who sent a request, for limits one caller must not take whole (the worklist's event streams): the sign-in for a
 * session cookie, each its own (a workstation signs in on its own, though many share one token), the token for a
 * bearer token, and without authentication the client's address (through TRUST_PROXY when set). Digests, not the
 * secrets, so that a key kept for as long as a stream is open holds no credential.
 */
export function callerOf(req: Request, res: Response): string {
  const caller = res.locals[CALLER] as string | undefined;
  return caller ?? `address:${req.ip ?? req.socket.remoteAddress ?? ''}`;
}

/**
 * Mounted with the DICOMweb router, so that it guards exactly the paths that router serves: the session cookie
 * authenticates only DICOMweb's reads (GET, HEAD: all the viewer sends), and STOW-RS and DELETE need a bearer token
 * (401). A sign-in is for looking at studies in the browser; storing and deleting instances is for senders and
 * operators, who hold a token. The worklist's API, whose POSTs the page sends, still takes the cookie.
 */
export function sessionReadsOnly() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const bySession = res.locals[BY_SESSION] === true;
    next(bySession && !isSafeMethod(req.method) ? new MipsegError('MIPSEG_UNAUTHORIZED') : undefined);
  };
}

/** The token of an `Authorization: Bearer …` header; undefined without one. */
export function bearerToken(req: Request): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
}

/** Whether `d` is one of `digests`, compared with timingSafeEqual against every one. */
function isConfigured(digests: readonly Buffer[], d: Buffer): boolean {
  let ok = false;
  for (const candidate of digests) ok = timingSafeEqual(candidate, d) || ok;
  return ok;
}

/**
 * Bearer-token check. Tokens are compared as SHA-256 digests with timingSafeEqual, so neither the
 * content nor the length of a configured token leaks through response timing.
 *
 * Without an Authorization header, the session cookie may authenticate instead: its value is a session id from
 * `sessions` (opened by signing in), valid until it expires or is revoked, and only while the token that opened it
 * is still configured. A session id is never accepted as a bearer token, nor a token as a session id. On DICOMweb
 * it authenticates reads only (see sessionReadsOnly).
 *
 * The session cookie is an ambient credential: the browser adds it to requests that other pages cause, and
 * SameSite=Strict does not stop a page on another port or subdomain of the same site. So a request that changes
 * something (not GET or HEAD) and is authenticated by the cookie must say, by Origin or else Referer, that it comes
 * from this gateway's own origin (403 MIPSEG_CROSS_ORIGIN). An Authorization header is never ambient: no check.
 */
export function bearerAuth(tokens: readonly string[], sessions: SessionStore) {
  const digests = tokens.map(secretDigest);
  const validSession = (id: string): boolean => {
    const tokenDigest = sessions.tokenDigestOf(id);
    return tokenDigest !== undefined && isConfigured(digests, tokenDigest);
  };
  return (req: Request, res: Response, next: NextFunction): void => {
    if (digests.length === 0) return next();
    const bearer = bearerToken(req);
    if (bearer !== undefined) {
      const digest = secretDigest(bearer);
      if (!isConfigured(digests, digest)) return next(new MipsegError('MIPSEG_UNAUTHORIZED'));
      res.locals[CALLER] = `token:${digest.toString('base64url')}`;
      return next();
    }
    const session = sessionIdsFromCookie(req).find(validSession);
    if (session === undefined) return next(new MipsegError('MIPSEG_UNAUTHORIZED'));
    res.locals[BY_SESSION] = true;
    res.locals[CALLER] = `session:${secretDigest(session).toString('base64url')}`;
    // For an answer that lasts (the worklist's event stream): it must end when this sign-in does.
    setStillSignedIn(res, () => validSession(session));
    const origin = claimedOrigin(req);
    if (!isSafeMethod(req.method) && !isOwnOrigin(req, origin)) {
      return next(new MipsegError('MIPSEG_CROSS_ORIGIN', origin ?? 'neither Origin nor Referer given'));
    }
    next();
  };
}
