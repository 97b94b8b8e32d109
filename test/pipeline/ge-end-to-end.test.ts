import * as dicomParser from 'dicom-parser';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFrameValues, readPixelModule } from '@mipseg/shared/dicom';
import { readMultipartBody } from '@mipseg/shared/dicomweb';
import { componentAreas } from '@mipseg/shared/inference';
import { readSegMask } from '../../services/worker/src/dicom-output';
import { drawMipWithOutlines } from '../support/mip-overlay';
import { readRoiContours } from '../support/rtstruct';
import { listFiles, sendFiles } from '../../services/cli/src/send';
import { dciodvfy } from '../support/dicom-tools';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../support/mipseg-process';
import { startOrthanc, type OrthancServer } from '../support/orthanc';
import { waitForJobs, type ApiJob } from '../support/pipeline-wait';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
const RTSTRUCT = 'data/pet-dicom/ge-suv-reference-gtv-rtstruct.dcm';
const ARTIFACTS = join(__dirname, '..', '..', '.test-artifacts');
/** Regions besides the tumour a reader would still accept on a whole-body MIP (physiological uptake). */
const MAX_FALSE_REGIONS = 4;

/** The MIP image: SUV values (rescaled), size, top-left position and spacing. */
function readMip(bytes: Buffer) {
  const m = readPixelModule(bytes);
  const values = readFrameValues(bytes, m, 1);
  const suv = Float32Array.from(values, (v) => v * m.rescaleSlope + m.rescaleIntercept);
  const ds = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
  const origin = (ds.string('x00200032') ?? '').split('\\').map(Number) as [number, number, number];
  const spacing = (ds.string('x00280030') ?? '').split('\\').map(Number) as [number, number];
  return { width: m.columns, height: m.rows, suv, origin, spacing };
}
type Json = Record<string, { Value?: unknown[] }>;


