import type { Page, Request } from 'playwright-core';
import type { ResultUids } from '@mipseg/shared/queue';
import { until } from '../support/until';
import { launchChromium, readsOf, type TestBrowser } from './chromium';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { buildWorklistPage, startWorklistServer, type WorklistServer } from './worklist-server';

const uid = (i: number): string => syntheticStudy(i).studyInstanceUid;
const studyApi = (i: number): string => `/api/worklist/studies/${uid(i)}`;
const request = (study: string) => ({ studyInstanceUid: study, seriesInstanceUid: `${study}.2`, sopInstanceUids: [`${study}.2.1`],
  contentHash: 'x', reason: 'study-complete', version: 1 }) as const;
/** The synthetic PET series' images stand in for the MIP and SEG, so the result counts as stored. */
const result = (study: string): ResultUids => ({
  studyInstanceUid: study, mipSeriesInstanceUid: `${study}.2`, mipSopInstanceUid: `${study}.2.1`,
  segSeriesInstanceUid: `${study}.2`, segSopInstanceUid: `${study}.2.2`, lesionCount: 2, tumourAreaMm2: 500, modelName: 'm', modelVersion: '1',
});

/** Counts the page's requests for a study's detail from now on. */
function countRequests(page: Page, path: string): { count: () => number } {
  let n = 0;
  page.on('request', (r: Request) => { if (new URL(r.url()).pathname === path) n++; });
  return { count: () => n };
}

interface StudyChangedHandled { studyChangedHandled: Promise<void> }

/**
 * Run in the page before its scripts: `window.studyChangedHandled` settles once a `studies` listener of the page's
 * own event stream (the view's) has handled an event naming `study`, and so has scheduled the view's refresh.
 */
function markStudyChangedHandled(study: string): void {
  let handled = (): void => undefined;
  (window as unknown as StudyChangedHandled).studyChangedHandled = new Promise((resolve) => { handled = resolve; });
  const add = EventSource.prototype.addEventListener; // eslint-disable-line @typescript-eslint/unbound-method -- called with its stream below
  EventSource.prototype.addEventListener = function (this: EventSource, type: string, listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions): void {
    const marking = type === 'studies' && typeof listener === 'function'
      ? (e: Event): void => {
        listener.call(this, e);
        if ((e as MessageEvent<string>).data.includes(study)) handled();
      }
      : listener;
    add.call(this, type, marking, options);
  } as typeof add;
}

describe('the study view when its study goes away', () => {
  let server: WorklistServer;
  let browser: TestBrowser;
  let page: Page;
  const live = (): Promise<unknown> => page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 8000 });

  beforeAll(async () => {
    buildWorklistPage();
    server = await startWorklistServer({ ALLOW_STUDY_DELETE: 'true' });
    for (let i = 0; i < 3; i++) indexSyntheticStudy(server.archive.index, syntheticStudy(i));
    server.queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (_id, req) => Promise.resolve(result(req.studyInstanceUid)) },
      { concurrency: 1, studyChecks: false, analyses: true });
    await server.queue.enqueueAnalysis('job-0', request(uid(0)));
    await until(async () => ((await server.queue.listJobs({ state: 'done', limit: 10, offset: 0 })).length === 1 ? true : undefined), 'the analysis');
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  // A browser each: the second test fakes the page's timers, for its whole browser context.
  beforeEach(async () => {
    browser = await launchChromium({ width: 1280, height: 720 });
    page = browser.page;
  });

  afterEach(async () => {
    await browser?.close();
  });

  test('a study deleted by DICOMweb DELETE while open says so, leaves no image or patient data, stops refreshing, and leads back', async () => {
    const patient = syntheticStudy(0);
    await page.goto(`${server.root}/studies/${uid(0)}`);
    await page.waitForSelector('.mip-image', { state: 'attached' });
    await live();
    const deleted = await fetch(`${server.root}/dicomweb/studies/${uid(0)}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);

    await page.locator('[data-study-deleted]').getByRole('heading', { name: 'Study deleted' }).waitFor({ timeout: 5000 });
    const requests = countRequests(page, studyApi(0));
    expect(await page.locator('.mip-image, .mip-overlay, .mip-viewer').count()).toBe(0);
    expect(await page.locator('.study-head, .study-grid').count()).toBe(0);
    const text = await page.locator('main').innerText();
    for (const shown of [patient.patientId, patient.accessionNumber, patient.patientName.split('^')[0] ?? '']) expect(text).not.toContain(shown);
    expect(await page.locator('[data-refresh-notice]:not(:empty)').count()).toBe(0);
    // The first retry of the old behaviour came a second later; nothing may be asked for again.
    await new Promise((r) => setTimeout(r, 1500));
    expect(requests.count()).toBe(0);
    expect(await page.getByText(/Could not refresh/).count()).toBe(0);

    await page.locator('[data-study-deleted]').getByRole('link', { name: 'Back to the worklist' }).click();
    await page.waitForSelector(`tr[data-study-uid="${uid(1)}"]`);
    expect(await page.locator(`tr[data-study-uid="${uid(0)}"]`).count()).toBe(0);
  }, 20_000);

  test('leaving a study before its live refresh is due cancels the refresh: no request, no retry, no login form', async () => {
    await page.clock.install();
    await page.addInitScript(markStudyChangedHandled, uid(1));
    // The view reads the study once when shown and once more when the event stream opens (a change may have come
    // between): both are answered before the refresh this test is about is made due.
    const bothReadsDone = readsOf(page, studyApi(1), 2);
    await page.goto(`${server.root}/studies/${uid(1)}`);
    await page.waitForSelector('.study-head');
    await live();
    await bothReadsDone;
    // Were the refresh made, its answer (401) would show the login form over the worklist.
    await page.route((url) => url.pathname === studyApi(1), (route) => route.fulfill({ status: 401, json: { code: 'MIPSEG_UNAUTHENTICATED', message: 'no' } }));
    const requests = countRequests(page, studyApi(1));
    // The 250 ms debounce waits until the clock moves on. Not far: a page that hears nothing for 2.5 ping intervals
    // (37.5 s here) takes its stream for dead and opens a new one, and would miss the event this test waits for.
    await page.clock.pauseAt(Date.now() + 5000);
    await server.queue.recordNotApplicable('na-1', uid(1), 'no PET series');
    await page.evaluate(() => (window as unknown as StudyChangedHandled).studyChangedHandled); // the view's refresh is due

    await page.click('a.back');
    await page.waitForSelector(`tr[data-study-uid="${uid(2)}"]`);
    await page.clock.runFor(5000); // past the debounce, and past a first retry had there been one
    await new Promise((r) => setTimeout(r, 500));
    await page.clock.runFor(5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(requests.count()).toBe(0);
    expect(await page.locator('#login-token').count()).toBe(0);
    expect(await page.locator('.worklist').count()).toBe(1);
  }, 20_000);
});
