import { PNG } from 'pngjs';
import type { Page, Route } from 'playwright-core';
import type { ResultUids } from '@mipseg/shared/queue';
import { until } from '../support/until';
import { launchChromium, type TestBrowser } from './chromium';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { buildWorklistPage, startWorklistServer, type WorklistServer } from './worklist-server';

/** Each test uses its own studies, so that none depends on another having run. */
const STUDIES = 8;
const uid = (i: number): string => syntheticStudy(i).studyInstanceUid;
const studyPage = (i: number): string => `/studies/${uid(i)}`;
const request = (study: string) => ({ studyInstanceUid: study, seriesInstanceUid: `${study}.2`, sopInstanceUids: [`${study}.2.1`],
  contentHash: 'x', reason: 'study-complete', version: 1 }) as const;
/** The synthetic PET series' images stand in for the MIP and SEG, so the result counts as stored. */
const result = (study: string): ResultUids => ({
  studyInstanceUid: study, mipSeriesInstanceUid: `${study}.2`, mipSopInstanceUid: `${study}.2.1`,
  segSeriesInstanceUid: `${study}.2`, segSopInstanceUid: `${study}.2.2`, lesionCount: 3, tumourAreaMm2: 500, modelName: 'm', modelVersion: '1',
});
/** What the MIP and overlay URLs answer where a test wants an image that loads. */
const PIXEL = PNG.sync.write(new PNG({ width: 4, height: 4 }));

