import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page, type Request } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface TestBrowser {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

/**
 * Debian's Chromium, headless, on a fresh profile (see /work/shared/docs/browser-testing.md: without
 * --disable-background-networking it keeps trying to reach hosts that do not exist here).
 */
export async function launchChromium(viewport = { width: 1440, height: 900 }, gpuFlags?: readonly string[]): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'mipseg-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // `gpuFlags` replace --disable-gpu (WebGL through SwiftShader, for the OHIF viewer).
    args: ['--headless', '--no-sandbox', ...(gpuFlags ?? ['--disable-gpu']), '--disable-background-networking', '--no-first-run'],
    viewport,
    deviceScaleFactor: 1,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Whether every <img> matching `selector` has loaded with a real size (naturalWidth > 0). */
export function imagesLoaded(page: Page, selector: string): Promise<boolean> {
  return page.$$eval(selector, (imgs) => imgs.length > 0 && imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0));
}

/** Waits until every <img> matching `selector` has loaded (or throws after the timeout). */
export async function waitForImages(page: Page, selector: string, timeout = 30_000): Promise<void> {
  await page.waitForFunction((sel) => {
    const imgs = [...document.querySelectorAll(sel)] as HTMLImageElement[];
    return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, selector, { timeout });
}

/**
 * Settles once `count` requests for `path` (a URL's pathname) have finished on `page`, counted from now; rejects,
 * saying so, when one fails or `timeoutMs` passes first (rather than leaving the test to its own timeout).
 */
export function readsOf(page: Page, path: string, count: number, timeoutMs = 10_000): Promise<void> {
  let reads = 0;
  let timer: NodeJS.Timeout | undefined;
  const ofPath = (r: Request): boolean => new URL(r.url()).pathname === path;
  let finished = (_r: Request): void => undefined;
  let failed = (_r: Request): void => undefined;
  return new Promise<void>((resolve, reject) => {
    finished = (r) => { if (ofPath(r) && ++reads === count) resolve(); };
    failed = (r) => { if (ofPath(r)) reject(new Error(`a read of ${path} failed: ${r.failure()?.errorText ?? 'unknown'}`)); };
    timer = setTimeout(() => reject(new Error(`${reads} of ${count} reads of ${path} within ${timeoutMs} ms`)), timeoutMs);
    page.on('requestfinished', finished);
    page.on('requestfailed', failed);
  }).finally(() => {
    clearTimeout(timer);
    page.off('requestfinished', finished);
    page.off('requestfailed', failed);
  });
}
