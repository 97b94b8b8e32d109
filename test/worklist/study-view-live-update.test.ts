import { PNG } from 'pngjs';
import type { Page, Route } from 'playwright-core';
import type { JobProgress, ResultUids } from '@mipseg/shared/queue';
import { until } from '../support/until';
import { launchChromium, waitForImages, type TestBrowser } from './chromium';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { buildWorklistPage, startWorklistServer, type WorklistServer } from './worklist-server';

/** Each test uses its own study, so that none depends on another having run. */
const STUDIES = 5;
const uid = (i: number): string => syntheticStudy(i).studyInstanceUid;
const request = (study: string) => ({ studyInstanceUid: study, seriesInstanceUid: `${study}.2`, sopInstanceUids: [`${study}.2.1`],
  contentHash: 'x', reason: 'study-complete', version: 1 }) as const;
/** The synthetic PET series' images stand in for the MIP and SEG; a second run's SEG is another of them. */
const result = (study: string, seg: string, lesionCount: number): ResultUids => ({
  studyInstanceUid: study, mipSeriesInstanceUid: `${study}.2`, mipSopInstanceUid: `${study}.2.1`,
  segSeriesInstanceUid: `${study}.2`, segSopInstanceUid: `${study}.2.${seg}`, lesionCount, tumourAreaMm2: 500, modelName: 'm', modelVersion: '1',
});
const PIXEL = PNG.sync.write(new PNG({ width: 4, height: 4 }));

/** A run the test drives: its progress moves, and it ends, when the test says. */
interface HeldRun {
  readonly progress: JobProgress;
  finish(): void;
}

