import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where `npm run install:ohif` (scripts/install-ohif.sh) puts the viewer's prebuilt distribution, if it is installed. */
export function findOhifDist(startDir: string): string | undefined {
  for (let dir = startDir; ; dir = dirname(dir)) {
    const dist = join(dir, 'node_modules', '@ohif', 'app', 'dist');
    if (existsSync(join(dist, 'index.html'))) return dist;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The viewer's configuration: one DICOMweb data source, our own `dicomwebBase` (same origin as the page). */
export function ohifAppConfig(dicomwebBase: string): string {
  const config = {
    routerBasename: '/',
    showStudyList: false,
    extensions: [],
    modes: [],
    defaultDataSourceName: 'mipseg',
    dataSources: [{
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'mipseg',
      configuration: {
        friendlyName: 'mipseg archive',
        name: 'mipseg',
        qidoRoot: dicomwebBase,
        wadoRoot: dicomwebBase,
        wadoUriRoot: dicomwebBase,
        qidoSupportsIncludeField: true,
        supportsReject: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        omitQuotationForMultipartRequest: true,
        bulkDataURI: { enabled: true },
      },
    }],
  };
  // The cookie set at login authenticates the viewer's requests (same origin), so no token is written here.
  return `window.config = ${JSON.stringify(config, null, 2)};\n`;
}

export const OHIF_NOT_INSTALLED_HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Viewer not installed</title>
<style>body{font:15px/1.5 system-ui,sans-serif;background:#0f141a;color:#dfe6ee;max-width:42rem;margin:4rem auto;padding:0 1rem}
code{background:#1c2530;padding:.1rem .35rem;border-radius:4px}a{color:#7cb7ff}</style></head><body>
<h1>The OHIF viewer is not installed</h1>
<p>mipseg serves the OHIF Viewer at <code>/viewer</code> when its prebuilt distribution is installed beside it
(about 200 MB, so it is not part of the default install). In the mipseg folder run</p>
<p><code>npm run install:ohif</code></p>
<p>and restart <code>mipseg serve</code>. <a href="/">Back to the worklist</a></p></body></html>`;
