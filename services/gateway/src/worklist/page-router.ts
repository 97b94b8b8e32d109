import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { extname, join } from 'node:path';
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
 * The page's assets from memory (WebAssets.files), for a year and immutable: the bytes its version names, whatever
 * the disk holds now. Not its template (index.html): sendIndex serves that, filled in and with the page's
 * Content-Security-Policy. A name is looked up as decoded, exactly: no spelling of another reaches a file.
 */
function pageAssets(assets: WebAssets): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    let name: string;
    try {
      name = decodeURIComponent(req.path).replace(/^\//, '');
    } catch {
      return next();
    }
    const body = assets.files.get(name);
    if (body === undefined) return next();
    res.set('Cache-Control', `public, max-age=${YEAR_S}, immutable`).type(extname(name)).send(body);
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
  r.use(`${ASSET_PREFIX}/${assets.version}`, pageAssets(assets));
  r.delete('/api/session', (req, res) => {
    endSession(req, res);
    res.status(204).end();
  });
  ohifRoutes(r, options.ohifDist);
  return r;
}