describe('a live progress update changes only what changed in the study view', () => {
  let server: WorklistServer;
  let browser: TestBrowser;
  let page: Page;
  const held = new Map<string, HeldRun>();

  /** Study i with a first result (v1) on screen and a second run (held) at 10 %. */
  async function runningStudy(i: number): Promise<HeldRun> {
    await server.queue.enqueueAnalysis(`held-${i}`, request(uid(i)));
    const run = await until(() => Promise.resolve(held.get(`held-${i}`)), 'the second run to start');
    await page.goto(`${server.root}/studies/${uid(i)}`);
    await page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 8000 });
    await waitForImages(page, '.mip-image');
    await run.progress.stage('inference', 10);
    await progressShown(10);
    return run;
  }

  const progressShown = (percent: number): Promise<unknown> => page.waitForFunction((p) =>
    document.querySelector('.study [role="progressbar"]')?.getAttribute('aria-valuenow') === String(p), percent, { timeout: 8000 });

  /** Moves the held run through two progress updates, each shown before the next. */
  async function progressUpdates(run: HeldRun): Promise<void> {
    for (const percent of [40, 70]) {
      await run.progress.stage('inference', percent);
      await progressShown(percent);
    }
  }

  beforeAll(async () => {
    buildWorklistPage();
    server = await startWorklistServer();
    for (let i = 0; i < STUDIES; i++) indexSyntheticStudy(server.archive.index, syntheticStudy(i));
    server.queue.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: (id, req, progress) => (id.startsWith('held-')
        ? new Promise((resolve) => held.set(id, { progress, finish: () => resolve(result(req.studyInstanceUid, '3', 5)) }))
        : Promise.resolve(result(req.studyInstanceUid, '2', 3))),
    // One worker per study: each test's held run keeps its own.
    }, { concurrency: STUDIES, studyChecks: false, analyses: true });
    for (let i = 0; i < STUDIES; i++) await server.queue.enqueueAnalysis(`first-${i}`, request(uid(i)));
    await until(async () => ((await server.queue.listJobs({ state: 'done', limit: 10, offset: 0 })).length === STUDIES ? true : undefined), 'the first analyses');
    browser = await launchChromium({ width: 1280, height: 720 });
    page = browser.page;
    const png = (r: Route): Promise<void> => r.fulfill({ status: 200, contentType: 'image/png', body: PIXEL });
    await page.route((url) => url.pathname.endsWith('/rendered') || url.pathname.endsWith('/overlay.png'), png);
  }, 60_000);

  afterAll(async () => {
    for (const run of held.values()) run.finish();
    await browser?.close();
    await server?.stop();
  });

  test('progress updates keep every element of the study view, updating the progress bar in place', async () => {
    const run = await runningStudy(0);
    await page.evaluate(() => { for (const el of document.querySelectorAll('.study *')) Object.assign(el, { keptMark: true }); });
    await progressUpdates(run);
    const replaced = await page.evaluate(() => [...document.querySelectorAll('.study *')]
      .filter((el) => !('keptMark' in el)).map((el) => el.outerHTML.slice(0, 80)));
    expect(replaced).toEqual([]);
    expect(await page.locator('.study .stage').textContent()).toContain('70%');
  }, 30_000);

  test('a text selection in the study view survives a progress update', async () => {
    const run = await runningStudy(1);
    await page.evaluate(() => {
      const range = document.createRange();
      range.selectNodeContents(document.querySelector('.study .patient-name') as Element);
      document.getSelection()?.removeAllRanges();
      document.getSelection()?.addRange(range);
    });
    const selected = await page.evaluate(() => document.getSelection()?.toString());
    expect(selected).toBe('GARCIA, ANNA');
    await progressUpdates(run);
    expect(await page.evaluate(() => document.getSelection()?.toString())).toBe(selected);
  }, 30_000);

  test('the MIP image stays the same element, never taken out of the page, across progress updates', async () => {
    const run = await runningStudy(2);
    let imageReads = 0;
    page.on('request', (r) => { if (new URL(r.url()).pathname.endsWith('/rendered')) imageReads++; });
    await page.evaluate(() => {
      const img = document.querySelector('.mip-image') as Element;
      Object.assign(img, { keptMark: true });
      const w = window as unknown as { mipRemoved: boolean };
      w.mipRemoved = false;
      new MutationObserver((records) => {
        if (records.some((r) => [...r.removedNodes].some((n) => n.contains(img)))) w.mipRemoved = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    await progressUpdates(run);
    expect(await page.evaluate(() => 'keptMark' in (document.querySelector('.mip-image') as Element))).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { mipRemoved: boolean }).mipRemoved)).toBe(false);
    expect(imageReads).toBe(0);
  }, 30_000);

  test('a run that finishes shows its new result and is announced once, politely; its progress is not', async () => {
    const run = await runningStudy(3);
    const announcement = page.locator('.study [data-ai-announcement]');
    expect(await announcement.getAttribute('aria-live', { timeout: 2000 })).toBe('polite');
    const before = await announcement.textContent();
    await progressUpdates(run);
    expect(await announcement.textContent()).toBe(before);
    run.finish();
    await page.waitForFunction(() => document.querySelector('.study .lesion-count')?.textContent === '5', undefined, { timeout: 8000 });
    expect(await page.locator('.study .mip-overlay').getAttribute('src')).toContain(`seg=${uid(3)}.2.3`);
    expect(await page.locator('.study .side-pane').textContent()).toContain('v2');
    expect(await page.locator('.study [role="progressbar"]').count()).toBe(0);
    await page.waitForFunction(() => document.querySelector('.study [data-ai-announcement]')?.textContent !== '', undefined, { timeout: 8000 });
    expect(await announcement.textContent()).toBe('AI analysis: Done');
  }, 30_000);

  test('each announcement empties the region first, so that words the same as the last are read out again', async () => {
    const run = await runningStudy(4);
    // What the region holds after each change: a screen reader hears a change of its words, not the same words set again.
    await page.evaluate(() => {
      const region = document.querySelector('.study [data-ai-announcement]') as HTMLElement;
      const heard: string[] = [];
      Object.assign(window, { heard });
      new MutationObserver(() => heard.push(region.textContent ?? '')).observe(region, { childList: true, characterData: true, subtree: true });
    });
    const done = 'AI analysis: Done';
    const saidDone = (times: number): Promise<unknown> => page.waitForFunction(([text, n]) =>
      (window as unknown as { heard: string[] }).heard.filter((t) => t === text).length >= n, [done, times] as const, { timeout: 8000 });
    run.finish();
    await saidDone(1);
    // A second run of the study, done too: its words may be the last ones again (where its queued and running states
    // were not seen, or were said and the region emptied), and must be read out all the same.
    await server.queue.enqueueAnalysis('held-4-again', request(uid(4)));
    (await until(() => Promise.resolve(held.get('held-4-again')), 'the second run to start')).finish();
    await saidDone(2);
    const heard = await page.evaluate(() => (window as unknown as { heard: string[] }).heard);
    // The first words need no emptying: the region starts empty.
    const unannounced = heard.filter((text, i) => i > 0 && text !== '' && heard[i - 1] !== '');
    expect(unannounced).toEqual([]);
  }, 30_000);
});
