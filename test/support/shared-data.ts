import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** ../shared beside the checkout: reference data that is never committed. */
export const SHARED_ROOT = resolve(__dirname, '..', '..', '..', 'shared');

/**
 * Resolves a path under ../shared. Where it is absent (a user's clone) the caller skips with a visible
 * message; under CI=true missing data is a failure, so a broken CI layout cannot pass silently.
 */
export function sharedData(relativePath: string): { path: string; available: boolean } {
  const path = resolve(SHARED_ROOT, relativePath);
  const available = existsSync(path);
  if (!available) {
    if (process.env['CI'] === 'true') throw new Error(`reference data missing under CI: ${path}`);
    console.warn(`SKIPPED: reference data not found at ${path} (../shared is absent in this clone)`);
  }
  return { path, available };
}

/** `describe` when the data is there, `describe.skip` (with the warning above) when it is not. */
export function describeWithSharedData(relativePath: string) {
  return sharedData(relativePath).available ? describe : describe.skip;
}
