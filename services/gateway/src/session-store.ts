import { createHash, randomBytes } from 'node:crypto';
import type { Express, Request } from 'express';
import { MipsegError } from '@mipseg/shared/errors';

/** How long a sign-in lasts: the session cookie's Max-Age, and the deadline the server itself keeps. */
export const SESSION_LIFETIME_MS = 12 * 3600 * 1000;

/**
 * Past this many open sessions the oldest is ended. Every session needs a valid token to open, so this only bounds
 * what a token holder who signs in in a loop can make the process keep.
 */
const MAX_SESSIONS = 10_000;

/** SHA-256 of a secret (a token, a session id): what is kept and compared in place of the secret itself. */
export function secretDigest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export interface SessionStoreOptions {
  /** Defaults to {@link SESSION_LIFETIME_MS}. */
  readonly lifetimeMs?: number;
  /** The clock, in ms since the epoch; tests move it instead of waiting. */
  readonly now?: () => number;
  /** Defaults to {@link MAX_SESSIONS}. */
  readonly maxSessions?: number;
}

interface Session {
  readonly expiresAt: number;
  /** The digest of the token that opened it: the session ends when that token is no longer configured. */
  readonly tokenDigest: Buffer;
}

/**
 * The worklist's sign-in sessions, in memory: a session id is random (256 bits), means nothing outside this
 * process, ends on the server after `lifetimeMs` or when revoked, and every session ends when the process does.
 * Ids are kept as SHA-256 digests, so that looking one up reveals nothing of the stored ids through timing.
 */
export class SessionStore {
  readonly lifetimeMs: number;
  private readonly now: () => number;
  private readonly maxSessions: number;
  /** By digest of the id, in order of opening, which with one lifetime is also the order of expiry. */
  private readonly sessions = new Map<string, Session>();

  constructor(options: SessionStoreOptions = {}) {
    this.lifetimeMs = options.lifetimeMs ?? SESSION_LIFETIME_MS;
    this.now = options.now ?? Date.now;
    this.maxSessions = options.maxSessions ?? MAX_SESSIONS;
  }

  /** Opens a session for a sign-in with the token whose digest is `tokenDigest`; returns its id, for the cookie. */
  open(tokenDigest: Buffer): string {
    this.dropExpired();
    if (this.sessions.size >= this.maxSessions) this.dropOldest();
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(key(id), { expiresAt: this.now() + this.lifetimeMs, tokenDigest });
    return id;
  }

  /** The digest of the token that opened session `id`, while the session lasts; undefined for any other id. */
  tokenDigestOf(id: string): Buffer | undefined {
    const k = key(id);
    const session = this.sessions.get(k);
    if (session === undefined) return undefined;
    if (this.now() < session.expiresAt) return session.tokenDigest;
    this.sessions.delete(k);
    return undefined;
  }

  /** Ends session `id` (sign-out); an unknown or ended id is no error. */
  revoke(id: string): void {
    this.sessions.delete(key(id));
  }

  private dropOldest(): void {
    const oldest = this.sessions.keys().next();
    if (!oldest.done) this.sessions.delete(oldest.value);
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [k, session] of this.sessions) {
      if (session.expiresAt > now) return;
      this.sessions.delete(k);
    }
  }
}

function key(id: string): string {
  return secretDigest(id).toString('hex');
}

const LOCALS_KEY = 'sessionStore';

/** Makes `sessions` the store that {@link sessionStoreOf} finds for requests of `app`. */
export function attachSessionStore(app: Express, sessions: SessionStore): void {
  app.locals[LOCALS_KEY] = sessions;
}

/**
 * The app's session store. The session routes sit in routers built without it (the worklist's), before and after
 * the bearer-token check, so they reach it through the app rather than through their options.
 */
export function sessionStoreOf(req: Request): SessionStore {
  const sessions: unknown = req.app.locals[LOCALS_KEY];
  if (!(sessions instanceof SessionStore)) throw new MipsegError('MIPSEG_INTERNAL', 'no session store attached to the app');
  return sessions;
}
