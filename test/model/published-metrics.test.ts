/**
 * @jest-environment ./test/model/onnx-runtime-environment.js
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forEachComponent, loadModel, type SegmentationModel } from '../../shared/src/inference';
import { dice, mean } from '../pipeline/synthetic/dice';
import { readLabelPng, readMipPng } from '../support/synthetic-pet';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { MODEL_DIR } from './model-test-support';

const MIP_PET = 'data/mip-pet';

/** The fixed split of training/data.py: every fifth case (number % 5 == 4) is a validation case. */
const isValidation = (file: string): boolean => Number(/_(\d+)\.png$/.exec(file)?.[1] ?? NaN) % 5 === 4;

interface PublishedMetrics {
  readonly patients: number;
  readonly controls: number;
  readonly patientMeanDice: number;
  readonly patientMedianDice: number;
  readonly patientsWithDiceBelow0_5: number;
  readonly controlsCleanShare: number;
  readonly controlFalsePositivePixelsMean: number;
  readonly lesionSensitivity: number;
  readonly lesions: number;
}

/** The middle value (the mean of the two middle ones for an even count), as numpy's median. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return Number.isInteger(middle) ? ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2 : sorted[Math.floor(middle)] as number;
}

/** (lesions the prediction touches, lesions): the 8-connected components of the label, as training/metrics.py counts them. */
function lesionHits(predicted: Uint8Array, label: Uint8Array, width: number, height: number): [number, number] {
  let hit = 0;
  let lesions = 0;
  forEachComponent(label, width, height, (pixels, area) => {
    lesions++;
    for (let k = 0; k < area; k++) {
      if (predicted[pixels[k] as number] !== 0) {
        hit++;
        break;
      }
    }
  });
  return [hit, lesions];
}

/**
 * The figures model.json and the model card publish (from training/evaluate.py, in PyTorch), reproduced from what
 * ships: model.onnx through the service's own inference (the PNG reader, the network, the threshold and the
 * component filter of the manifest), on every validation patient and control. A stale evaluation.json, or an
 * ONNX or TypeScript path that drifted from the PyTorch one, fails it.
 */
describeWithSharedData(MIP_PET)('the accuracy model.json publishes', () => {
  const root = sharedData(MIP_PET).path;
  let model: SegmentationModel;
  const published = (JSON.parse(readFileSync(join(MODEL_DIR, 'model.json'), 'utf8')) as { metrics: PublishedMetrics }).metrics;
  beforeAll(async () => {
    model = await loadModel(MODEL_DIR, { threads: 1, executionProvider: 'cpu' });
  });
  afterAll(() => model?.release());

  async function segmented(path: string): Promise<{ mask: Uint8Array; width: number; height: number }> {
    const image = readMipPng(path);
    return { mask: (await model.segment(image.data, image.width, image.height)).mask, width: image.width, height: image.height };
  }

  test('is what the shipped ONNX model scores through mipseg\'s inference: Dice, lesions touched, clean controls, false-positive pixels', async () => {
    const patients = readdirSync(join(root, 'patients', 'imgs')).filter((f) => f.endsWith('.png') && isValidation(f)).sort();
    const controls = readdirSync(join(root, 'controls', 'imgs')).filter((f) => f.endsWith('.png') && isValidation(f)).sort();
    expect([patients.length, controls.length]).toEqual([published.patients, published.controls]);
    const dices: number[] = [];
    let hit = 0;
    let lesions = 0;
    for (const file of patients) {
      const label = readLabelPng(join(root, 'patients', 'labels', file.replace('patient_', 'segmentation_')));
      const { mask, width, height } = await segmented(join(root, 'patients', 'imgs', file));
      dices.push(dice(mask, label));
      const [h, n] = lesionHits(mask, label, width, height);
      hit += h;
      lesions += n;
    }
    let clean = 0;
    let falsePositivePixels = 0;
    for (const file of controls) {
      const pixels = (await segmented(join(root, 'controls', 'imgs', file))).mask.reduce((sum, v) => sum + (v !== 0 ? 1 : 0), 0);
      if (pixels === 0) clean++;
      falsePositivePixels += pixels;
    }
    const reproduced = { patientMeanDice: mean(dices), controlsCleanShare: clean / controls.length };
    expect(Math.abs(reproduced.patientMeanDice - published.patientMeanDice)).toBeLessThan(1e-3);
    expect(Math.abs(median(dices) - published.patientMedianDice)).toBeLessThan(1e-3);
    expect(dices.filter((d) => d < 0.5).length).toBe(published.patientsWithDiceBelow0_5);
    expect(reproduced.controlsCleanShare).toBeCloseTo(published.controlsCleanShare, 9);
    expect(lesions).toBe(published.lesions);
    expect(Math.abs(hit / lesions - published.lesionSensitivity)).toBeLessThan(0.01);
    expect(Math.abs(falsePositivePixels / controls.length - published.controlFalsePositivePixelsMean)).toBeLessThan(1);
  }, 600_000);
});