async function retrieve(url: string): Promise<Buffer> {
  const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
  expect(res.status).toBe(200);
  const [part] = await readMultipartBody(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
  return part as Buffer;
}

describeWithSharedData(GE)('the GE whole-body series through the embedded pipeline', () => {
  let dataDir: string;
  let work: string;
  let orthanc: OrthancServer;
  let mipseg: MipsegProcess;
  let root: string;
  let done: ApiJob;
  let study: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-e2e-'));
    work = mkdtempSync(join(tmpdir(), 'mipseg-e2e-out-'));
    orthanc = await startOrthanc();
    mipseg = await startMipsegProcess({
      DATA_DIR: dataDir, QUIET_PERIOD_MS: '1500',
      EXPORT_DESTINATIONS: `stow:${orthanc.dicomwebUrl},dimse:${orthanc.aet}@127.0.0.1:${orthanc.dicomPort}`,
    });
    root = `http://127.0.0.1:${mipseg.httpPort}`;
    const files = (await listFiles(sharedData(GE).path)).filter((f) => f.endsWith('.dcm'));
    await sendFiles(files, { url: `${root}/dicomweb`, batchSize: 100, progress: false });
    const studies = (await (await fetch(`${root}/dicomweb/studies`)).json()) as Json[];
    study = String(studies[0]?.['0020000D']?.Value?.[0]);
    const jobs = await waitForJobs(root, study, (j) => j.some((x) => ['done', 'failed'].includes(x.state)));
    done = jobs[0] as ApiJob;
  }, 180_000);

  afterAll(async () => {
    await killAndWait(mipseg.child, 'SIGTERM');
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  test('one job completes, with per-stage timings', () => {
    expect(done.state).toBe('done');
    expect(done.failureReason).toBeNull();
    for (const stage of ['decode', 'suv', 'mip', 'inference', 'write', 'store']) expect(done.timingsMs[stage]).toBeGreaterThanOrEqual(0);
  });

  test('the MIP series and the SEG appear in QIDO and the study counts change', async () => {
    const series = (await (await fetch(`${root}/dicomweb/studies/${study}/series`)).json()) as Json[];
    const modalities = series.map((s) => s['00080060']?.Value?.[0]).sort();
    expect(modalities).toEqual(['PT', 'PT', 'SEG']);
    const [s] = (await (await fetch(`${root}/dicomweb/studies?StudyInstanceUID=${study}`)).json()) as Json[];
    expect(s?.['00080061']?.Value).toEqual(['PT', 'SEG']);
    expect(s?.['00201206']?.Value).toEqual([3]);
    expect(s?.['00201208']?.Value).toEqual([269]);
  });

  test('the MIP and the SEG pass dciodvfy with zero errors', async () => {
    const r = done.result as NonNullable<ApiJob['result']>;
    const mip = await retrieve(`${root}/dicomweb/studies/${study}/series/${r.mipSeriesInstanceUid}/instances/${r.mipSopInstanceUid}`);
    const seg = await retrieve(`${root}/dicomweb/studies/${study}/series/${r.segSeriesInstanceUid}/instances/${r.segSopInstanceUid}`);
    writeFileSync(join(work, 'mip.dcm'), mip);
    writeFileSync(join(work, 'seg.dcm'), seg);
    expect(dciodvfy(join(work, 'mip.dcm')).errors).toEqual([]);
    expect(dciodvfy(join(work, 'seg.dcm')).errors).toEqual([]);
  });

  test('the results reach Orthanc by STOW-RS and by C-STORE', async () => {
    const jobs = await waitForJobs(root, study, (j) => (j[0]?.exports ?? []).length === 2 && (j[0]?.exports ?? []).every((e) => e.state === 'sent'), 60_000);
    expect(jobs[0]?.exports.map((e) => e.state)).toEqual(['sent', 'sent']);
    const r = done.result as NonNullable<ApiJob['result']>;
    const found = await orthanc.rest<string[]>('POST', '/tools/find', { Level: 'Instance', Query: { SOPInstanceUID: r.segSopInstanceUid } });
    expect(found).toHaveLength(1);
    const mips = await orthanc.rest<string[]>('POST', '/tools/find', { Level: 'Instance', Query: { SOPInstanceUID: r.mipSopInstanceUid } });
    expect(mips).toHaveLength(1);
  });

  /** The SEG on the MIP grid and the expert GTV's footprint on it; draws both into a test artefact. */
  async function segAndGtv(): Promise<{ seg: Uint8Array; gtv: Uint8Array; width: number; height: number }> {
    const r = done.result as NonNullable<ApiJob['result']>;
    const mipBytes = await retrieve(`${root}/dicomweb/studies/${study}/series/${r.mipSeriesInstanceUid}/instances/${r.mipSopInstanceUid}`);
    const segBytes = await retrieve(`${root}/dicomweb/studies/${study}/series/${r.segSeriesInstanceUid}/instances/${r.segSopInstanceUid}`);
    const mip = readMip(mipBytes);
    const seg = readSegMask(segBytes);
    expect([seg.width, seg.height]).toEqual([mip.width, mip.height]);
    // The GTV's footprint on the MIP: each axial contour covers [xmin, xmax] on the row of its z.
    const gtv = new Uint8Array(mip.width * mip.height);
    for (const contour of readRoiContours(readFileSync(sharedData(RTSTRUCT).path), 'GTV_Mass_PET')) {
      const xs = contour.map((p) => p[0]);
      const row = Math.round((mip.origin[2] - (contour[0] as [number, number, number])[2]) / mip.spacing[0]);
      const c0 = Math.floor((Math.min(...xs) - mip.origin[0]) / mip.spacing[1]);
      const c1 = Math.ceil((Math.max(...xs) - mip.origin[0]) / mip.spacing[1]);
      for (let c = Math.max(0, c0); c <= Math.min(mip.width - 1, c1); c++) if (row >= 0 && row < mip.height) gtv[row * mip.width + c] = 1;
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'ge-mip-seg-gtv.png'), drawMipWithOutlines(mip.suv, mip.width, mip.height, 6, [
      // The SEG last, so that its outline shows where it lies over the GTV.
      { mask: gtv, rgb: [20, 170, 40] }, { mask: seg.mask, rgb: [220, 30, 30] },
    ]));
    return { seg: seg.mask, gtv, width: mip.width, height: mip.height };
  }

  test('the SEG lies on the MIP grid and flags no more regions outside the tumour than a reader accepts', async () => {
    const { seg, gtv, width, height } = await segAndGtv();
    expect(gtv.some((v) => v === 1)).toBe(true);
    const regions = componentAreas(seg, width, height).length;
    console.log(`GE series: SEG has ${regions} region(s); artefact ${join(ARTIFACTS, 'ge-mip-seg-gtv.png')}`);
    expect(regions).toBeLessThanOrEqual(MAX_FALSE_REGIONS + 1);
  });

  // Models 0.2.0 to 0.5.0 missed this soft-tissue sarcoma: 0.5.0's network responds (peak probability 0.95 inside
  // the GTV), but under the 0.98 seed that keeps healthy controls clean. From 0.5.1 an image that one region
  // confirms keeps its other regions at a laxer seed (0.7; model card, post-processing), and the sarcoma is found —
  // but what confirms this image is a false region (the ureter, peak >= 0.99), not the sarcoma: a model that no
  // longer marks the ureter may fail this test again, and the model card says so.
  test('the SEG touches the expert tumour contour (RTSTRUCT GTV_Mass_PET)', async () => {
    const { seg, gtv } = await segAndGtv();
    const inside = seg.reduce((n, v, i) => n + (v === 1 && gtv[i] === 1 ? 1 : 0), 0);
    console.log(`GE series: ${inside} SEG pixel(s) inside the GTV footprint of ${gtv.reduce((n, v) => n + v, 0)}`);
    expect(inside).toBeGreaterThan(0);
  });

  test('a re-send of the same series adds no job', async () => {
    const files = (await listFiles(sharedData(GE).path)).filter((f) => f.endsWith('.dcm')).slice(0, 20);
    await sendFiles(files, { url: `${root}/dicomweb`, batchSize: 100, progress: false });
    await new Promise((r) => setTimeout(r, 3000));
    const jobs = await waitForJobs(root, study, () => true);
    expect(jobs.filter((j) => j.id.startsWith('seg-'))).toHaveLength(1);
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
  });
});
