import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page, Route } from 'playwright-core';
import { readModelManifest } from '@mipseg/shared/inference';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../support/mipseg-process';
import { waitForJobs, type ApiJob } from '../support/pipeline-wait';
import { freePort } from '../support/redis';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { postStow } from '../support/stow';
import { readMipPng, syntheticPetSeries } from '../support/synthetic-pet';
import { launchChromium, type TestBrowser } from './chromium';
import { buildWorklistPage, MODEL_DIR } from './worklist-server';

/**
 * A result superseded before it reached a PACS, as a radiologist sees it: `mipseg serve`, a PACS that is down (nothing
 * listens on its port) while version 1 of a synthetic whole-body PET is made and its export retries, then "Run again"
 * (POST /api/studies/{uid}/analyze) makes version 2, done while version 1 still waits: version 1's next attempt ends
 * `superseded`, unsent. Nothing about the state is stubbed: the queue decides it (shared/src/queue/newest-analysis.ts).
 */

const MIP_PNG = 'data/mip-pet/patients/imgs/patient_003.png';
const PATIENT_ID = 'SUPERSEDED-001';
/** The theme's --grey (services/web/public/styles.css): no fault, as a deleted result. */
const GREY = 'rgb(125, 139, 156)';
/** The theme's --bad, a failed export's colour. */
const RED = 'rgb(255, 95, 95)';

type ApiExport = ApiJob['exports'][number];

/** Sends a synthetic whole-body PET made from a DM i AI MIP; returns its StudyInstanceUID. */
async function sendSyntheticStudy(dicomweb: string): Promise<string> {
  const manifest = await readModelManifest(MODEL_DIR);
  const series = syntheticPetSeries(readMipPng(sharedData(MIP_PNG).path), {
    suvWhite: manifest.input.intensity.fromSuv.suvWhite as number, pixelSpacingMm: manifest.input.pixelSpacingMm, apRows: 32, patientId: PATIENT_ID,
  });
  for (let i = 0; i < series.instances.length; i += 100) expect((await postStow(`${dicomweb}/studies`, series.instances.slice(i, i + 100))).status).toBe(200);
  return series.studyInstanceUid;
}

/** What a badge shows: its words, its state, its class and the colour the browser paints its text in. */
function badgeLook(page: Page, selector: string): Promise<{ text: string; state: string | null; className: string; color: string }> {
  return page.$eval(selector, (el) => ({ text: el.textContent ?? '', state: el.getAttribute('data-export-state'), className: el.className,
    color: getComputedStyle(el).color }));
}

/** A job's PACS export to `destination` in the study view's analysis history. */
const historyExport = (jobId: string, destination?: string): string =>
  `.card[data-key="jobs"] tr[data-job-id="${jobId}"] td.history-exports${destination === undefined ? '' : ` [data-destination="${destination}"]`}`;

/** Nothing on screen reads as a failed export or a failed run (there is no failure count: a badge is what says it). */
async function failuresShown(page: Page): Promise<number> {
  return page.locator('[data-export-state="failed"], .export-failed, .state-failed, button:has-text("Retry")').count();
}

