import { listFiles, sendFiles } from '../../services/cli/src/send';
import { findOhifDist } from '../../services/gateway/src/worklist/ohif-viewer';
import { sharedData } from '../support/shared-data';
import { launchChromium } from './chromium';
import { screenshot } from './screenshots';
import { REPO, startWorklistServer, type WorklistServer } from './worklist-server';

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
    // WebGL through SwiftShader (see /work/shared/docs/browser-testing.md): no --disable-gpu here.
    const browser = await launchChromium({ width: 1280, height: 800 }, ['--enable-unsafe-swiftshader', '--use-angle=swiftshader']);
    try {
      await browser.page.goto(`${server.root}/viewer?StudyInstanceUIDs=${uid}`);
      await browser.page.waitForSelector('canvas.cornerstone-canvas', { timeout: 90_000 });
      await browser.page.waitForTimeout(3000);
      await screenshot(browser.page, 'ohif-viewer');
    } finally {
      await browser.close();
    }
  }, 150_000);
});
