import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/**
 * An incoming X-Request-Id is kept when it is a plain token (a proxy's or a client's own id: hex, a UUID, base64url);
 * anything else, control characters or a page of text, is replaced, since the id goes into logs and a header.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const ids = new WeakMap<Request, string>();

/**
 * Gives every request an id, answered in X-Request-Id and written on its log lines (and as the `ref` of a 500),
 * so that an administrator can find the lines of the request a client reports.
 */
export function assignRequestId() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.get('x-request-id');
    const id = incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ids.set(req, id);
    res.set('X-Request-Id', id);
    next();
  };
}

/** The request's id; one is made up for a request that did not pass {@link assignRequestId}. */
export function requestIdOf(req: Request): string {
  let id = ids.get(req);
  if (id === undefined) {
    id = randomUUID();
    ids.set(req, id);
  }
  return id;
}