describeWithSharedData(MIP_PNG)('a superseded export, in Chromium', () => {
  let dataDir: string;
  let mipseg: MipsegProcess;
  let browser: TestBrowser;
  let page: Page;
  let root: string;
  let study: string;
  /** The PACS that is down: nothing listens on its port. */
  let pacs: string;
  let v1: ApiJob;
  let v2: ApiJob;
  /** A second tab, on the study view from before version 2 was asked for, never reloaded: what a live update shows. */
  let openBefore: Page;
  /** Version 1's export state as that tab first showed it in the analysis history (null: not shown). */
  let v1ShownBefore: string | null;

  const exportOf = (job: ApiJob): ApiExport => {
    const found = job.exports.find((e) => e.destination === pacs);
    if (!found) throw new Error(`job ${job.id} has no export to ${pacs}`);
    return found;
  };

  beforeAll(async () => {
    buildWorklistPage();
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-superseded-view-'));
    pacs = `stow:http://127.0.0.1:${await freePort()}/dicomweb`;
    // Many attempts, 500 ms apart and doubling: version 1 is still retrying when version 2 is done.
    mipseg = await startMipsegProcess({ DATA_DIR: dataDir, QUIET_PERIOD_MS: '1000', DIMSE_ENABLED: 'false',
      EXPORT_DESTINATIONS: pacs, EXPORT_ATTEMPTS: '50', EXPORT_BACKOFF_MS: '500' });
    root = `http://127.0.0.1:${mipseg.httpPort}`;
    study = await sendSyntheticStudy(`${root}/dicomweb`);
    const first = await waitForJobs(root, study, (jobs) => jobs[0]?.state === 'done' && jobs[0].exports[0]?.state === 'retrying', 120_000);
    const v1Id = (first[0] as ApiJob).id;
    browser = await launchChromium({ width: 1440, height: 900 });
    page = browser.page;
    openBefore = await browser.context.newPage();
    await openBefore.goto(`${root}/studies/${study}`);
    await openBefore.waitForSelector(`.card[data-key="jobs"] tr[data-key="${v1Id}"]`);
    await openBefore.waitForSelector('body[data-live="on"]', { state: 'attached' });
    // Read, not waited for: that it shows is the live test's to check, and a page that shows no export would fail them all here.
    v1ShownBefore = await (await openBefore.$(`${historyExport(v1Id, pacs)} .badge`))?.getAttribute('data-export-state') ?? null;
    // Marks this document: a reload would make a new one without it.
    await openBefore.evaluate(() => { document.body.dataset['notReloaded'] = ''; });
    const asked = await fetch(`${root}/api/studies/${study}/analyze`, { method: 'POST' });
    expect(asked.status).toBe(202);
    const v2Id = ((await asked.json()) as { jobId: string }).jobId;
    const jobs = await waitForJobs(root, study, (js) => js.find((j) => j.id === v1Id)?.exports[0]?.state === 'superseded'
      && js.find((j) => j.id === v2Id)?.exports[0]?.state === 'retrying', 60_000);
    [v1, v2] = [v1Id, v2Id].map((id) => jobs.find((j) => j.id === id) as ApiJob) as [ApiJob, ApiJob];
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (mipseg) await killAndWait(mipseg.child, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('version 1 ends superseded by version 2, unsent, and its retry cannot send it', async () => {
    expect(v2.state).toBe('done');
    expect(exportOf(v1)).toMatchObject({ state: 'superseded' });
    expect(exportOf(v1).detail).toMatch(new RegExp(`superseded by version 2 of the series' analysis \\(job ${v2.id}\\)`));
    const retried = await fetch(`${root}/api/jobs/${v1.id}/exports/${encodeURIComponent(pacs)}/retry`, { method: 'POST' });
    expect([retried.status, ((await retried.json()) as { code: string }).code]).toEqual([409, 'MIPSEG_EXPORT_NOT_FAILED']);
  });

  test('the study list shows version 2\'s export retrying, and no failure', async () => {
    await page.goto(`${root}/`);
    const cell = `tr[data-study-uid="${study}"] td.col-export`;
    await page.waitForSelector(`${cell} [data-export-state="retrying"]`);
    expect(await page.locator(`${cell} .badge`).count()).toBe(1);
    expect(await badgeLook(page, `${cell} .badge`)).toMatchObject({ text: 'Retrying', state: 'retrying' });
    expect(await failuresShown(page)).toBe(0);
  }, 30_000);

  test('the study view shows version 2 and its export retrying, with no Retry and no failure', async () => {
    await page.goto(`${root}/studies/${study}`);
    const row = `.card[data-key="exports ${v2.id}"] tr[data-destination="${pacs}"]`;
    await page.waitForSelector(`${row} [data-export-state="retrying"]`);
    await page.waitForFunction(() => [...document.querySelectorAll('.facts dd')].some((dd) => dd.textContent === 'v2'));
    expect(await badgeLook(page, `${row} .badge`)).toMatchObject({ text: 'Retrying', state: 'retrying' });
    expect(await page.locator(`${row} button`).count()).toBe(0);
    expect(await failuresShown(page)).toBe(0);
  }, 30_000);

  test('the study view\'s analysis history shows version 1\'s export superseded, grey, with why, and no Retry', async () => {
    await page.goto(`${root}/studies/${study}`);
    const v1Export = historyExport(v1.id, pacs);
    await page.waitForSelector(`${v1Export} [data-export-state="superseded"]`);
    const look = await badgeLook(page, `${v1Export} .badge`);
    expect(look).toEqual({ text: 'Superseded', state: 'superseded', className: 'badge export-superseded', color: GREY });
    expect(look.color).not.toBe(RED);
    await expect(page.locator(`${v1Export} .reason`).textContent()).resolves.toBe(exportOf(v1).detail);
    await expect(page.locator(`${v1Export} .reason`).textContent()).resolves.toMatch(new RegExp(`^superseded by version 2 of the series' analysis \\(job ${v2.id}\\)`));
    await expect(page.locator(v1Export).getAttribute('title')).resolves.toBe(`${pacs}: ${exportOf(v1).detail ?? ''}`);
    // Version 2's row shows its own export, as the PACS export card above does.
    expect(await badgeLook(page, `${historyExport(v2.id, pacs)} .badge`)).toMatchObject({ text: 'Retrying', state: 'retrying' });
    expect(await page.locator('.card[data-key="jobs"] button').count()).toBe(0);
    expect(await page.getByRole('row').filter({ hasText: 'Superseded' }).count()).toBe(1);
    expect(await failuresShown(page)).toBe(0);
  }, 30_000);

  test('a study view open since before version 2 shows version 1\'s export go from retrying to superseded, without a reload', async () => {
    const v1Export = historyExport(v1.id, pacs);
    expect(v1ShownBefore).toBe('retrying');
    await openBefore.waitForSelector(`${v1Export} [data-export-state="superseded"]`, { timeout: 10_000 });
    expect(await badgeLook(openBefore, `${v1Export} .badge`)).toMatchObject({ text: 'Superseded', className: 'badge export-superseded', color: GREY });
    await openBefore.waitForFunction(() => [...document.querySelectorAll('.facts dd')].some((dd) => dd.textContent === 'v2'));
    expect(await openBefore.evaluate(() => document.body.dataset['notReloaded'])).toBe('');
    expect(await failuresShown(openBefore)).toBe(0);
  }, 30_000);

  /**
   * The study list shows only each study's newest job's exports, as a worklist should, and a superseded export is
   * always an older version's: no real answer puts one there. So version 1's export, as the API reports it, is put in
   * its answer here, to see how the list would draw the state.
   */
  describe('drawn from version 1\'s export as the API reports it', () => {
    const asSuperseded = (e: { readonly destination: string }) => (e.destination === pacs ? { ...exportOf(v1), detail: exportOf(v1).detail ?? null,
      updatedAt: Date.now() } : e);

    async function answerWithVersion1(route: Route, edit: (body: Record<string, unknown>) => void): Promise<void> {
      const response = await route.fetch();
      const body = (await response.json()) as Record<string, unknown>;
      edit(body);
      await route.fulfill({ response, json: body });
    }

    afterEach(async () => page?.unrouteAll({ behavior: 'ignoreErrors' }));

    test('the study list draws it grey, "Superseded", named in full on hover, with no failure', async () => {
      await page.route((url) => url.pathname === '/api/worklist', (route) => answerWithVersion1(route, (body) => {
        for (const s of body['studies'] as Array<{ ai: { exports: Array<{ destination: string }> } }>) s.ai.exports = s.ai.exports.map(asSuperseded);
      }));
      await page.goto(`${root}/`);
      const cell = `tr[data-study-uid="${study}"] td.col-export`;
      await page.waitForSelector(`${cell} [data-export-state="superseded"]`);
      const look = await badgeLook(page, `${cell} .badge`);
      expect(look).toEqual({ text: 'Superseded', state: 'superseded', className: 'badge export-superseded', color: GREY });
      expect(look.color).not.toBe(RED);
      await expect(page.locator(`${cell} [data-destination="${pacs}"]`).getAttribute('title')).resolves
        .toBe(`${pacs}: ${exportOf(v1).detail ?? ''}`);
      // Its accessible name, as a screen reader reads the cell.
      expect(await page.getByRole('cell', { name: 'Superseded', exact: true }).count()).toBe(1);
      expect(await failuresShown(page)).toBe(0);
    }, 30_000);
  });
});
