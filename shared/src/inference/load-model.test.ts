import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { loadModel } from './load-model';
import { MODEL_MANIFEST_FILE, MODEL_MANIFEST_SCHEMA_FILE } from './model-manifest';

const MODEL_DIR = resolve(__dirname, '..', '..', '..', 'models', 'mip-attention-unet');

describe('loadModel', () => {
  let dir: string;
  beforeAll(() => {
    // The shipped model with an input normalisation the schema accepts but the runtime refuses (bodyLevel above bodyMedian).
    dir = mkdtempSync(join(tmpdir(), 'mipseg-load-model-'));
    const manifest = JSON.parse(readFileSync(join(MODEL_DIR, MODEL_MANIFEST_FILE), 'utf8')) as {
      file: string;
      input: { intensity: Record<string, unknown> };
    };
    manifest.input.intensity.normalisation = { bodyMedian: 0.02, bodyLevel: 0.235, basis: 'test: levels swapped' };
    writeFileSync(join(dir, MODEL_MANIFEST_FILE), JSON.stringify(manifest));
    copyFileSync(join(MODEL_DIR, MODEL_MANIFEST_SCHEMA_FILE), join(dir, MODEL_MANIFEST_SCHEMA_FILE));
    copyFileSync(join(MODEL_DIR, manifest.file), join(dir, manifest.file));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => jest.restoreAllMocks());

  it('releases the ONNX session it created when the manifest\'s input normalisation is refused', async () => {
    const session = await InferenceSession.create(join(MODEL_DIR, 'model.onnx'));
    const release = jest.spyOn(session, 'release');
    jest.spyOn(InferenceSession, 'create').mockResolvedValue(session);
    await expect(loadModel(dir, { threads: 1, executionProvider: 'cpu' })).rejects.toMatchObject({
      code: 'MIPSEG_MODEL_INVALID',
      message: expect.stringContaining('input normalisation'),
    });
    expect(release).toHaveBeenCalledTimes(1);
  });
});
