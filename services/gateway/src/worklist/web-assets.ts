import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The built front end (services/web): `public/` (index.html, styles, icons) and `dist/` (the compiled ES modules).
 * Assets are served under /ui/{version}/, where the version is a hash of every file: a new build gets new URLs,
 * so the assets can be cached for a year while index.html, which names the version, is never cached.
 */
export interface WebAssets {
  readonly version: string;
  /** Folders served under /ui/{version}/, in order. */
  readonly roots: readonly string[];
  /** index.html with the asset base filled in, or undefined when the front end is not built. */
  readonly indexHtml: string | undefined;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

export const ASSET_PREFIX = '/ui';

export function loadWebAssets(webRoot: string): WebAssets {
  const roots = [join(webRoot, 'dist'), join(webRoot, 'public')];
  const hash = createHash('sha256');
  for (const file of roots.flatMap(filesUnder)) hash.update(file).update(readFileSync(file));
  const version = hash.digest('hex').slice(0, 12);
  const indexPath = join(webRoot, 'public', 'index.html');
  const built = existsSync(join(webRoot, 'dist', 'main.js')) && existsSync(indexPath);
  const indexHtml = built ? readFileSync(indexPath, 'utf8').replaceAll('%ASSETS%', `${ASSET_PREFIX}/${version}`) : undefined;
  return { version, roots, indexHtml };
}
