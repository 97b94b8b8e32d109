import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { readModelManifest } from '@mipseg/shared/inference';
import {
  buildMipFromInstances, mipToPatient, renderCoronalMip, type CoronalMip, type MipFromInstances, type MipManifestInput,
} from '../../../services/worker/src/mip';
import { assembleSuvVolume } from '../../../services/worker/src/suv';
import { parseInstance, readNumbers, type DataSet } from '../../../services/worker/src/volume';
import { describeWithSharedData, sharedData } from '../../support/shared-data';
import { GE_GTV_RTSTRUCT, GE_SERIES, readDicomFolder } from './ge-series-files';

const MODEL_DIR = resolve(__dirname, '..', '..', '..', 'models', 'mip-attention-unet');
const ARTIFACTS = resolve(__dirname, '..', '..', '..', '.test-artifacts', 'pipeline-volume');

/** The hottest pixel among rows [from, to). */
function hottest(mip: CoronalMip, from: number, to: number): { suv: number; row: number; col: number } {
  let best = { suv: -Infinity, row: -1, col: -1 };
  for (let row = from; row < to; row++) {
    for (let col = 0; col < mip.width; col++) {
      const suv = mip.suv[row * mip.width + col] as number;
      if (suv > best.suv) best = { suv, row, col };
    }
  }
  return best;
}

/** Mean patient position of every contour point of an RTSTRUCT (ROIContourSequence > ContourSequence). */
function contourCentroid(ds: DataSet): [number, number, number] {
  const items = (set: DataSet, tag: string): DataSet[] => (set.elements[tag]?.items ?? []).flatMap((i) => (i.dataSet ? [i.dataSet] : []));
  const points = items(ds, 'x30060039').flatMap((roi) => items(roi, 'x30060040')).flatMap((c) => readNumbers(c, '30060050') ?? []);
  const mean = (axis: number): number => {
    const values = points.filter((_, i) => i % 3 === axis);
    return values.reduce((a, b) => a + b, 0) / values.length;
  };
  return [mean(0), mean(1), mean(2)];
}

/** The MIP as a DM i AI style PNG (inverted grey: uptake dark), to look at beside the training images. */
function writeInvertedPng(mip: CoronalMip, path: string): void {
  const png = new PNG({ width: mip.width, height: mip.height });
  mip.input.forEach((x, i) => {
    const grey = Math.round(255 * (1 - x));
    png.data.fill(grey, 4 * i, 4 * i + 3);
    png.data[4 * i + 3] = 255;
  });
  writeFileSync(path, PNG.sync.write(png));
}

describeWithSharedData(GE_SERIES)('coronal MIP of the GE whole-body series', () => {
  let result: MipFromInstances;
  let manifestInput: MipManifestInput;

  beforeAll(async () => {
    manifestInput = (await readModelManifest(MODEL_DIR)).input;
    result = buildMipFromInstances(readDicomFolder(sharedData(GE_SERIES).path), manifestInput);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeInvertedPng(result.mip, join(ARTIFACTS, 'ge-coronal-mip.png'));
  });

  test('covers the 600 x 873 mm field of view at the model\'s 2 mm pixels, centred on it', () => {
    const { mip } = result;
    expect([mip.width, mip.height]).toEqual([Math.round((128 * 4.6875) / 2), Math.round((267 * 3.27) / 2)]);
    expect(mip.pixelSpacingMm).toEqual([2, 2]);
    expect(mip.imageOrientationPatient).toEqual([1, 0, 0, 0, 0, -1]);
    const [left, top] = mipToPatient(mip, 0, 0);
    const [right, bottom] = mipToPatient(mip, mip.height - 1, mip.width - 1);
    expect((left + right) / 2).toBeCloseTo(-297.65625 + (127 * 4.6875) / 2, 6);
    expect((top + bottom) / 2).toBeCloseTo((-11.48 - 881.3) / 2, 4);
    expect(top).toBeGreaterThan(bottom);
    expect(mip.input.every((x) => x >= 0 && x <= 1)).toBe(true);
  });

  test('is upright: brain at the top, bladder (the hottest pixel) low and central', () => {
    const { mip } = result;
    expect(hottest(mip, 0, 10).suv).toBeGreaterThan(8);
    const bladder = hottest(mip, 0, mip.height);
    expect(bladder.row / mip.height).toBeGreaterThan(0.65);
    expect(bladder.row / mip.height).toBeLessThan(0.85);
    expect(Math.abs(bladder.col - mip.width / 2)).toBeLessThan(mip.width * 0.1);
  });

  test('has the patient\'s right on the image left: the heart shows right of centre', () => {
    const { mip } = result;
    const heart = hottest(mip, Math.round(mip.height * 0.25), Math.round(mip.height * 0.4));
    expect(heart.suv).toBeGreaterThan(8);
    expect(heart.col).toBeGreaterThan(mip.width / 2);
    expect(mipToPatient(mip, heart.row, heart.col)[0]).toBeGreaterThan(0);
  });

  describeWithSharedData(GE_GTV_RTSTRUCT)('and the expert tumour contour', () => {
    test('the contour\'s centre falls on uptake in the left thigh of the MIP', () => {
      const { mip } = result;
      const [x, , z] = contourCentroid(parseInstance(new Uint8Array(readFileSync(sharedData(GE_GTV_RTSTRUCT).path))));
      const [x0, z0] = mipToPatient(mip, 0, 0);
      const row = Math.round((z0 - z) / 2);
      const col = Math.round((x - x0) / 2);
      expect(col).toBeGreaterThan(mip.width / 2);
      const local = hottest(mip, row - 5, row + 6);
      expect(Math.abs(local.col - col)).toBeLessThan(15);
      expect(local.suv).toBeGreaterThan(4);
    });
  });

  test('is the MIP of the whole SUVbw volume: projecting each slice as it is decoded changes no value', () => {
    const { volume, scaleFactors } = assembleSuvVolume(readDicomFolder(sharedData(GE_SERIES).path));
    const whole = renderCoronalMip(volume, { pixelSpacingMm: manifestInput.pixelSpacingMm,
      suvWhite: manifestInput.intensity.fromSuv.suvWhite as number });
    expect(result.suvScaleFactors).toEqual(scaleFactors);
    expect(result.grid.instances).toEqual(volume.instances);
    expect(result.mip).toEqual(whole);
  });

  test('reports a time for each stage', () => {
    for (const stage of ['decode', 'suv', 'mip'] as const) expect(result.timingsMs[stage]).toBeGreaterThan(0);
  });
});
