/**
 * @jest-environment ./test/model/onnx-runtime-environment.js
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { loadModel, segmentMipFile, type SegmentationModel } from '../../shared/src/inference';
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

  it('refuses network input outside [0, 1] and a size that does not match', async () => {
    await expect(model.segment(new Float32Array([0, Number.NaN, 0, 0]), 2, 2)).rejects.toMatchObject({ code: 'MIPSEG_IMAGE_INVALID' });
    await expect(model.segment(new Float32Array(6), 2, 2)).rejects.toMatchObject({ code: 'MIPSEG_IMAGE_INVALID' });
  });
});
