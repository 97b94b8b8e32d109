import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { readModelManifest, type ModelInput, type ModelManifest } from '@mipseg/shared/inference';
import { buildMipFromInstances, mipToPatient, type MipFromInstances } from '../../../services/worker/src/mip';
import { dciodvfy } from '../../support/dicom-tools';
import { describeWithSharedData, sharedData } from '../../support/shared-data';
import { bqmlPerSuv, readMipPng, syntheticPetSeries, type SyntheticPetSeries } from '../../support/synthetic-pet';

const MODEL_DIR = resolve(__dirname, '..', '..', '..', 'models', 'mip-attention-unet');
const ARTIFACTS = resolve(__dirname, '..', '..', '..', '.test-artifacts', 'pipeline-synthetic');
const PATIENTS = 'data/mip-pet/patients';
const PATIENT = '004';

/** The PNG, the rendered MIP and their difference ×20, side by side, as inverted grey like the PNGs. */
function writeSideBySide(png: ModelInput, mip: Float32Array, path: string): void {
  const { width, height } = png;
  const out = new PNG({ width: 3 * width, height });
  const put = (x: number, y: number, value: number) => {
    const i = 4 * (y * out.width + x);
    out.data.fill(Math.round(255 * (1 - Math.min(1, Math.max(0, value)))), i, i + 3);
    out.data[i + 3] = 255;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const k = y * width + x;
      put(x, y, png.data[k] as number);
      put(width + x, y, mip[k] as number);
      put(2 * width + x, y, 20 * Math.abs((mip[k] as number) - (png.data[k] as number)));
    }
  }
  writeFileSync(path, PNG.sync.write(out));
}

describeWithSharedData(PATIENTS)('a synthetic PET series made from a DM i AI MIP', () => {
  let manifest: ModelManifest;
  let png: ModelInput;
  let series: SyntheticPetSeries;
  let built: MipFromInstances;

  beforeAll(async () => {
    manifest = await readModelManifest(MODEL_DIR);
    png = readMipPng(join(sharedData(PATIENTS).path, 'imgs', `patient_${PATIENT}.png`));
    series = syntheticPetSeries(png, { suvWhite: manifest.input.intensity.fromSuv.suvWhite as number,
      pixelSpacingMm: manifest.input.pixelSpacingMm, apRows: 64 });
    built = buildMipFromInstances(series.instances, manifest.input);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeSideBySide(png, built.mip.input, join(ARTIFACTS, `patient_${PATIENT}-png-mip-diff.png`));
  });

  test('has one 2 mm axial slice per image row, and mipseg renders its MIP on the PNG\'s grid', () => {
    const { mip } = built;
    expect(series.instances).toHaveLength(png.height);
    expect([mip.width, mip.height]).toEqual([png.width, png.height]);
    expect(mip.pixelSpacingMm).toEqual([2, 2]);
    const [x0, z0] = series.topLeftPatient;
    const [left, top] = mipToPatient(mip, 0, 0);
    const [right, bottom] = mipToPatient(mip, png.height - 1, png.width - 1);
    expect([left, top]).toEqual([x0, z0]);
    expect(right - left).toBeCloseTo(2 * (png.width - 1), 6);
    expect(top - bottom).toBeCloseTo(2 * (png.height - 1), 6);
  });

  test('gets SUV factors that turn its Bq/ml back into the intended SUV (70 kg, 350 MBq, 1 h uptake)', () => {
    for (const f of built.suvScaleFactors) expect(f * bqmlPerSuv()).toBeCloseTo(1, 9);
  });

  test('reproduces the PNG\'s network input at every pixel, edges included, to its 16-bit quantization (far inside 1/255)', () => {
    const { input } = built.mip;
    let worst = 0;
    for (let i = 0; i < input.length; i++) worst = Math.max(worst, Math.abs((input[i] as number) - (png.data[i] as number)));
    expect(worst).toBeLessThan(1e-4);
  });

  test('is a valid PET image series by dciodvfy (no errors)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-synthetic-'));
    try {
      const path = join(dir, 'slice.dcm');
      writeFileSync(path, series.instances[Math.floor(series.instances.length / 2)] as Buffer);
      expect(dciodvfy(path).errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
