import type { Request, Response } from 'express';
import { bearerToken, SESSION_COOKIE, sessionIdsFromCookie } from '../auth';
import { secretDigest, sessionStoreOf } from '../session-store';

function cookieOptions(req: Request) {
  return { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' } as const;
}

/**
 * POST /api/session, mounted after the bearer-token check: the login form sends the token as
 * `Authorization: Bearer …`, so it is checked exactly as every API call's is, and only a valid one gets here.
 * The cookie gets a new session id, not the token: cookies are not kept apart by port, so another service on this
 * host name sees it, and there it must be worth less than the token, and only until the session ends. It is never
 * taken as a bearer token; it authenticates the worklist's API and DICOMweb's reads (the page's images, the viewer),
 * but not STOW-RS or DELETE, which need the token (sessionReadsOnly). HttpOnly, SameSite=Strict: scripts cannot read
 * it, other sites cannot send it, and <img>, EventSource and the viewer's requests carry it.
 */
export function createSession(authRequired: boolean) {
  return (req: Request, res: Response): void => {
    if (req.method !== 'POST') {
      // GET (and HEAD) only say whether a token is needed: a script that checks its token that way every few
      // seconds would otherwise open sessions until the oldest, people's, are ended.
      res.set('Cache-Control', 'no-store').json({ authRequired });
      return;
    }
    const token = bearerToken(req);
    if (authRequired && token) {
      const sessions = sessionStoreOf(req);
      // Signing in again ends the sessions this browser held: a copy of an earlier cookie is worth nothing after it.
      for (const id of sessionIdsFromCookie(req)) sessions.revoke(id);
      res.cookie(SESSION_COOKIE, sessions.open(secretDigest(token)), { ...cookieOptions(req), maxAge: sessions.lifetimeMs });
    }
    res.set('Cache-Control', 'no-store').json({ authRequired });
  };
}

/** DELETE /api/session (sign-out), before the bearer-token check: ends the session on the server and clears the cookie. */
export function endSession(req: Request, res: Response): void {
  for (const id of sessionIdsFromCookie(req)) sessionStoreOf(req).revoke(id);
  res.clearCookie(SESSION_COOKIE, cookieOptions(req));
}
