import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelManifest } from '@mipseg/shared/inference';
import { listFiles, sendFiles } from '../../services/cli/src/send';
import { readSourceSeriesContext, writeMipInstance, writeSegInstance } from '../../services/worker/src/dicom-output';
import { buildMipFromInstances } from '../../services/worker/src/mip';
import { postStow } from '../support/stow';
import { findOhifDist } from '../../services/gateway/src/worklist/ohif-viewer';
import { sharedData } from '../support/shared-data';
import { launchChromium } from './chromium';
import { screenshot } from './screenshots';
import { MODEL_DIR, REPO, startWorklistServer, type WorklistServer } from './worklist-server';

const OHIF = findOhifDist(REPO);
const GE = 'data/pet-dicom/ge-discovery-st-wholebody';

describe('/viewer when @ohif/app is not installed', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer();
  });
  afterAll(() => server.stop());

  test('explains how to install it', async () => {
    const res = await fetch(`${server.root}/viewer?StudyInstanceUIDs=1.2.3`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('npm run install:ohif');
  });
});

describe('/viewer (any OHIF build)', () => {
  let server: WorklistServer;
  let dist: string;
  beforeAll(async () => {
    dist = await mkdtemp(join(tmpdir(), 'mipseg-ohif-'));
    await writeFile(join(dist, 'index.html'), '<!doctype html><title>OHIF</title>');
    server = await startWorklistServer({}, dist);
  });
  afterAll(async () => {
    await server.stop();
    await rm(dist, { recursive: true, force: true });
  });

  test('may be framed by the worklist\'s own origin only', async () => {
    const page = await fetch(`${server.root}/viewer?StudyInstanceUIDs=1.2.3`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe("frame-ancestors 'self'");
    expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const byName = await fetch(`${server.root}/index.html`);
    expect([byName.status, byName.headers.get('x-frame-options')]).toEqual([200, 'SAMEORIGIN']);
  });
});

if (!OHIF) console.warn('SKIPPED: @ohif/app is not installed (npm run install:ohif), so the OHIF viewer tests do not run');

(OHIF ? describe : describe.skip)('/viewer with @ohif/app installed', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer({}, OHIF);
  });
  afterAll(() => server.stop());

  test('serves the viewer, its bundles and a configuration that points at our own DICOMweb', async () => {
    const page = await fetch(`${server.root}/viewer?StudyInstanceUIDs=1.2.3`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('OHIF');
    const config = await (await fetch(`${server.root}/app-config.js`)).text();
    expect(config).toContain(`"qidoRoot": "${server.root}/dicomweb"`);
    expect((await fetch(`${server.root}/manifest.json`)).status).toBe(200);
  });

  const ge = sharedData(GE);
  (ge.available ? test : test.skip)('shows a PET study sent to mipseg', async () => {
    const files = (await listFiles(ge.path)).filter((f) => f.endsWith('.dcm'));
    await sendFiles(files, { url: `${server.root}/dicomweb`, batchSize: 100, progress: false });
    const studies = (await (await fetch(`${server.root}/dicomweb/studies`)).json()) as Array<Record<string, { Value?: string[] }>>;
    const uid = studies[0]?.['0020000D']?.Value?.[0] ?? '';
    // mipseg's results for the study, written by the worker's own code: the MIP and a SEG on it.
    const instances = await Promise.all(files.map((f) => readFile(f)));
    const { mip } = buildMipFromInstances(instances, (await readModelManifest(MODEL_DIR)).input);
    const context = readSourceSeriesContext(instances);
    const equipment = { manufacturerModelName: 'mipseg', softwareVersions: 'test', deviceSerialNumber: 'test' };
    const written = writeMipInstance(mip, context, { equipment });
    const mask = Uint8Array.from(mip.suv, (v) => (v > 5 ? 1 : 0));
    const seg = writeSegInstance(mask, { sopClassUid: written.sopClassUid, sopInstanceUid: written.sopInstanceUid,
      seriesInstanceUid: written.seriesInstanceUid, geometry: mip }, context,
    { equipment, algorithm: { name: 'test', version: '1', description: 'threshold' } });
    expect((await postStow(`${server.root}/dicomweb/studies`, [written.bytes, seg.bytes])).status).toBe(200);
    // WebGL through SwiftShader (see /work/shared/docs/browser-testing.md): no --disable-gpu here.
    const browser = await launchChromium({ width: 1280, height: 800 }, ['--enable-unsafe-swiftshader', '--use-angle=swiftshader']);
    try {
      const errors: string[] = [];
      browser.page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      browser.page.on('pageerror', (e) => errors.push(e.message));
      await browser.page.goto(`${server.root}/viewer?StudyInstanceUIDs=${uid}`);
      await browser.page.waitForSelector('canvas.cornerstone-canvas', { timeout: 90_000 });
      await browser.page.waitForTimeout(3000);
      // The study browser lists the PET series and mipseg's SEG (by its series description).
      const text = await browser.page.locator('body').innerText();
      expect(text).toMatch(/SEG/);
      expect(text).toContain('Tumour SEG');
      // OHIF's first-visit tour covers the page: close it, then open the SEG (a double click on its thumbnail).
      await browser.page.keyboard.press('Escape');
      await browser.page.evaluate(() => document.querySelectorAll('.shepherd-modal-overlay-container, .shepherd-element').forEach((e) => e.remove()));
      await browser.page.getByText('Tumour SEG').first().dblclick();
      await browser.page.waitForTimeout(8000);
      await screenshot(browser.page, 'ohif-viewer');
      console.log(`OHIF console errors while loading the study and its SEG: ${errors.length}${errors.length ? `: ${errors.slice(0, 3).join(' | ')}` : ''}`);
      expect(errors.filter((e) => /seg|segmentation/i.test(e))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 150_000);
});
