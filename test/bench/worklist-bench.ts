/**
 * Worklist benchmark: 5,000 studies in the index (rows written straight into a fresh DATA_DIR, with jobs in
 * every AI state), `mipseg serve` on it, then
 *   - GET /api/worklist for the first page, the last page and each kind of search, against QIDO-RS
 *     /dicomweb/studies?limit=50 on the same index (the peer: what any DICOMweb worklist would ask), and
 *   - the first page's render time in Chromium: from navigation start to 50 rows on screen, cold and warm.
 * Prints a Markdown table. Run: `npm run bench:worklist` (`-- --studies 20000` for another size).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { EmbeddedJobQueue, type ResultUids } from '@mipseg/shared/queue';
import { SqliteArchiveIndex } from '@mipseg/shared/store';
import { killAndWait, startMipsegProcess } from '../support/mipseg-process';
import { launchChromium } from '../worklist/chromium';
import { indexSyntheticStudy, syntheticStudy } from '../worklist/synthetic-studies';
import { REPO } from '../worklist/worklist-server';

const log = (message: string) => process.stderr.write(`${message}\n`);
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const STUDIES = arg('studies', 5000);
const API_REPS = arg('reps', 40);
const PAGE_LOADS = arg('loads', 6);

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const fakeResult = (study: string): ResultUids => ({
  studyInstanceUid: study, mipSeriesInstanceUid: `${study}.8`, mipSopInstanceUid: `${study}.8.1`, segSeriesInstanceUid: `${study}.9`,
  segSopInstanceUid: `${study}.9.1`, lesionCount: 3, tumourAreaMm2: 1250, modelName: 'mip-attention-unet', modelVersion: 'bench',
});

/** The index and the job store of a fresh DATA_DIR: most studies done, some not applicable, failed or queued, some never analysed. */
async function seed(dataDir: string): Promise<void> {
  const index = new SqliteArchiveIndex(join(dataDir, 'index.sqlite'));
  for (let i = 0; i < STUDIES; i++) indexSyntheticStudy(index, syntheticStudy(i));
  index.close();
  const retry = { attempts: 1, baseDelayMs: 10 };
  const queue = new EmbeddedJobQueue(join(dataDir, 'jobs.sqlite'), pino({ level: 'silent' }), { analysisRetry: retry, exportRetry: retry,
    exportDestinations: [], pollMs: 10 });
  const study = (i: number) => syntheticStudy(i).studyInstanceUid;
  const request = (i: number) => ({ studyInstanceUid: study(i), seriesInstanceUid: `${study(i)}.2`, sopInstanceUids: [`${study(i)}.2.1`],
    contentHash: 'bench', reason: 'study-complete' as const, version: 1 });
  for (let i = 0; i < STUDIES; i++) {
    if (i % 10 < 7) await queue.enqueueAnalysis(`bench-${i}`, request(i));
    else if (i % 10 === 7) await queue.recordNotApplicable(`bench-na-${i}`, study(i), 'no PET series with attenuation and decay correction');
  }
  queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (_id, r) => Promise.resolve(fakeResult(r.studyInstanceUid)) },
    { concurrency: STUDIES, studyChecks: false, analyses: true });
  while ((await queue.listJobs({ state: 'queued', limit: 1, offset: 0 })).length > 0) await new Promise((r) => setTimeout(r, 50));
  await queue.close();
}

async function timeGet(url: string, reps: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < reps + 3; i++) {
    const t = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    if (i >= 3) times.push(performance.now() - t); // three warm-up requests
  }
  return times;
}

interface Row { readonly what: string; readonly times: readonly number[] }

function table(rows: readonly Row[]): string {
  const lines = ['| measurement | median (ms) | p95 (ms) | n |', '| --- | ---: | ---: | ---: |'];
  for (const r of rows) lines.push(`| ${r.what} | ${percentile(r.times, 50).toFixed(1)} | ${percentile(r.times, 95).toFixed(1)} | ${r.times.length} |`);
  return lines.join('\n');
}

async function renderTimes(root: string): Promise<{ cold: number[]; warm: number[]; nextPage: number[] }> {
  const browser = await launchChromium();
  const rendered = () => browser.page.waitForFunction(() => document.querySelectorAll('tr.study-row').length >= 50, undefined, { timeout: 60_000 });
  const sinceNavigation = () => browser.page.evaluate(() => performance.now());
  const cold: number[] = [];
  const warm: number[] = [];
  const nextPage: number[] = [];
  try {
    for (let i = 0; i < PAGE_LOADS; i++) {
      const cdp = await browser.context.newCDPSession(browser.page);
      await cdp.send('Network.clearBrowserCache'); // cold: assets fetched again
      await browser.page.goto(`${root}/`);
      await rendered();
      cold.push(await sinceNavigation());
      await browser.page.goto(`${root}/`); // warm: assets from the cache (immutable)
      await rendered();
      warm.push(await sinceNavigation());
      const first = await browser.page.locator('tr.study-row').first().getAttribute('data-study-uid');
      const t = await sinceNavigation();
      await browser.page.click('text=Next ›');
      await browser.page.waitForFunction((uid) => document.querySelector('tr.study-row')?.getAttribute('data-study-uid') !== uid, first);
      nextPage.push((await sinceNavigation()) - t);
    }
  } finally {
    await browser.close();
  }
  return { cold, warm, nextPage };
}

async function main(): Promise<void> {
  const built = spawnSync('npm', ['run', '-s', 'build'], { cwd: REPO, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('npm run build failed');
  const dataDir = mkdtempSync(join(tmpdir(), 'mipseg-worklist-bench-'));
  try {
    let t = performance.now();
    await seed(dataDir);
    log(`seeded ${STUDIES} studies (${STUDIES * 4} instances) and their jobs in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const mipseg = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false', JOB_ATTEMPTS: '1' });
    try {
      const root = `http://127.0.0.1:${mipseg.httpPort}`;
      const api = (q: string) => timeGet(`${root}/api/worklist?${q}`, API_REPS);
      const rows: Row[] = [
        { what: 'QIDO-RS /dicomweb/studies?limit=50 (peer)', times: await timeGet(`${root}/dicomweb/studies?limit=50`, API_REPS) },
        { what: 'GET /api/worklist, first page of 50', times: await api('limit=50') },
        { what: 'GET /api/worklist, last page', times: await api(`limit=50&offset=${STUDIES - 50}`) },
        { what: 'GET /api/worklist?state=done (70 % of studies)', times: await api('state=done&limit=50') },
        { what: 'GET /api/worklist?patient=garc (name part)', times: await api('patient=garc&limit=50') },
        { what: 'GET /api/worklist?patient=MRN1000 (ID prefix)', times: await api('patient=MRN1000&limit=50') },
        { what: 'GET /api/worklist?from=&to= (one month)', times: await api('from=2025-05-01&to=2025-05-31&limit=50') },
      ];
      t = performance.now();
      const render = await renderTimes(root);
      log(`browser measurements in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      rows.push({ what: 'Chromium: navigation → 50 rows, cold cache', times: render.cold },
        { what: 'Chromium: navigation → 50 rows, warm cache', times: render.warm },
        { what: 'Chromium: "Next ›" → next 50 rows', times: render.nextPage });
      process.stdout.write(`\nWorklist with ${STUDIES} studies (${STUDIES * 4} instances), mipseg serve, Node ${process.version}\n\n${table(rows)}\n`);
    } finally {
      await killAndWait(mipseg.child, 'SIGTERM');
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
