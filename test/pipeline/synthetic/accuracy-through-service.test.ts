import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readMultipartBody } from '@mipseg/shared/dicomweb';
import { loadModel, type SegmentationModel } from '@mipseg/shared/inference';
import { readSegMask, type SegMask } from '../../../services/worker/src/dicom-output';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../../support/mipseg-process';
import { waitForJobs, type ApiJob } from '../../support/pipeline-wait';
import { describeWithSharedData, sharedData } from '../../support/shared-data';
import { readLabelPng, readMipPng, syntheticPetSeries } from '../../support/synthetic-pet';
import { dice, mean } from './dice';
import { storeInstances } from './store-instances';

/**
 * The model's accuracy through the whole service equals its accuracy on the PNGs: each validation patient's
 * MIP PNG becomes a synthetic PET series (test/support/synthetic-pet.ts), goes in by STOW-RS, and the SEG
 * that comes back is scored against the label, beside the model run on the PNG itself.
 */
const MODEL_DIR = resolve(__dirname, '..', '..', '..', 'models', 'mip-attention-unet');
const ARTIFACTS = resolve(__dirname, '..', '..', '..', '.test-artifacts', 'pipeline-synthetic');
const PATIENTS = 'data/mip-pet/patients';
/** How many validation patients (case number % 5 == 4, not trained on); MIPSEG_ACCURACY_PATIENTS overrides. */
const PATIENT_COUNT = Number(process.env['MIPSEG_ACCURACY_PATIENTS'] ?? 20);
const TOLERANCE = 0.02;
const AP_ROWS = 64;
const BATCH_SIZE = 200;

interface PatientResult {
  readonly patient: string;
  readonly studyInstanceUid: string;
  readonly slices: number;
  readonly width: number;
  readonly height: number;
  readonly pngDice: number;
  readonly pngMask: Uint8Array;
  serviceDice?: number;
  seg?: SegMask;
}

type JobWithRequest = ApiJob & { request: { instanceCount: number } | null };

/** The first `count` validation patients present (case numbers are not contiguous). */
function validationPatients(imgs: string, count: number): string[] {
  return readdirSync(imgs).map((f) => /^patient_(\d{3})\.png$/.exec(f)?.[1]).filter((n): n is string => n !== undefined)
    .filter((n) => Number(n) % 5 === 4).sort().slice(0, count);
}

