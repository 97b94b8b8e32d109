/**
 * @jest-environment ./test/model/onnx-runtime-environment.js
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { InferenceSession } from 'onnxruntime-node';
import { createSegmentationModel, loadModel, pngToModelInput, segmentMipFile, type SegmentationModel } from '../../shared/src/inference';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { MODEL_DIR } from './model-test-support';

const MIP_PET = 'data/mip-pet';

describeWithSharedData(MIP_PET)('segmentMipFile', () => {
  const image = join(sharedData(MIP_PET).path, 'patients', 'imgs', 'patient_004.png');
  let dir: string;
  let model: SegmentationModel;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-segment-'));
    model = await loadModel(MODEL_DIR, { threads: 1, executionProvider: 'cpu' });
  });
  afterAll(async () => {
    await model?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes a grey mask PNG of the MIP\'s size with only 0 and 255', async () => {
    const out = join(dir, 'mask.png');
    const result = await segmentMipFile(image, out, { model });
    const input = PNG.sync.read(readFileSync(image));
    const mask = PNG.sync.read(readFileSync(out));
    expect([mask.width, mask.height]).toEqual([input.width, input.height]);
    expect(mask.colorType).toBe(0);
    const values = new Set<number>();
    let tumour = 0;
    for (let i = 0; i < mask.data.length; i += 4) {
      values.add(mask.data[i] as number);
      if (mask.data[i] === 255) tumour++;
    }
    expect([...values].every((v) => v === 0 || v === 255)).toBe(true);
    expect(result).toMatchObject({ width: input.width, height: input.height, tumourPixels: tumour });
  });

  it('loads the model itself when given a model folder', async () => {
    const out = join(dir, 'mask-from-folder.png');
    const result = await segmentMipFile(image, out, { modelDir: MODEL_DIR, threads: 1, executionProvider: 'cpu' });
    expect(result.modelVersion).toBe(model.manifest.version);
  });

  it('refuses a file that is not a PNG with MIPSEG_IMAGE_INVALID', async () => {
    await expect(segmentMipFile(join(MODEL_DIR, 'model.json'), join(dir, 'x.png'), { model })).rejects.toMatchObject({
      code: 'MIPSEG_IMAGE_INVALID',
    });
  });

  it('with input normalisation in its manifest, gives an image rendered 20 % darker or 25 % brighter (unclamped) the same mask', async () => {
    const { manifest } = model;
    const normalisation = { bodyMedian: 0.235, bodyLevel: 0.02, basis: 'test' };
    const normalising = createSegmentationModel(await InferenceSession.create(join(MODEL_DIR, manifest.file)),
      { ...manifest, input: { ...manifest.input, intensity: { ...manifest.input.intensity, normalisation } } });
    try {
      const { data, width, height } = pngToModelInput(readFileSync(image));
      const darker = data.map((v) => v * 0.8);
      const brighter = data.map((v) => v * 1.25);
      const [asRendered, rendered20PercentDarker, rendered25PercentBrighter] =
        await Promise.all([data, darker, brighter].map(async (d) => (await normalising.segment(d, width, height)).mask));
      const tumour = (asRendered as Uint8Array).reduce((n, v) => n + v, 0);
      expect(tumour).toBeGreaterThan(100);
      expect(rendered20PercentDarker).toEqual(asRendered);
      expect(rendered25PercentBrighter).toEqual(asRendered);
      // Values above 1 are for a normalising model only.
      await expect(model.segment(brighter, width, height)).rejects.toMatchObject({ code: 'MIPSEG_IMAGE_INVALID' });
      // Without the normalisation the network sees the darker image as it is.
      const direct = await model.predictLogits(darker, width, height);
      const viaNormalisation = await model.predictLogits(normalising.networkInput(darker, width, height), width, height);
      expect(direct).not.toEqual(viaNormalisation);
    } finally {
      await normalising.release();
    }
  });

  it('refuses network input outside [0, 1] and a size that does not match', async () => {
    await expect(model.segment(new Float32Array([0, Number.NaN, 0, 0]), 2, 2)).rejects.toMatchObject({ code: 'MIPSEG_IMAGE_INVALID' });
    await expect(model.segment(new Float32Array(6), 2, 2)).rejects.toMatchObject({ code: 'MIPSEG_IMAGE_INVALID' });
  });
});
