import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '@mipseg/shared/log';
import { requestIdOf } from './request-id';

function isEventStream(res: Response): boolean {
  return String(res.getHeader('content-type') ?? '').startsWith('text/event-stream');
}

/** What a log line says of a request: never a query value, since QIDO and worklist queries carry names and birth dates. */
export interface RequestLogFields {
  readonly requestId: string;
  readonly method: string;
  /** The path as requested, without its query. */
  readonly path: string;
  /** The names of its query parameters, each once, where it has a query; "?" for any that is not name-like. */
  readonly query?: readonly string[];
}

/** The request's log fields, from the URL as received (a router strips its mount path from req.url while it runs). */
export function requestLogFields(req: Request): RequestLogFields {
  const url = req.originalUrl;
  const at = url.indexOf('?');
  const fields = { requestId: requestIdOf(req), method: req.method, path: at < 0 ? url : url.slice(0, at) };
  if (at < 0 || at === url.length - 1) return fields;
  const names = url.slice(at + 1).split('&').filter((part) => part !== '').map(parameterName);
  return { ...fields, query: [...new Set(names)] };
}

/**
 * A query parameter's name as logged. DICOM keywords, tags and their dotted paths, and mipseg's own names, all look
 * like NAME_LIKE; anything else is shown as "?", and so is a part with no "=" ("?SMITH"), which is a value alone.
 */
const NAME_LIKE = /^[A-Za-z0-9_.]{1,64}$/;
function parameterName(part: string): string {
  const equals = part.indexOf('=');
  return equals > 0 && NAME_LIKE.test(part.slice(0, equals)) ? part.slice(0, equals) : '?';
}

/**
 * Who sent a request: the client's address, which behind a trusted reverse proxy (TRUST_PROXY) is the one it forwards
 * (X-Forwarded-For), and then the proxy's as `via`. Else every line, the deletion audit included, named the proxy.
 */
export function remoteFields(req: Request): { remote: string | undefined; via?: string } {
  const peer = req.socket?.remoteAddress;
  const client = req.ip ?? peer;
  return client !== peer && peer !== undefined ? { remote: client, via: peer } : { remote: client };
}

/**
 * One log line per request when it ends: what PACS administrators grep for first. A request whose connection
 * closed before its answer was sent (a client that gave up mid-upload, a connection closed for inactivity) is
 * logged too, as aborted: a STOW cut that way may have stored instances.
 */
export function requestLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const request = requestLogFields(req);
    // Read now: by 'finish' a destroyed request (an aborted upload) has no socket, and a throw in this
    // listener would be an uncaught exception.
    const socket = req.socket;
    const remote = remoteFields(req);
    let logged = false;
    const write = (aborted: boolean): void => {
      if (logged) return;
      logged = true;
      const ms = Math.round(Number(process.hrtime.bigint() - started) / 1e6);
      const fields = aborted
        // What the connection had read by then (heads included, and earlier requests on a kept-alive connection)
        // against what the request declared: how far an upload got.
        ? { ...request, status: res.headersSent ? res.statusCode : null, ms, ...remote, aborted: true,
          connectionBytesRead: socket?.bytesRead ?? null, contentLength: req.get('content-length') ?? null }
        : { ...request, status: res.statusCode, ms, ...remote };
      // An event stream has no end but the client's going away: that close is routine.
      if (aborted && isEventStream(res)) log.info(fields, 'event stream closed');
      else if (aborted) log.warn(fields, 'request aborted before its answer was sent');
      else if (request.path === '/healthz' || request.path === '/readyz') log.debug(fields, 'request');
      else log.info(fields, 'request');
    };
    res.once('finish', () => write(false));
    res.once('close', () => write(!res.writableFinished));
    next();
  };
}
