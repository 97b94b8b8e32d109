import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { join, resolve } from 'node:path';
import { dicomwebBase } from '../dicomweb/urls';
import { endSession } from './session';
import { OHIF_NOT_INSTALLED_HTML, ohifAppConfig } from './ohif-viewer';
import { ASSET_PREFIX, type WebAssets } from './web-assets';

/** The page loads only its own scripts, styles and images: no CDN, no inline script. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** The viewer sends the session cookie with its DICOMweb requests: no other site may frame it (clickjacking). */
const VIEWER_FRAMING = { 'Content-Security-Policy': "frame-ancestors 'self'", 'X-Frame-Options': 'SAMEORIGIN' } as const;

/** Client-side routes of the page: each answers with index.html. */
const PAGE_PATHS = ['/', '/studies/:study', '/try'];

const YEAR_S = 365 * 24 * 3600;

function sendIndex(res: Response, assets: WebAssets): void {
  if (!assets.indexHtml) {
    res.status(503).type('text/plain').send('The worklist page is not built: run `npm run build`.\n');
    return;
  }
  res.set({ 'Cache-Control': 'no-cache', 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'Referrer-Policy': 'same-origin' })
    .type('html').send(assets.indexHtml);
}

/**
 * The file a static root would serve for `req`, resolved as serve-static's send does (decoded, then normalised), so
 * that no spelling of a name (%69ndex.html, a/..%2Findex.html) reaches it past a check; undefined where send would
 * refuse the path itself (bad %-encoding, a NUL).
 */
function fileServedFrom(root: string, req: Request): string | undefined {
  try {
    const path = decodeURIComponent(req.path);
    return path.includes('\0') ? undefined : resolve(root, `.${path}`);
  } catch {
    return undefined;
  }
}

/**
 * `root` served statically, but for its index.html: that is the page's template, which only sendIndex serves, filled
 * in and with the page's Content-Security-Policy; from here it came unfilled and without it (nor frame-ancestors).
 */
function assetsWithoutTemplate(root: string, serve: RequestHandler): RequestHandler {
  const template = join(root, 'index.html');
  return (req: Request, res: Response, next: NextFunction) => {
    if (fileServedFrom(root, req) === template) return next();
    return serve(req, res, next);
  };
}

function ohifRoutes(r: Router, ohifDist: string | undefined): void {
  if (!ohifDist) {
    r.get('/viewer{/*rest}', (_req, res) => {
      res.status(404).set('Cache-Control', 'no-cache').type('html').send(OHIF_NOT_INSTALLED_HTML);
    });
    return;
  }
  r.get('/app-config.js', (req, res) => {
    res.set('Cache-Control', 'no-cache').type('application/javascript').send(ohifAppConfig(dicomwebBase(req)));
  });
  r.get('/viewer{/*rest}', (_req, res) => {
    res.set({ 'Cache-Control': 'no-cache', ...VIEWER_FRAMING }).sendFile(join(ohifDist, 'index.html'));
  });
  // The viewer's bundles sit at the root of its dist (it is built for "/"); unknown paths fall through. Its pages
  // (index.html reached by name) carry the framing rule too.
  r.use(express.static(ohifDist, { index: false, maxAge: '1h',
    setHeaders: (res, path) => {
      if (path.endsWith('.html')) res.set(VIEWER_FRAMING);
    } }));
}

export interface PageRouterOptions {
  readonly assets: WebAssets;
  readonly ohifDist: string | undefined;
}

/**
 * What a browser may load before it logs in: the page (its shell holds no patient data), its assets, the
 * logout route and the OHIF viewer's static files. Mounted before the bearer-token check.
 */
export function pageRouter(options: PageRouterOptions): Router {
  const { assets } = options;
  const r = Router();
  for (const path of PAGE_PATHS) r.get(path, (_req, res) => sendIndex(res, assets));
  for (const root of assets.roots) {
    const serve = express.static(root, { index: false, immutable: true, maxAge: YEAR_S * 1000, fallthrough: true });
    r.use(`${ASSET_PREFIX}/${assets.version}`, assetsWithoutTemplate(root, serve));
  }
  r.delete('/api/session', (req, res) => {
    endSession(req, res);
    res.status(204).end();
  });
  ohifRoutes(r, options.ohifDist);
  return r;
}
