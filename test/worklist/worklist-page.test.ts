import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelManifest } from '@mipseg/shared/inference';
import { listFiles, sendFiles } from '../../services/cli/src/send';
import { freePort } from '../support/redis';
import { startOrthanc, type OrthancServer } from '../support/orthanc';
import { postStow } from '../support/stow';
import { readMipPng, syntheticPetSeries } from '../support/synthetic-pet';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../support/mipseg-process';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { imagesLoaded, launchChromium, waitForImages, type TestBrowser } from './chromium';
import { screenshot } from './screenshots';
import { buildWorklistPage, MODEL_DIR } from './worklist-server';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
const MIP_PNG = 'data/mip-pet/patients/imgs/patient_000.png';
const MIP_PNGS = 'data/mip-pet/patients/imgs';

/**
 * Two more studies for the list: a whole-body PET made from a DM i AI MIP (analysed: done) and a short one
 * (too few slices: not applicable, with the reason).
 */
async function sendSyntheticStudies(dicomweb: string): Promise<void> {
  const manifest = await readModelManifest(MODEL_DIR);
  const image = readMipPng(join(sharedData(MIP_PNGS).path, 'patient_003.png'));
  const common = { suvWhite: manifest.input.intensity.fromSuv.suvWhite as number, pixelSpacingMm: manifest.input.pixelSpacingMm, apRows: 32 };
  const short = { ...image, height: 30, data: image.data.subarray(0, image.width * 30) };
  for (const [input, patientId] of [[image, 'DMI-003'], [short, 'DMI-003-SCOUT']] as const) {
    const series = syntheticPetSeries(input, { ...common, patientId });
    for (let i = 0; i < series.instances.length; i += 100) expect((await postStow(`${dicomweb}/studies`, series.instances.slice(i, i + 100))).status).toBe(200);
  }
}

