import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';

/** A request no route took (a 404, an unknown method): one label value, however many paths are tried. */
const UNMATCHED = 'unmatched';

/**
 * The route a request took, as its template ('/dicomweb/studies/:study/series'), never the path itself: paths carry
 * study UIDs, and a scanner trying paths would make a series per path. Requests served by a router without a route
 * (the worklist's static files) are named by where it is mounted; those no router took are UNMATCHED.
 */
function routeTemplate(req: Request, res: Response, matched: string | undefined): string {
  if (matched !== undefined) return matched;
  return res.statusCode === 404 ? UNMATCHED : req.baseUrl === '' ? 'other' : `${req.baseUrl}/*`;
}

/**
 * Calls `onMatch` with the mounted template ('/dicomweb' + '/studies') each time the router matches a route, while
 * req.baseUrl is still its router's: Express 5 restores req.baseUrl as an error leaves a router (req.route stays), so
 * read at the finish an error answer's route would lose its mount prefix.
 */
function followRouteMatches(req: Request, onMatch: (template: string) => void): void {
  let route: unknown;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: unknown) => {
      route = value;
      // Express types req.route as any.
      const path: unknown = (value as { path?: unknown } | undefined)?.path;
      if (typeof path === 'string') onMatch(`${req.baseUrl}${path}`);
    },
  });
}

/** HTTP requests by route template, method and status class, and how long each took. */
export class HttpMetrics {
  private readonly requests: Counter<'method' | 'route' | 'status_class'>;
  private readonly duration: Histogram<'method' | 'route'>;

  constructor(registry: Registry) {
    this.requests = new Counter({ name: 'mipseg_http_requests_total', registers: [registry], labelNames: ['method', 'route', 'status_class'],
      help: 'HTTP requests answered, by method, route template and status class (2xx, 3xx, 4xx, 5xx; "aborted" when the client went away first)' });
    this.duration = new Histogram({ name: 'mipseg_http_request_duration_seconds', registers: [registry], labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      help: 'Time from a request\'s arrival to its answer sent (a STOW upload\'s whole transfer included), by method and route template' });
  }

  /** Mounted before the routers; counts each request once, when it ends. */
  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const started = process.hrtime.bigint();
      let matched: string | undefined;
      followRouteMatches(req, (template) => {
        matched = template;
      });
      let counted = false;
      const count = (aborted: boolean): void => {
        if (counted) return;
        counted = true;
        const labels = { method: req.method, route: routeTemplate(req, res, matched) };
        const statusClass = aborted ? 'aborted' : `${Math.floor(res.statusCode / 100)}xx`;
        this.requests.inc({ ...labels, status_class: statusClass });
        this.duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      };
      res.once('finish', () => count(false));
      res.once('close', () => count(!res.writableFinished));
      next();
    };
  }
}
