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
  /** The PACS refuses until a test lets it take the result, each job's when the test says (release). */
  let pacsUp = false;
  const takes = new Map<string, { readonly promise: Promise<void>; resolve: () => void }>();
  const pacsTakes = (jobId: string): { readonly promise: Promise<void>; resolve: () => void } => {
    const known = takes.get(jobId);
    if (known) return known;
    let resolve = (): void => undefined;
    const made = { promise: new Promise<void>((r) => { resolve = r; }), resolve: () => resolve() };
    takes.set(jobId, made);
    return made;
  };
  const release = (jobId: string): void => pacsTakes(jobId).resolve();
  const exportState = async (jobId: string): Promise<string | undefined> => (await server.queue.getJob(jobId))?.exports[0]?.state;

  beforeAll(async () => {
    buildWorklistPage();
    server = await startWorklistServer({}, undefined, undefined, undefined, { exportDestinations: [PACS] });
    indexSyntheticStudy(server.archive.index, syntheticStudy(0));
    indexSyntheticStudy(server.archive.index, syntheticStudy(1));
    indexSyntheticStudy(server.archive.index, syntheticStudy(2));
    indexSyntheticStudy(server.archive.index, syntheticStudy(3));
    server.queue.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: (_id, req) => Promise.resolve(result(req.studyInstanceUid)),
      exportResult: async (id, _result, destination, attempts): Promise<ExportStatus> => {
        if (!pacsUp) return { destination, state: 'failed', attempts, detail: 'connection refused', updatedAt: Date.now() };
        await pacsTakes(id).promise;
        return { destination, state: 'sent', attempts, updatedAt: Date.now() };
      },
    }, { concurrency: 1, studyChecks: false, analyses: true });
    await server.queue.enqueueAnalysis('job-old', request(uid(0)));
    await server.queue.enqueueAnalysis('job-listed', request(uid(2)));
    await server.queue.enqueueAnalysis('job-viewed', request(uid(3)));
    for (const id of ['job-old', 'job-listed', 'job-viewed']) await until(async () => ((await exportState(id)) === 'failed' ? true : undefined), `${id}'s failed export`);
    for (let i = 0; i < NEWER_JOBS; i++) await server.queue.recordNotApplicable(`newer-${i}`, uid(1), 'no PET series');
    browser = await launchChromium({ width: 1280, height: 720 });
    page = browser.page;
  }, 60_000);

  afterAll(async () => {
    for (const take of takes.values()) take.resolve();
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
    release('job-old');
    await until(async () => ((await exportState('job-old')) === 'sent' ? true : undefined), 'the export sent');
    await page.waitForSelector(`${row} [data-export-state="sent"]`, { timeout: 5000 });
  }, 30_000);

  test('reaches the worklist row live when retried through the API, the study never opened', async () => {
    await page.goto(`${server.root}/`);
    const exportCell = `tr[data-study-uid="${uid(2)}"] [data-destination="${PACS}"]`;
    await page.waitForSelector(`${exportCell} [data-export-state="failed"]`);
    await page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 8000 });
    pacsUp = true;
    // Another client (a script, another workstation): not this page's button.
    const retried = await fetch(`${server.root}/api/jobs/job-listed/exports/${encodeURIComponent(PACS)}/retry`, { method: 'POST' });
    expect(retried.status).toBe(202);
    await page.waitForSelector(`${exportCell} [data-export-state="pending"]`, { timeout: 5000 });
    release('job-listed');
    await until(async () => ((await exportState('job-listed')) === 'sent' ? true : undefined), 'the export sent');
    await page.waitForSelector(`${exportCell} [data-export-state="sent"]`, { timeout: 5000 });
    expect(new URL(page.url()).pathname).toBe('/');
  }, 30_000);

  test('reaches an open study view live when retried through the API, not by its button', async () => {
    await page.goto(`${server.root}/studies/${uid(3)}`);
    const row = `tr[data-destination="${PACS}"]`;
    await page.waitForSelector(`${row} [data-export-state="failed"]`);
    await page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 8000 });
    pacsUp = true;
    const retried = await fetch(`${server.root}/api/jobs/job-viewed/exports/${encodeURIComponent(PACS)}/retry`, { method: 'POST' });
    expect(retried.status).toBe(202);
    await page.waitForSelector(`${row} [data-export-state="pending"]`, { timeout: 5000 });
    release('job-viewed');
    await page.waitForSelector(`${row} [data-export-state="sent"]`, { timeout: 5000 });
  }, 30_000);
});
