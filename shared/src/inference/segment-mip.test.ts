import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { segmentMipFile } from './segment-mip';

const MODEL_DIR = resolve(__dirname, '..', '..', '..', 'models', 'mip-attention-unet');

describe('segmentMipFile (mipseg segment-mip)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-segment-unit-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a PNG whose IHDR declares 5000 x 1 with MIPSEG_IMAGE_INVALID before decoding it', async () => {
    const wide = new PNG({ width: 5000, height: 1 });
    wide.data.fill(255);
    const input = join(dir, 'wide.png');
    writeFileSync(input, PNG.sync.write(wide, { colorType: 0 }));
    const read = jest.spyOn(PNG.sync, 'read');
    try {
      const segmenting = segmentMipFile(input, join(dir, 'mask.png'), { modelDir: MODEL_DIR, threads: 1, executionProvider: 'cpu' });
      await expect(segmenting).rejects.toMatchObject({ code: 'MIPSEG_IMAGE_INVALID', message: expect.stringContaining('5000 x 1') });
      expect(read).not.toHaveBeenCalled();
    } finally {
      read.mockRestore();
    }
  });
});
