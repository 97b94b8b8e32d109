import type { Page } from 'playwright-core';
import type { JobProgress, ResultUids } from '@mipseg/shared/queue';
import { until } from '../support/until';
import { launchChromium, type TestBrowser } from './chromium';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { buildWorklistPage, startWorklistServer, type WorklistServer } from './worklist-server';

/** Each test runs its own study, so that none depends on another having run. */
const STUDIES = 4;
const uid = (i: number): string => syntheticStudy(i).studyInstanceUid;
const row = (i: number): string => `tr[data-study-uid="${uid(i)}"]`;
const request = (study: string) => ({ studyInstanceUid: study, seriesInstanceUid: `${study}.2`, sopInstanceUids: [`${study}.2.1`],
  contentHash: 'x', reason: 'study-complete', version: 1 }) as const;
const result = (study: string): ResultUids => ({
  studyInstanceUid: study, mipSeriesInstanceUid: `${study}.2`, mipSopInstanceUid: `${study}.2.1`,
  segSeriesInstanceUid: `${study}.2`, segSopInstanceUid: `${study}.2.2`, lesionCount: 2, tumourAreaMm2: 500, modelName: 'm', modelVersion: '1',
});

/** A run the test drives: its progress moves, and it ends, when the test says. */
interface HeldRun {
  readonly progress: JobProgress;
  finish(): void;
}

describe('a live update of the worklist table changes only what changed', () => {
  let server: WorklistServer;
  let browser: TestBrowser;
  let page: Page;
  const held = new Map<string, HeldRun>();

  const progressShown = (i: number, percent: number): Promise<unknown> => page.waitForFunction(([sel, p]) =>
    document.querySelector(`${sel} [role="progressbar"]`)?.getAttribute('aria-valuenow') === p, [row(i), String(percent)], { timeout: 8000 });

  /** The list, live, with study i's run held at 10 %. */
  async function runningStudy(i: number): Promise<HeldRun> {
    await server.queue.enqueueAnalysis(`held-${i}`, request(uid(i)));
    const run = await until(() => Promise.resolve(held.get(`held-${i}`)), 'the run to start');
    await page.goto(`${server.root}/`);
    await page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 8000 });
    await run.progress.stage('inference', 10);
    await progressShown(i, 10);
    return run;
  }

  /** Moves study i's held run through two progress updates, each shown before the next. */
  async function progressUpdates(i: number, run: HeldRun): Promise<void> {
    for (const percent of [40, 70]) {
      await run.progress.stage('inference', percent);
      await progressShown(i, percent);
    }
  }

  beforeAll(async () => {
    buildWorklistPage();
    server = await startWorklistServer();
    for (let i = 0; i < STUDIES; i++) indexSyntheticStudy(server.archive.index, syntheticStudy(i));
    server.queue.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: (id, req, progress) => new Promise((resolve) => held.set(id, { progress, finish: () => resolve(result(req.studyInstanceUid)) })),
    }, { concurrency: STUDIES, studyChecks: false, analyses: true });
    browser = await launchChromium({ width: 1280, height: 720 });
    page = browser.page;
  }, 60_000);

  afterAll(async () => {
    for (const run of held.values()) run.finish();
    await browser?.close();
    await server?.stop();
  });

  test('progress updates keep every element of the table, moving the progress bar in place', async () => {
    const run = await runningStudy(0);
    await page.evaluate(() => { for (const el of document.querySelectorAll('.worklist tbody *')) Object.assign(el, { keptMark: true }); });
    await progressUpdates(0, run);
    const replaced = await page.evaluate(() => [...document.querySelectorAll('.worklist tbody *')]
      .filter((el) => !('keptMark' in el)).map((el) => el.outerHTML.slice(0, 80)));
    expect(replaced).toEqual([]);
    expect(await page.locator(`${row(0)} .stage`).textContent()).toContain('70%');
  }, 30_000);

  test('a text selection in the cell a progress update changes survives it', async () => {
    const run = await runningStudy(1);
    await page.evaluate((sel) => {
      const range = document.createRange();
      range.selectNodeContents(document.querySelector(`${sel} .badge`) as Element);
      document.getSelection()?.removeAllRanges();
      document.getSelection()?.addRange(range);
    }, row(1));
    expect(await page.evaluate(() => document.getSelection()?.toString())).toBe('Running');
    await progressUpdates(1, run);
    expect(await page.evaluate(() => document.getSelection()?.toString())).toBe('Running');
  }, 30_000);

  test('the focused row\'s run finishing is announced once, politely, with its patient; its progress is not', async () => {
    const run = await runningStudy(2);
    await page.focus(row(2));
    const announcement = page.locator('.worklist [data-ai-announcement]');
    expect(await announcement.getAttribute('aria-live')).toBe('polite');
    await progressUpdates(2, run);
    expect(await announcement.textContent()).toBe('');
    run.finish();
    await page.waitForSelector(`${row(2)} [data-state="done"]`, { timeout: 8000 });
    await page.waitForFunction(() => document.querySelector('.worklist [data-ai-announcement]')?.textContent !== '', undefined, { timeout: 8000 });
    expect(await announcement.textContent()).toBe('OKAFOR, ANNA: AI analysis Done');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset['studyUid'])).toBe(uid(2));
  }, 30_000);

  test('each announcement empties the region first, so that words the same as the last are read out again', async () => {
    const run = await runningStudy(3);
    await page.focus(row(3));
    // What the region holds after each change: a screen reader hears a change of its words, not the same words set again.
    await page.evaluate(() => {
      const region = document.querySelector('.worklist [data-ai-announcement]') as HTMLElement;
      const heard: string[] = [];
      Object.assign(window, { heard });
      new MutationObserver(() => heard.push(region.textContent ?? '')).observe(region, { childList: true, characterData: true, subtree: true });
    });
    const done = 'TANAKA, ANNA: AI analysis Done';
    const saidDone = (times: number): Promise<unknown> => page.waitForFunction(([text, n]) =>
      (window as unknown as { heard: string[] }).heard.filter((t) => t === text).length >= n, [done, times] as const, { timeout: 8000 });
    run.finish();
    await saidDone(1);
    await server.queue.enqueueAnalysis('held-3-again', request(uid(3)));
    (await until(() => Promise.resolve(held.get('held-3-again')), 'the second run to start')).finish();
    await saidDone(2);
    const heard = await page.evaluate(() => (window as unknown as { heard: string[] }).heard);
    // The first words need no emptying: the region starts empty.
    const unannounced = heard.filter((text, i) => i > 0 && text !== '' && heard[i - 1] !== '');
    expect(unannounced).toEqual([]);
  }, 30_000);
});
