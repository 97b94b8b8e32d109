import type { Page } from 'playwright-core';
import type { ExportStatus, ResultUids } from '@mipseg/shared/queue';
import { until } from '../support/until';
import { launchChromium, type TestBrowser } from './chromium';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { buildWorklistPage, startWorklistServer, type WorklistServer } from './worklist-server';

const PACS = 'stow:http://pacs.test/dicomweb';
/** More newer jobs than the event stream's poll reads as "the newest": the retried job is older than all of them. */
const NEWER_JOBS = 120;
const uid = (i: number): string => syntheticStudy(i).studyInstanceUid;
const request = (study: string) => ({ studyInstanceUid: study, seriesInstanceUid: `${study}.2`, sopInstanceUids: [`${study}.2.1`],
  contentHash: 'x', reason: 'study-complete', version: 1 }) as const;
/** The synthetic PET series' images stand in for the MIP and SEG, so the result counts as stored. */
const result = (study: string): ResultUids => ({
  studyInstanceUid: study, mipSeriesInstanceUid: `${study}.2`, mipSopInstanceUid: `${study}.2.1`,
  segSeriesInstanceUid: `${study}.2`, segSopInstanceUid: `${study}.2.2`, lesionCount: 1, tumourAreaMm2: 100, modelName: 'm', modelVersion: '1',
});

describe('an export retried on an older job', () => {
  let server: WorklistServer;
  let browser: TestBrowser;
  let page: Page;
  /** The PACS refuses until a test lets it take the result. */
  let pacsUp = false;
  let release = (): void => undefined;
  const pacsTakes = new Promise<void>((resolve) => { release = resolve; });

  beforeAll(async () => {
    buildWorklistPage();
    server = await startWorklistServer({}, undefined, undefined, undefined, { exportDestinations: [PACS] });
    indexSyntheticStudy(server.archive.index, syntheticStudy(0));
    indexSyntheticStudy(server.archive.index, syntheticStudy(1));
    server.queue.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: (_id, req) => Promise.resolve(result(req.studyInstanceUid)),
      exportResult: async (_id, _result, destination, attempts): Promise<ExportStatus> => {
        if (!pacsUp) return { destination, state: 'failed', attempts, detail: 'connection refused', updatedAt: Date.now() };
        await pacsTakes;
        return { destination, state: 'sent', attempts, updatedAt: Date.now() };
      },
    }, { concurrency: 1, studyChecks: false, analyses: true });
    await server.queue.enqueueAnalysis('job-old', request(uid(0)));
    await until(async () => ((await server.queue.getJob('job-old'))?.exports[0]?.state === 'failed' ? true : undefined), 'the failed export');
    for (let i = 0; i < NEWER_JOBS; i++) await server.queue.recordNotApplicable(`newer-${i}`, uid(1), 'no PET series');
    browser = await launchChromium({ width: 1280, height: 720 });
    page = browser.page;
  }, 60_000);

  afterAll(async () => {
    release();
    await browser?.close();
    await server?.stop();
  });

  test('reaches the study view live as it goes from pending to sent', async () => {
    await page.goto(`${server.root}/studies/${uid(0)}`);
    const row = `tr[data-destination="${PACS}"]`;
    await page.waitForSelector(`${row} [data-export-state="failed"]`);
    await page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 8000 });
    pacsUp = true;
    await page.click(`${row} button`);
    await page.waitForSelector(`${row} [data-export-state="pending"]`, { timeout: 5000 });
    release();
    await until(async () => ((await server.queue.getJob('job-old'))?.exports[0]?.state === 'sent' ? true : undefined), 'the export sent');
    await page.waitForSelector(`${row} [data-export-state="sent"]`, { timeout: 5000 });
  }, 30_000);
});
