import type { Request, Response } from 'express';

/** The cookie that bearerAuth (../auth.ts) accepts in place of an Authorization header. */
export const SESSION_COOKIE = 'mipseg_token';
const SESSION_MS = 12 * 3600 * 1000;

function cookieOptions(req: Request) {
  return { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' } as const;
}

/**
 * POST /api/session, mounted after the bearer-token check: the login form sends the token as
 * `Authorization: Bearer …`, so it is checked exactly as every API call's is, and only a valid one gets here.
 * The token goes into an HttpOnly, SameSite=Strict cookie: scripts cannot read it, other sites cannot send it,
 * and <img>, EventSource and the viewer's requests carry it.
 */
export function createSession(authRequired: boolean) {
  return (req: Request, res: Response): void => {
    const token = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (authRequired && token) res.cookie(SESSION_COOKIE, token, { ...cookieOptions(req), maxAge: SESSION_MS });
    res.set('Cache-Control', 'no-store').json({ authRequired });
  };
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.clearCookie(SESSION_COOKIE, cookieOptions(req));
}