describeWithSharedData(GE)('the worklist page with `mipseg serve` and the GE series', () => {
  let dataDir: string;
  let mipseg: MipsegProcess;
  let orthanc: OrthancServer;
  let browser: TestBrowser;
  let root: string;
  /** A PACS that is down: nothing listens on this port. */
  let downPacs: string;

  beforeAll(async () => {
    buildWorklistPage();
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-worklist-e2e-'));
    orthanc = await startOrthanc();
    downPacs = `stow:http://127.0.0.1:${await freePort()}/dicomweb`;
    mipseg = await startMipsegProcess({ DATA_DIR: dataDir, QUIET_PERIOD_MS: '2000', DIMSE_ENABLED: 'false',
      EXPORT_DESTINATIONS: `stow:${orthanc.dicomwebUrl},${downPacs}`, EXPORT_ATTEMPTS: '1' });
    root = `http://127.0.0.1:${mipseg.httpPort}`;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (mipseg) await killAndWait(mipseg.child, 'SIGTERM');
    await orthanc?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a sent study appears and its AI state moves to done without a reload', async () => {
    const { page } = browser;
    await page.goto(`${root}/`);
    await page.waitForSelector('text=No studies match.');
    // Survives only if the page is never reloaded; the observer records every state a row shows.
    await page.evaluate(() => {
      const w = window as unknown as { notReloaded: boolean; statesSeen: string[] };
      w.notReloaded = true;
      w.statesSeen = [];
      new MutationObserver(() => {
        const state = document.querySelector('tr.study-row [data-state]')?.getAttribute('data-state');
        if (state && w.statesSeen[w.statesSeen.length - 1] !== state) w.statesSeen.push(state);
      }).observe(document.body, { subtree: true, childList: true });
    });
    const files = (await listFiles(sharedData(GE).path)).filter((f) => f.endsWith('.dcm'));
    const sent = await sendFiles(files, { url: `${root}/dicomweb`, batchSize: 100, progress: false });
    expect(sent.failed).toBe(0);
    await page.waitForSelector('tr.study-row [data-state="done"]', { timeout: 150_000 });
    const { notReloaded, statesSeen } = await page.evaluate(() => {
      const w = window as unknown as { notReloaded: boolean; statesSeen: string[] };
      return { notReloaded: w.notReloaded, statesSeen: w.statesSeen };
    });
    expect(notReloaded).toBe(true);
    expect(statesSeen[0]).not.toBe('done'); // it was seen before it was done: the page followed the job
    expect(statesSeen[statesSeen.length - 1]).toBe('done');
    await expect(page.locator('tr.study-row').first().textContent()).resolves.toContain('STS_001');
  }, 180_000);

  test('more studies arrive live; one without a usable PET series says why it is not applicable', async () => {
    if (!sharedData(MIP_PNGS).available) return;
    const { page } = browser;
    await sendSyntheticStudies(`${root}/dicomweb`);
    await page.waitForFunction(() => {
      const states = [...document.querySelectorAll('tr.study-row [data-state]')].map((e) => e.getAttribute('data-state'));
      return states.length === 3 && states.filter((s) => s === 'done').length === 2 && states.includes('not-applicable');
    }, undefined, { timeout: 150_000 });
    await expect(page.locator('tr.study-row:has([data-state="not-applicable"]) .reason').textContent()).resolves.toMatch(/fewer than 50/);
    await page.mouse.move(0, 0);
    await screenshot(page, 'worklist');
    // The study's analysis history keeps the reason of each run, not only its state.
    await page.locator('tr.study-row:has([data-state="not-applicable"])').click();
    await expect(page.locator('.card', { hasText: 'Analysis history' }).locator('.reason').first().textContent()).resolves.toMatch(/fewer than 50/);
    await page.goBack();
    await page.waitForSelector('tr.study-row [data-state="not-applicable"]');
  }, 180_000);

  test('the study view shows the MIP with its segmentation, and the SEG download is a DICOM file', async () => {
    const { page } = browser;
    await page.locator('tr.study-row', { hasText: 'STS_001' }).click();
    await waitForImages(page, '.mip-image, .mip-overlay');
    expect(await imagesLoaded(page, '.mip-image')).toBe(true);
    expect(await imagesLoaded(page, '.mip-overlay')).toBe(true);
    // The overlay must lie exactly on the image (same box), whatever the width of the controls below them.
    const boxes = await page.$$eval('.mip-image, .mip-overlay', (imgs) => imgs.map((i) => {
      const r = i.getBoundingClientRect();
      return [r.left, r.top, r.width, r.height].map(Math.round);
    }));
    expect(boxes[1]).toEqual(boxes[0]);
    await expect(page.locator('.lesion-count').textContent()).resolves.toMatch(/^\d+$|none found/);
    await expect(page.locator('.card').first().textContent()).resolves.toContain('mip-attention-unet');
    const href = await page.locator('a[data-download="SEG"]').getAttribute('href');
    const head = await page.evaluate(async (url) => {
      const res = await fetch(url);
      const bytes = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, type: res.headers.get('content-type'), magic: String.fromCharCode(...bytes.subarray(128, 132)) };
    }, href ?? '');
    expect(head).toEqual({ status: 200, type: 'application/dicom', magic: 'DICM' });
    await page.waitForSelector(`tr[data-destination="stow:${orthanc.dicomwebUrl}"] [data-export-state="sent"]`);
    await page.waitForSelector(`tr[data-destination="${downPacs}"] [data-export-state="failed"]`);
    await page.mouse.move(0, 0);
    await screenshot(page, 'study-view');
  }, 60_000);

  test('a failed export is sent again with Retry, and Run again makes result version 2', async () => {
    const { page } = browser;
    const down = page.locator(`tr[data-destination="${downPacs}"]`);
    await expect(down.locator('.reason').textContent()).resolves.toBeTruthy();
    const study = new URL(page.url()).pathname.split('/').pop() ?? '';
    const exportStatus = () => page.evaluate(async ([uid, dest]) => {
      const detail = (await (await fetch(`/api/worklist/studies/${uid}`)).json()) as { result: { exports: Array<{ destination: string; state: string; updatedAt: number }> } };
      return detail.result.exports.find((e) => e.destination === dest);
    }, [study, downPacs] as const);
    const before = await exportStatus();
    await down.locator('button', { hasText: 'Retry' }).click();
    await page.waitForSelector('.ok-box');
    // Sent again and, the PACS still being down, failed again on its one attempt: a newer failure.
    for (let after = await exportStatus(); !(after?.state === 'failed' && after.updatedAt > (before?.updatedAt ?? 0)); after = await exportStatus()) {
      await page.waitForTimeout(200);
    }
    await page.waitForSelector(`tr[data-destination="${downPacs}"] [data-export-state="failed"]`);
    await page.click('button[data-action="analyze"]');
    await page.waitForFunction(() => [...document.querySelectorAll('.facts dd')].some((dd) => dd.textContent === 'v2'), undefined, { timeout: 120_000 });
    await waitForImages(page, '.mip-image, .mip-overlay');
  }, 150_000);

  test('"Try a MIP image" shows the segmentation beside the upload and offers the mask', async () => {
    const png = sharedData(MIP_PNG);
    if (!png.available) return;
    const { page } = browser;
    await page.locator('a[data-nav="try"]').click();
    await page.setInputFiles('input[type="file"]', png.path);
    await page.waitForSelector('.try-result');
    await waitForImages(page, '.try-result img');
    const mask = await page.locator('a[data-download="mask"]').getAttribute('href');
    expect(mask).toMatch(/^data:image\/png;base64,iVBOR/);
    await screenshot(page, 'try-mip');
  }, 60_000);
});
