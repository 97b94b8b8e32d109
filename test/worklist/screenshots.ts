import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { REPO } from './worklist-server';

/**
 * Screenshots go to .test-artifacts/worklist/ on every run; with UPDATE_SCREENSHOTS=1 also to docs/screenshots/
 * (the ones the README shows), so that an ordinary test run leaves the committed files alone.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dirs = [join(REPO, '.test-artifacts', 'worklist')];
  if (process.env['UPDATE_SCREENSHOTS'] === '1') dirs.push(join(REPO, 'docs', 'screenshots'));
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
  }
}