describe('the study view says what it shows and keeps the reader\'s place', () => {
  let server: WorklistServer;
  let browser: TestBrowser;
  let page: Page;
  /** The MIP (WADO-RS /rendered) and the SEG overlay answer `mip` and `overlay`. */
  const images = async (mip: (r: Route) => Promise<void>, overlay: (r: Route) => Promise<void>): Promise<void> => {
    await page.route((url) => url.pathname.endsWith('/rendered'), mip);
    await page.route((url) => url.pathname.endsWith('/overlay.png'), overlay);
  };
  const live = (): Promise<unknown> => page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 8000 });
  const png = (r: Route): Promise<void> => r.fulfill({ status: 200, contentType: 'image/png', body: PIXEL });

  beforeAll(async () => {
    buildWorklistPage();
    server = await startWorklistServer();
    for (let i = 0; i < STUDIES; i++) indexSyntheticStudy(server.archive.index, syntheticStudy(i));
    server.queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (_id, req) => Promise.resolve(result(req.studyInstanceUid)) },
      { concurrency: 1, studyChecks: false, analyses: true });
    for (const i of [0, 1, 2, 3]) await server.queue.enqueueAnalysis(`job-${i}`, request(uid(i)));
    await until(async () => ((await server.queue.listJobs({ state: 'done', limit: 10, offset: 0 })).length === 4 ? true : undefined), 'the analyses');
    browser = await launchChromium({ width: 1280, height: 720 });
    page = browser.page;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  afterEach(() => page.unrouteAll({ behavior: 'ignoreErrors' }));

  test('a segmentation overlay that fails to load says so and disables its toggle and legend', async () => {
    await images(png, (r) => r.fulfill({ status: 401, json: { code: 'MIPSEG_UNAUTHENTICATED', message: 'authentication required' } }));
    await page.goto(`${server.root}${studyPage(0)}`);
    await page.waitForSelector('.mip-viewer');
    const alert = page.locator('.mip-viewer [role="alert"]');
    await alert.waitFor({ timeout: 5000 });
    expect(await alert.textContent()).toBe('Segmentation overlay could not be loaded');
    expect(await page.locator('input[name="overlay"]').isDisabled()).toBe(true);
    expect(await page.locator('input[name="overlay"]').isChecked()).toBe(false);
    expect(await page.locator('.mip-viewer .legend').isVisible()).toBe(false);
  }, 20_000);

  test('a MIP that fails to load says so', async () => {
    await images((r) => r.fulfill({ status: 500, contentType: 'text/html', body: '<h1>boom</h1>' }), png);
    await page.goto(`${server.root}${studyPage(1)}`);
    const alert = page.locator('.mip-viewer [role="alert"]');
    await alert.waitFor({ timeout: 5000 });
    expect(await alert.textContent()).toBe('MIP could not be loaded');
  }, 20_000);

  test('an overlay that fails once (a 502 while the gateway restarts) is tried again, and the message goes once it loads', async () => {
    let calls = 0;
    await images(png, (r) => (++calls === 1 ? r.fulfill({ status: 502, contentType: 'text/html', body: '<h1>Bad Gateway</h1>' }) : png(r)));
    await page.goto(`${server.root}${studyPage(0)}`);
    await page.locator('.mip-viewer [role="alert"]').waitFor({ timeout: 5000 });
    await page.waitForFunction(() => document.querySelector('.mip-viewer [role="alert"]') === null, undefined, { timeout: 8000 });
    expect(await page.locator('input[name="overlay"]').isDisabled()).toBe(false);
    expect(await page.locator('.mip-viewer .legend').isVisible()).toBe(true);
  }, 20_000);

  test('an overlay that keeps failing offers "Reload image" after its tries, which loads it once it can be', async () => {
    let failing = true;
    await images(png, (r) => (failing ? r.fulfill({ status: 503, contentType: 'text/html', body: '<h1>down</h1>' }) : png(r)));
    await page.goto(`${server.root}${studyPage(0)}`);
    const reload = page.locator('.mip-viewer [data-action="reload-image"]');
    await reload.waitFor({ timeout: 15_000 });
    failing = false;
    await reload.click();
    await page.waitForFunction(() => document.querySelector('.mip-viewer [role="alert"]') === null, undefined, { timeout: 5000 });
    expect(await page.locator('input[name="overlay"]').isDisabled()).toBe(false);
  }, 30_000);

  test('a result older than the newest run says so: the newest run was not applicable, failed or is in progress', async () => {
    await images(png, png);
    await server.queue.recordNotApplicable('na-2', uid(2), 'no PET series');
    await page.goto(`${server.root}${studyPage(2)}`);
    const note = page.locator('[data-previous-result]');
    await note.waitFor({ timeout: 5000 });
    expect(await note.textContent()).toBe('Showing the previous result (v1); the newest run was not applicable.');
    // The same study as a newer run that failed, then one still running, would show it.
    for (const [ai, said] of [[{ state: 'failed', reason: 'the model crashed' }, 'the newest run failed'],
      [{ state: 'running', stage: 'inference', progress: 40, startedAt: Date.now() }, 'the newest run is in progress']] as const) {
      await page.route((url) => url.pathname === `/api/worklist/studies/${uid(2)}`, async (route: Route) => {
        const answer = await route.fetch();
        const detail = (await answer.json()) as { study: { ai: Record<string, unknown> } };
        Object.assign(detail.study.ai, { jobId: 'job-newer', ...ai });
        return route.fulfill({ response: answer, json: detail });
      });
      await page.reload();
      await page.waitForFunction((text) => document.querySelector('[data-previous-result]')?.textContent === text,
        `Showing the previous result (v1); ${said}.`, { timeout: 5000 });
      await page.unrouteAll({ behavior: 'ignoreErrors' });
      await images(png, png);
    }
    // The newest job's own result says nothing of the kind.
    await page.goto(`${server.root}${studyPage(0)}`);
    await page.waitForSelector('.lesion-count');
    expect(await page.locator('[data-previous-result]').count()).toBe(0);
  }, 30_000);

  test('the analyse button says "Analyse" before any run, and "Analysis requested" goes once the requested run is final', async () => {
    await images(png, png);
    await page.goto(`${server.root}${studyPage(4)}`);
    await page.waitForSelector('.study-head');
    expect(await page.locator('[data-action="analyze"]').textContent()).toBe('Analyse');
    await page.goto(`${server.root}${studyPage(3)}`);
    await page.waitForSelector('.lesion-count');
    await live();
    expect(await page.locator('[data-action="analyze"]').textContent()).toBe('Run again');
    await page.route((url) => url.pathname === `/api/studies/${uid(3)}/analyze`, (route: Route) =>
      route.fulfill({ status: 202, json: { kind: 'queued', jobId: 'job-3-again' } }));
    await page.click('[data-action="analyze"]');
    await page.locator('.ok-box', { hasText: 'Analysis requested' }).waitFor({ timeout: 5000 });
    // The requested run ends (here as not applicable): the study view's notice of it goes.
    await server.queue.recordNotApplicable('job-3-again', uid(3), 'no PET series');
    await page.waitForSelector('.study-grid [data-state="not-applicable"]', { timeout: 5000 });
    await page.waitForFunction(() => document.querySelector('.ok-box') === null, undefined, { timeout: 5000 });
  }, 20_000);

  test('an error shown after "Analysis requested" stays when the requested run ends', async () => {
    await images(png, png);
    await page.goto(`${server.root}${studyPage(6)}`);
    await page.waitForSelector('.study-head');
    await live();
    let calls = 0;
    await page.route((url) => url.pathname === `/api/studies/${uid(6)}/analyze`, (route: Route) => (++calls === 1
      ? route.fulfill({ status: 202, json: { kind: 'queued', jobId: 'job-6-again' } })
      : route.fulfill({ status: 409, json: { code: 'MIPSEG_STUDY_INCOMPLETE', message: 'refused for this test' } })));
    await page.click('[data-action="analyze"]');
    await page.locator('.ok-box', { hasText: 'Analysis requested' }).waitFor({ timeout: 5000 });
    await page.click('[data-action="analyze"]');
    await page.locator('.error-box', { hasText: 'refused for this test' }).waitFor({ timeout: 5000 });
    // The first requested run ends: what the second request was told stays on screen.
    await server.queue.recordNotApplicable('job-6-again', uid(6), 'no PET series');
    await page.waitForSelector('.study-grid [data-state="not-applicable"]', { timeout: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await page.locator('.error-box', { hasText: 'refused for this test' }).count()).toBe(1);
  }, 20_000);

  test('a live update keeps keyboard focus on the same control of the study view', async () => {
    await images(png, png);
    await page.goto(`${server.root}${studyPage(5)}`);
    await page.waitForSelector('.study-head');
    await live();
    await page.focus('[data-action="analyze"]');
    await server.queue.recordNotApplicable('na-5', uid(5), 'no PET series');
    await page.waitForSelector('.study-grid [data-state="not-applicable"]', { timeout: 5000 });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-action'))).toBe('analyze');
  }, 20_000);
});
