import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';

/**
 * The built front end (services/web): `public/` (index.html, styles, icons) and `dist/` (the compiled ES modules).
 * Assets are served under /ui/{version}/, where the version is a hash of every file: a new build gets new URLs,
 * so the assets can be cached for a year while index.html, which names the version, is never cached.
 */
export interface WebAssets {
  readonly version: string;
  /**
   * Every file served under /ui/{version}/, by its path there ("main.js", "styles.css"), as read at start: the bytes
   * the version hashes. Read from disk on each request, a rebuild in place (`npm run build` under a running service)
   * put new scripts under the old version, immutably cached, against the API of the process still running.
   */
  readonly files: ReadonlyMap<string, Buffer>;
  /** index.html with the asset base filled in, or undefined when the front end is not built. */
  readonly indexHtml: string | undefined;
}

/** Files under `dir` by their path relative to it, '/'-separated as in a URL, sorted. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => f.split(sep).join('/'))
    .sort();
}

export const ASSET_PREFIX = '/ui';

/** The page's template: served only filled in, by the page router, never as an asset. */
const TEMPLATE = 'index.html';

/**
 * Reads the built front end once (about 170 KB, source maps included). A path in both folders is dist's, as the
 * static roots were tried in that order. The template is hashed with the rest but not served as an asset.
 */
export function loadWebAssets(webRoot: string): WebAssets {
  const files = new Map<string, Buffer>();
  const hash = createHash('sha256');
  for (const root of [join(webRoot, 'dist'), join(webRoot, 'public')]) {
    for (const file of filesUnder(root)) {
      if (files.has(file)) continue;
      const bytes = readFileSync(join(root, file));
      files.set(file, bytes);
      hash.update(file).update(bytes);
    }
  }
  const version = hash.digest('hex').slice(0, 12);
  const template = files.get(TEMPLATE);
  files.delete(TEMPLATE);
  const indexHtml = template && files.has('main.js') ? template.toString('utf8').replaceAll('%ASSETS%', `${ASSET_PREFIX}/${version}`) : undefined;
  return { version, files, indexHtml };
}
