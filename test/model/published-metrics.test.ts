/**
 * @jest-environment ./test/model/onnx-runtime-environment.js
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type SegmentationModel } from '../../shared/src/inference';
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
  readonly controlsCleanShare: number;
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

  async function maskOf(path: string): Promise<Uint8Array> {
    const image = readMipPng(path);
    return (await model.segment(image.data, image.width, image.height)).mask;
  }

  test('is what the shipped ONNX model scores through mipseg\'s inference: validation patients\' mean Dice, clean controls', async () => {
    const patients = readdirSync(join(root, 'patients', 'imgs')).filter((f) => f.endsWith('.png') && isValidation(f)).sort();
    const controls = readdirSync(join(root, 'controls', 'imgs')).filter((f) => f.endsWith('.png') && isValidation(f)).sort();
    expect([patients.length, controls.length]).toEqual([published.patients, published.controls]);
    const dices: number[] = [];
    for (const file of patients) {
      const label = readLabelPng(join(root, 'patients', 'labels', file.replace('patient_', 'segmentation_')));
      dices.push(dice(await maskOf(join(root, 'patients', 'imgs', file)), label));
    }
    let clean = 0;
    for (const file of controls) if (!(await maskOf(join(root, 'controls', 'imgs', file))).some((v) => v !== 0)) clean++;
    const reproduced = { patientMeanDice: mean(dices), controlsCleanShare: clean / controls.length };
    expect(Math.abs(reproduced.patientMeanDice - published.patientMeanDice)).toBeLessThan(1e-3);
    expect(reproduced.controlsCleanShare).toBeCloseTo(published.controlsCleanShare, 9);
  }, 600_000);
});
