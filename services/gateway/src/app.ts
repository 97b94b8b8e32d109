import express, { type Express } from 'express';
import type { Config } from '@mipseg/shared/config';
import type { Logger } from '@mipseg/shared/log';
import { MipsegError } from '@mipseg/shared/errors';
import type { Archive } from '@mipseg/shared/store';
import { bearerAuth, sessionReadsOnly } from './auth';
import type { StudyDeletionGuard } from './dicomweb/delete-study';
import { dicomwebRouter } from './dicomweb/router';
import { errorHandler } from './error-handler';
import type { GatewayMetrics } from './metrics';
import { noTokenGuard } from './no-token-guard';
import { readinessHandler, type ReadinessCheck } from './readiness';
import { assignRequestId } from './request-id';
import { requestLog } from './request-log';
import { attachSessionStore, SessionStore } from './session-store';

export interface GatewayDeps {
  readonly config: Config;
  readonly archive: Archive;
  readonly log: Logger;
  /**
   * What /readyz asks besides the index and the data volume's free space: the parts the gateway does not own
   * (the job queue in queue mode, say). Each gets 2 s.
   */
  readonly readinessChecks?: readonly ReadinessCheck[];
  /** Asked before a study is deleted: the job queue's owner refuses while the study's analysis is pending. */
  readonly studyDeletionGuard?: StudyDeletionGuard;
  /** Routers mounted before auth: what a browser loads before it logs in (the worklist page and its assets). */
  readonly publicRouters?: ReadonlyArray<{ path: string; router: express.Router }>;
  /** Extra routers mounted after auth (jobs API, worklist) by later layers. */
  readonly extraRouters?: ReadonlyArray<{ path: string; router: express.Router }>;
  /**
   * GET /metrics, behind the same authentication as the API, and the counts it shows of HTTP requests and of the
   * instances stored by STOW-RS. Absent: no /metrics.
   */
  readonly metrics?: GatewayMetrics;
  /** The worklist's sign-in sessions; a new, empty store by default (tests pass one with their own clock). */
  readonly sessions?: SessionStore;
}

/** Builds the Express app without listening, so tests can call it in-process. */
export function createGatewayApp(deps: GatewayDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // First, so that every answer has it, errors included: a browser must never read an uploaded instance's bytes, a
  // 404's JSON or a viewer file as HTML or script, whatever they look like.
  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.set('query parser', 'simple');
  // Only with a reverse proxy in front (TRUST_PROXY) do req.protocol, req.secure and req.host follow X-Forwarded-*.
  app.set('trust proxy', deps.config.trustProxy);
  const sessions = deps.sessions ?? new SessionStore();
  attachSessionStore(app, sessions);
  app.use(assignRequestId());
  app.use(requestLog(deps.log));
  if (deps.metrics) app.use(deps.metrics.http.middleware());
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', readinessHandler(deps.archive, deps.config, deps.log, deps.readinessChecks ?? []));
  if (deps.config.authTokens.length === 0) app.use(noTokenGuard(deps.config.allowedHosts));
  for (const open of deps.publicRouters ?? []) app.use(open.path, open.router);
  app.use(bearerAuth(deps.config.authTokens, sessions));
  // A scraper holds a token as any API client does (Prometheus's `authorization` setting); /healthz above stays open.
  if (deps.metrics) app.get('/metrics', deps.metrics.handler());
  const stowArchive = deps.metrics ? deps.metrics.ingest.counting(deps.archive, 'stowrs') : deps.archive;
  app.use('/dicomweb', sessionReadsOnly(), dicomwebRouter(stowArchive, deps.config, deps.log, deps.studyDeletionGuard));
  for (const extra of deps.extraRouters ?? []) app.use(extra.path, extra.router);
  // Past every route: the catalogue's 404 as JSON {code, message}, like every other error, not Express's HTML page.
  app.use((req, _res, next) => next(new MipsegError('MIPSEG_NOT_FOUND', `route ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.log));
  return app;
}