async function retrieveInstance(url: string): Promise<Buffer> {
  const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
  if (res.status !== 200) throw new Error(`WADO-RS ${url} answered ${res.status}`);
  const [part] = await readMultipartBody(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
  return part as Buffer;
}

/** Pixels where the SEG's mask and the mask of the model run on the PNG differ. */
function differingPixels(r: PatientResult): number {
  const seg = r.seg?.mask;
  if (!seg || seg.length !== r.pngMask.length) return NaN;
  let n = 0;
  for (let i = 0; i < seg.length; i++) if (seg[i] !== r.pngMask[i]) n++;
  return n;
}

function resultTable(results: readonly PatientResult[]): string {
  const difference = (r: PatientResult) => Math.abs((r.serviceDice ?? NaN) - r.pngDice);
  const rows = results.map((r) => `| ${r.patient} | ${r.width}×${r.height} | ${r.pngDice.toFixed(4)} | ` +
    `${(r.serviceDice ?? NaN).toFixed(4)} | ${difference(r).toFixed(4)} | ${differingPixels(r)} |`);
  return ['| patient | MIP (= slices) | Dice on the PNG | Dice through the service | difference | mask pixels differing |',
    '| --- | ---: | ---: | ---: | ---: | ---: |', ...rows,
    `| mean of ${results.length} | | ${mean(results.map((r) => r.pngDice)).toFixed(4)} | ` +
    `${mean(results.map((r) => r.serviceDice ?? NaN)).toFixed(4)} | ${mean(results.map(difference)).toFixed(4)} | ` +
    `${results.reduce((n, r) => n + differingPixels(r), 0)} (total) |`].join('\n');
}

describeWithSharedData(PATIENTS)(`the model's Dice through the service (STOW-RS → SEG) equals its Dice on the PNGs`, () => {
  const imgs = join(sharedData(PATIENTS).path, 'imgs');
  const labels = join(sharedData(PATIENTS).path, 'labels');
  let dataDir: string;
  let mipseg: MipsegProcess;
  let model: SegmentationModel;
  let root: string;
  const results: PatientResult[] = [];

  /** Generates and sends one patient's series (the service starts on it while the next is made), then scores the PNG. */
  async function sendAndScorePng(patient: string): Promise<PatientResult> {
    const png = readMipPng(join(imgs, `patient_${patient}.png`));
    const series = syntheticPetSeries(png, { suvWhite: model.manifest.input.intensity.fromSuv.suvWhite as number,
      pixelSpacingMm: model.manifest.input.pixelSpacingMm, apRows: AP_ROWS, patientId: `SYN-${patient}` });
    await storeInstances(`${root}/dicomweb`, series.instances, BATCH_SIZE);
    const { mask } = await model.segment(png.data, png.width, png.height);
    return { patient, studyInstanceUid: series.studyInstanceUid, slices: series.instances.length, width: png.width, height: png.height,
      pngDice: dice(mask, readLabelPng(join(labels, `segmentation_${patient}.png`))), pngMask: mask };
  }

  async function scoreService(result: PatientResult): Promise<void> {
    // The job that analysed the whole series (a quiet period ending mid-send would add a partial one first).
    const complete = (j: ApiJob) => j.state === 'done' && (j as JobWithRequest).request?.instanceCount === result.slices;
    const jobs = await waitForJobs(root, result.studyInstanceUid, (js) => js.some(complete) || js.some((j) => j.state === 'failed'), 240_000);
    const job = jobs.find(complete);
    if (!job?.result) throw new Error(`patient ${result.patient}: no complete job: ${JSON.stringify(jobs).slice(0, 1000)}`);
    const r = job.result;
    const seg = readSegMask(await retrieveInstance(
      `${root}/dicomweb/studies/${r.studyInstanceUid}/series/${r.segSeriesInstanceUid}/instances/${r.segSopInstanceUid}`));
    result.seg = seg;
    result.serviceDice = dice(seg.mask, readLabelPng(join(labels, `segmentation_${result.patient}.png`)));
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-accuracy-'));
    mipseg = await startMipsegProcess({ DATA_DIR: dataDir, QUIET_PERIOD_MS: '2000', DIMSE_ENABLED: 'false' });
    root = `http://127.0.0.1:${mipseg.httpPort}`;
    model = await loadModel(MODEL_DIR, { threads: 1, executionProvider: 'cpu' });
    for (const patient of validationPatients(imgs, PATIENT_COUNT)) results.push(await sendAndScorePng(patient));
    for (const result of results) await scoreService(result);
    const table = resultTable(results);
    console.log(`Dice per validation patient (model ${model.manifest.version}):\n${table}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'accuracy-through-service.md'), `${table}\n`);
  }, 600_000);

  afterAll(async () => {
    await model?.release();
    if (mipseg) await killAndWait(mipseg.child, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test(`scores ${PATIENT_COUNT} validation patients, each SEG on the PNG's own grid`, () => {
    expect(results).toHaveLength(PATIENT_COUNT);
    for (const r of results) expect([r.seg?.width, r.seg?.height]).toEqual([r.width, r.height]);
  });

  test(`per patient, |Dice through the service − Dice on the PNG| averages at most ${TOLERANCE}`, () => {
    expect(mean(results.map((r) => Math.abs((r.serviceDice as number) - r.pngDice)))).toBeLessThanOrEqual(TOLERANCE);
  });

  test(`the mean Dice through the service is within ${TOLERANCE} of the mean on the PNGs`, () => {
    const difference = mean(results.map((r) => r.serviceDice as number)) - mean(results.map((r) => r.pngDice));
    expect(Math.abs(difference)).toBeLessThanOrEqual(TOLERANCE);
  });
});
