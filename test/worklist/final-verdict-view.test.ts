import type { Page } from 'playwright-core';
import type { AnalysisRequest, ResultUids } from '@mipseg/shared/queue';
import { until } from '../support/until';
import { launchChromium, type TestBrowser } from './chromium';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { buildWorklistPage, startWorklistServer, type WorklistServer } from './worklist-server';

const uid = (i: number): string => syntheticStudy(i).studyInstanceUid;
/** The GE series' UID: 64 characters without a break, as reasons stored before series were named by number named it. */
const GE_SERIES = '1.3.6.1.4.1.14519.5.2.1.5168.1900.279539551699081894888330051583';
const request = (study: string, reason: AnalysisRequest['reason']) => ({ studyInstanceUid: study, seriesInstanceUid: `${study}.2`,
  sopInstanceUids: [`${study}.2.1`], contentHash: reason, reason }) as const;
const result = (study: string): ResultUids => ({
  studyInstanceUid: study, mipSeriesInstanceUid: `${study}.2`, mipSopInstanceUid: `${study}.2.1`,
  segSeriesInstanceUid: `${study}.2`, segSopInstanceUid: `${study}.2.2`, lesionCount: 3, tumourAreaMm2: 500, modelName: 'm', modelVersion: '1',
});

/** Whether every element matching `selector` lies inside its `.card` or `.mip-placeholder`, its text wrapped rather than spilling out. */
function staysInItsBox(page: Page, selector: string): Promise<boolean[]> {
  return page.$$eval(selector, (els) => els.map((el) => {
    const box = (el.closest('.mip-placeholder, .card') as HTMLElement).getBoundingClientRect();
    const r = el.getBoundingClientRect();
    return el.scrollWidth <= el.clientWidth && r.left >= box.left && r.right <= box.right;
  }));
}

describe('a study whose newest run is final without a result says so, and why, in words a reader knows', () => {
  let server: WorklistServer;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    buildWorklistPage();
    server = await startWorklistServer();
    for (const i of [0, 1, 2]) indexSyntheticStudy(server.archive.index, syntheticStudy(i));
    server.queue.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: (_id, req) => (req.studyInstanceUid === uid(1)
        ? Promise.reject(new Error(`the header in instances/${uid(1)}/${GE_SERIES}.dcm does not parse`))
        : Promise.resolve(result(req.studyInstanceUid))),
    }, { concurrency: 1, studyChecks: false, analyses: true });
    // A reason as stored before series were named by number: the page must wrap it, however old the job.
    await server.queue.recordNotApplicable('na-0', uid(0), `${GE_SERIES}: 267 slice(s), fewer than 1000`);
    await server.queue.enqueueAnalysis('job-1', request(uid(1), 'study-complete'));
    await server.queue.enqueueAnalysis('job-2a', request(uid(2), 'study-complete'));
    await until(async () => ((await server.queue.listJobs({ limit: 10, offset: 0 })).filter((j) => j.finishedAt !== null).length === 3 ? true : undefined), 'the first runs');
    await server.queue.enqueueAnalysis('job-2b', request(uid(2), 'on-demand'));
    await until(async () => ((await server.queue.listJobs({ state: 'done', limit: 10, offset: 0 })).length === 2 ? true : undefined), 'the run on request');
    browser = await launchChromium({ width: 1280, height: 900 });
    page = browser.page;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('not applicable: no result will come, why, and what can change it; the history in words; a long UID wraps', async () => {
    await page.goto(`${server.root}/studies/${uid(0)}`);
    await page.waitForSelector('.mip-placeholder [data-state="not-applicable"]');
    const placeholder = await page.locator('.mip-placeholder').textContent();
    expect(placeholder).toContain('This study will not be analysed.');
    expect(placeholder).toContain('Images that arrive for it later start a new check; Run again checks it now.');
    expect(placeholder).toContain(`${GE_SERIES}: 267 slice(s), fewer than 1000`);
    expect(placeholder).not.toContain('appear here when the analysis is done');
    const resultCard = await page.locator('.card', { hasText: 'AI result' }).textContent();
    expect(resultCard).toContain('This study will not be analysed.');
    expect(resultCard).not.toContain('No result yet');
    const history = page.locator('.card', { hasText: 'Analysis history' });
    expect(await history.locator('[data-job-id="na-0"] td').nth(1).evaluate((td) => td.firstChild?.textContent)).toBe('Not applicable');
    expect(await staysInItsBox(page, '.mip-placeholder .reason, .card .reason')).toEqual([true, true, true]);
    await page.screenshot({ path: '/tmp/study-not-applicable.png' });
  }, 20_000);

  test('failed: no result will come of it, and Run again tries once more; its reason wraps', async () => {
    await page.goto(`${server.root}/studies/${uid(1)}`);
    await page.waitForSelector('.mip-placeholder [data-state="failed"]');
    for (const where of ['.mip-placeholder', '.card:has-text("AI result")']) {
      const text = await page.locator(where).first().textContent();
      expect(text).toContain('The analysis failed, and no result will come of it. Run again tries once more.');
      expect(text).not.toMatch(/No result yet|appear here when the analysis is done/);
    }
    expect(await page.locator('[data-job-id="job-1"] td').nth(1).evaluate((td) => td.firstChild?.textContent)).toBe('Failed');
    expect(await staysInItsBox(page, '.mip-placeholder .reason, .card .reason')).toEqual([true, true, true]);
    await page.screenshot({ path: '/tmp/study-failed.png' });
  }, 20_000);

  test('the analysis history names each run\'s state and what started it as the study list does, not by machine values', async () => {
    await page.goto(`${server.root}/studies/${uid(2)}`);
    await page.waitForSelector('[data-job-id="job-2b"]');
    const rows = await page.$$eval('.card:has(h2:text("Analysis history")) tr', (trs) => trs.map((tr) =>
      [...tr.querySelectorAll('td')].slice(1, 4).map((td) => td.firstChild?.textContent ?? '')));
    expect(rows).toEqual([['Done', 'On request', 'v2'], ['Done', 'Study complete', 'v1']]);
  }, 20_000);

  test('the times the service recorded name the workstation\'s time zone; the study\'s own date and time say whose they are', async () => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: 'America/New_York' });
    try {
      await page.goto(`${server.root}/studies/${uid(2)}`);
      await page.waitForSelector('[data-job-id="job-2b"]');
      const zoned = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (EST|EDT|GMT-5|GMT-4)$/;
      expect(await page.locator('.facts dt:text("Finished") + dd').textContent()).toMatch(zoned);
      for (const cell of await page.locator('[data-job-id] td:first-child').allTextContents()) expect(cell).toMatch(zoned);
      expect(await page.locator('[data-study-date-time]').getAttribute('title')).toContain('as the scanner recorded them');
    } finally {
      await cdp.send('Emulation.setTimezoneOverride', { timezoneId: '' }); // '' ends the override
      await cdp.detach();
    }
  }, 20_000);
});
