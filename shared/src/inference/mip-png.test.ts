import { PNG } from 'pngjs';
import { isMipsegError } from '../errors';
import { maskToPng, pngToModelInput } from './mip-png';

function encode(width: number, height: number, rgba: number[], colorType: 0 | 6): Buffer {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  return PNG.sync.write(png, { colorType });
}

describe('pngToModelInput', () => {
  // Inverted grey as DM i AI writes it: air 255 -> 0, tissue 220, tumour 60, maximum uptake 0 -> 1.
  const greys = [255, 220, 60, 0];
  const rgba = greys.flatMap((g) => [g, g, g, 255]);

  it('maps inverted grey to x = (255 - grey) / 255 for RGBA and grey PNGs alike', () => {
    const expected = greys.map((g) => Math.fround((255 - g) / 255));
    for (const colorType of [6, 0] as const) {
      const input = pngToModelInput(encode(2, 2, rgba, colorType));
      expect([input.width, input.height]).toEqual([2, 2]);
      expect(Array.from(input.data)).toEqual(expected);
    }
  });

  it('refuses bytes that are not a PNG with MIPSEG_IMAGE_INVALID', () => {
    let caught: unknown;
    try {
      pngToModelInput(Buffer.from('GIF89a'));
    } catch (err) {
      caught = err;
    }
    expect(isMipsegError(caught, 'MIPSEG_IMAGE_INVALID')).toBe(true);
  });
});

describe('maskToPng', () => {
  it('writes an 8-bit grey PNG with 255 for tumour and 0 elsewhere', () => {
    const png = PNG.sync.read(maskToPng(Uint8Array.from([0, 1, 1, 0, 0, 1]), 3, 2));
    expect([png.width, png.height, png.colorType, png.depth]).toEqual([3, 2, 0, 8]);
    expect(Array.from(png.data.filter((_, i) => i % 4 === 0))).toEqual([0, 255, 255, 0, 0, 255]);
  });
});
