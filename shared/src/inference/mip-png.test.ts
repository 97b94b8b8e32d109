import { crc32, deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { isMipsegError } from '../errors';
import { maskToPng, pngToModelInput } from './mip-png';

function encode(width: number, height: number, rgba: number[], colorType: 0 | 2 | 6): Buffer {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  return PNG.sync.write(png, { colorType });
}

/** The PNG with a tRNS chunk (its CRC right) placed after IHDR, where a colour key belongs. */
function withTrns(png: Buffer, key: number[]): Buffer {
  const data = Buffer.from(key);
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write('tRNS', 4, 'latin1');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  const afterIhdr = 8 + 12 + 13;
  return Buffer.concat([png.subarray(0, afterIhdr), chunk, png.subarray(afterIhdr)]);
}

/** A chunk of `type` holding `data`, with its length and CRC. */
function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An 8-bit palette PNG (colour type 3) of `indices`, with `alphas` (tRNS: one alpha per leading palette entry). */
function palettePng(width: number, height: number, palette: number[][], alphas: number[], indices: number[]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8);
  const rows = Buffer.concat(Array.from({ length: height }, (_, y) => Buffer.from([0, ...indices.slice(y * width, (y + 1) * width)])));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('PLTE', Buffer.from(palette.flat())),
    chunk('tRNS', Buffer.from(alphas)), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

describe('pngToModelInput', () => {
  // Inverted grey as DM i AI writes it: air 255 -> 0, tissue 220, tumour 60, maximum uptake 0 -> 1; mostly air, as a MIP is.
  const greys = [255, 220, 60, 0, 255, 255, 255, 255];
  const rgba = greys.flatMap((g) => [g, g, g, 255]);

  it('maps inverted grey to x = (255 - grey) / 255 for RGBA and grey PNGs alike', () => {
    const expected = greys.map((g) => Math.fround((255 - g) / 255));
    for (const colorType of [6, 0] as const) {
      const input = pngToModelInput(encode(4, 2, rgba, colorType));
      expect([input.width, input.height]).toEqual([4, 2]);
      expect(Array.from(input.data)).toEqual(expected);
    }
  });

  it('reads a pixel keyed transparent by tRNS by its colour, as PIL convert("L") does (white air stays x = 0)', () => {
    const expected = greys.map((g) => Math.fround((255 - g) / 255));
    // 16-bit samples, as tRNS stores them: grey 255, and RGB (255, 255, 255).
    const keyed = [withTrns(encode(4, 2, rgba, 0), [0, 255]), withTrns(encode(4, 2, rgba, 2), [0, 255, 0, 255, 0, 255])];
    for (const png of keyed) {
      const input = pngToModelInput(png);
      expect(input.data[0]).toBe(0);
      expect(Array.from(input.data)).toEqual(expected);
    }
  });

  it('reads a palette PNG\'s transparent entries as shown, over white, as it reads an alpha channel (air, not uptake)', () => {
    // Entry 0: black, fully transparent (the background); 1: grey 60 (a lesion); 2: white. Mostly background.
    const png = palettePng(4, 2, [[0, 0, 0], [60, 60, 60], [255, 255, 255]], [0], [0, 0, 0, 1, 0, 0, 2, 0]);
    const input = pngToModelInput(png);
    expect(Array.from(input.data)).toEqual([0, 0, 0, Math.fround(195 / 255), 0, 0, 0, 0]);
  });

  it('refuses a PNG with more than one tRNS chunk (one at most, by the PNG specification), as thousands were a way to exhaust memory', () => {
    const twice = withTrns(withTrns(encode(4, 2, rgba, 0), [0, 255]), [0, 255]);
    let caught: unknown;
    try {
      pngToModelInput(twice);
    } catch (err) {
      caught = err;
    }
    expect(isMipsegError(caught, 'MIPSEG_IMAGE_INVALID')).toBe(true);
    expect((caught as Error).message).toContain('more than one tRNS');
    const palette = palettePng(2, 1, [[0, 0, 0], [255, 255, 255]], [0], [1, 1]);
    const afterPlte = palette.indexOf('tRNS', 0, 'latin1') - 4;
    const trns = palette.subarray(afterPlte, afterPlte + 13);
    expect(() => pngToModelInput(Buffer.concat([palette.subarray(0, afterPlte), trns, palette.subarray(afterPlte)]))).toThrow(/more than one tRNS/);
  });

  it('refuses an image wider than the model takes from its IHDR, without decoding it', () => {
    const read = jest.spyOn(PNG.sync, 'read');
    try {
      let caught: unknown;
      try {
        pngToModelInput(encode(5000, 1, new Array<number>(5000 * 4).fill(255), 0));
      } catch (err) {
        caught = err;
      }
      expect(isMipsegError(caught, 'MIPSEG_IMAGE_INVALID')).toBe(true);
      expect((caught as Error).message).toContain('5000 x 1');
      expect(read).not.toHaveBeenCalled();
    } finally {
      read.mockRestore();
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

describe('pngToModelInput refuses images the model would misread', () => {
  const refusal = (png: Buffer): string => {
    try {
      pngToModelInput(png);
    } catch (err) {
      if (isMipsegError(err, 'MIPSEG_IMAGE_INVALID')) return err.message;
      throw err;
    }
    return 'accepted';
  };
  // 10 × 10: white air, with a few tissue greys.
  const mip = (pixel: (i: number) => [number, number, number]): Buffer =>
    encode(10, 10, Array.from({ length: 100 }, (_, i) => [...pixel(i), 255]).flat(), 6);

  it('refuses a colour-mapped image (a hot-iron MIP), naming the share of coloured pixels', () => {
    expect(refusal(mip((i) => (i < 20 ? [255, 120, 0] : [255, 255, 255])))).toContain('a colour image (20.0 % of its pixels');
  });

  it('takes a grey MIP whose channels differ a little (a lossy step) or with a red mark on 1 % of it', () => {
    expect(refusal(mip((i) => (i < 50 ? [200, 205, 196] : [255, 255, 255])))).toBe('accepted');
    expect(refusal(mip((i) => (i === 0 ? [255, 0, 0] : [240, 240, 240])))).toBe('accepted');
  });

  it('refuses a MIP shown uptake bright on black, and says to invert it', () => {
    expect(refusal(mip((i) => (i < 10 ? [230, 230, 230] : [0, 0, 0])))).toMatch(/mostly dark \(median grey 0 of 255\).*invert/);
  });
});

describe('pngToModelInput of a MIP saved with a transparent background', () => {
  it('reads a fully transparent pixel as air (white, x = 0), whatever colour lies under it', () => {
    // 10 × 10: a transparent black background (as image editors save it), with tissue greys in the first row.
    const rgba = Array.from({ length: 100 }, (_, i) => (i < 10 ? [120, 120, 120, 255] : [0, 0, 0, 0])).flat();
    const png = new PNG({ width: 10, height: 10 });
    png.data = Buffer.from(rgba);
    const input = pngToModelInput(PNG.sync.write(png, { colorType: 6 }));
    expect(input.data[0]).toBeCloseTo((255 - 120) / 255, 6);
    expect(Array.from(input.data.slice(10))).toEqual(new Array<number>(90).fill(0));
  });
});
