import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMipsegError } from '../../shared/src/errors';
import {
  loadModel,
  MODEL_MANIFEST_FILE,
  MODEL_MANIFEST_SCHEMA_FILE,
  readModelManifest,
  validateModelManifest,
} from '../../shared/src/inference';
import { MODEL_DIR } from './model-test-support';

type JsonObject = { [key: string]: unknown };

const readJson = (name: string): JsonObject => JSON.parse(readFileSync(join(MODEL_DIR, name), 'utf8')) as JsonObject;
const sha256 = (name: string): string => createHash('sha256').update(readFileSync(join(MODEL_DIR, name))).digest('hex');

/** Sets (or, with undefined, deletes) the dotted `path` of the committed manifest and expects a refusal. */
function expectRefused(path: string, value: unknown, detail: RegExp): void {
  const manifest = readJson(MODEL_MANIFEST_FILE);
  const keys = path.split('.');
  const last = keys.pop() as string;
  const parent = keys.reduce((node, key) => node[key] as JsonObject, manifest);
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  let caught: unknown;
  try {
    validateModelManifest(manifest, readJson(MODEL_MANIFEST_SCHEMA_FILE));
  } catch (err) {
    caught = err;
  }
  expect(isMipsegError(caught, 'MIPSEG_MODEL_INVALID')).toBe(true);
  expect((caught as Error).message).toMatch(detail);
}

describe('model manifest', () => {
  it('the committed model.json validates against model.schema.json', async () => {
    const manifest = await readModelManifest(MODEL_DIR);
    expect(manifest.input.paddingMultiple).toBe(2 ** manifest.architecture.channels.length);
    expect(manifest.output.activation).toBe('sigmoid');
    expect(Object.isFrozen(manifest.input)).toBe(true);
  });

  it('names the committed ONNX file and PyTorch weights by their SHA-256', async () => {
    const manifest = await readModelManifest(MODEL_DIR);
    expect(sha256(manifest.file)).toBe(manifest.sha256);
    expect(sha256(manifest.referenceWeights.file)).toBe(manifest.referenceWeights.sha256);
  });

  it('says BatchNorm was folded of an ONNX file with no BatchNormalization node (an op type is stored as its name)', async () => {
    const manifest = await readModelManifest(MODEL_DIR);
    expect(manifest.export.batchNormFolded).toBe(true);
    const onnx = readFileSync(join(MODEL_DIR, manifest.file));
    expect(onnx.includes('Conv')).toBe(true); // the op types are there to be seen
    expect(onnx.includes('BatchNormalization')).toBe(false);
  });

  it('carries the figures of evaluation.json unchanged (write_manifest.py, never typed by hand)', async () => {
    const { metrics } = await readModelManifest(MODEL_DIR);
    const evaluation = readJson('evaluation.json');
    expect(metrics['patientMeanDice']).toBe(evaluation['mean_dice']);
    expect(metrics['controlsCleanShare']).toBe(evaluation['controls_clean_share']);
    expect(metrics['lesionSensitivity']).toBe(evaluation['lesion_sensitivity']);
  });

  it('refuses a manifest without an output threshold', () => {
    expectRefused('output.threshold', undefined, /threshold/);
  });

  it('refuses a malformed SHA-256 and an unknown field', () => {
    expectRefused('sha256', 'abc', /sha256/);
    expectRefused('input.normalise', true, /additional properties/);
  });

  it('refuses an SUV white level without a basis, and a basis without a value', () => {
    expectRefused('input.intensity.fromSuv.basis', 'TO BE ESTIMATED', /suvWhite/);
    expectRefused('input.intensity.fromSuv.suvWhite', null, /suvWhite/);
  });

  it('accepts an input normalisation with its basis, and refuses one without or with a level outside (0, 1)', () => {
    const manifest = readJson(MODEL_MANIFEST_FILE);
    const intensity = (manifest['input'] as JsonObject)['intensity'] as JsonObject;
    intensity['normalisation'] = { bodyMedian: 0.235, bodyLevel: 0.02, basis: 'controls\' median body pixel' };
    expect(validateModelManifest(manifest, readJson(MODEL_MANIFEST_SCHEMA_FILE)).input.intensity.normalisation?.bodyMedian).toBe(0.235);
    expectRefused('input.intensity.normalisation', { bodyMedian: 0.235, bodyLevel: 0.02 }, /basis/);
    expectRefused('input.intensity.normalisation', { bodyMedian: 1.5, bodyLevel: 0.02, basis: 'x' }, /bodyMedian/);
  });

  it('refuses a schema of another manifest generation', () => {
    const schema = { ...readJson(MODEL_MANIFEST_SCHEMA_FILE), $id: 'urn:mipseg:model-manifest:2' };
    expect(() => validateModelManifest(readJson(MODEL_MANIFEST_FILE), schema)).toThrow(/model-manifest:1/);
  });
});

describe('loadModel refusals', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-model-'));
    for (const name of [MODEL_MANIFEST_FILE, MODEL_MANIFEST_SCHEMA_FILE]) copyFileSync(join(MODEL_DIR, name), join(dir, name));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an ONNX file whose SHA-256 is not the manifest\'s', async () => {
    writeFileSync(join(dir, 'model.onnx'), 'not the released model');
    await expect(loadModel(dir, { threads: 1, executionProvider: 'cpu' })).rejects.toMatchObject({
      code: 'MIPSEG_MODEL_INVALID',
      message: expect.stringMatching(/SHA-256/),
    });
  });

  it('refuses a folder without model.json', async () => {
    rmSync(join(dir, MODEL_MANIFEST_FILE));
    await expect(loadModel(dir, { threads: 1, executionProvider: 'cpu' })).rejects.toMatchObject({ code: 'MIPSEG_MODEL_INVALID' });
  });

  it('refuses a thread count that is not a positive integer', async () => {
    await expect(loadModel(MODEL_DIR, { threads: 0, executionProvider: 'cpu' })).rejects.toMatchObject({ code: 'MIPSEG_CONFIG_INVALID' });
  });
});
