import type { PixelModule } from '@mipseg/shared/dicom';
import { defaultWindow, parseWindowParam, renderFrame } from './render';
import { PNG } from 'pngjs';

/** A 1-row image of SUVs stored ×1000 (as the MIP stores them), as 16-bit little-endian words. */
function suvRow(suvs: readonly number[], window: Partial<PixelModule>): { bytes: Uint8Array; m: PixelModule } {
  const words = new Uint16Array(suvs.map((v) => Math.round(v * 1000)));
  const m: PixelModule = {
    rows: 1, columns: suvs.length, samplesPerPixel: 1, bitsAllocated: 16, pixelRepresentation: 0, photometricInterpretation: 'MONOCHROME2',
    numberOfFrames: 1, rescaleSlope: 0.001, rescaleIntercept: 0, windowCenter: null, windowWidth: null, voiLutFunction: null, maximumFractionalValue: null,
    transferSyntaxUid: '1.2.840.10008.1.2.1', pixelDataOffset: 0, pixelDataLength: words.byteLength, ...window,
  };
  return { bytes: new Uint8Array(words.buffer), m };
}

const greys = (png: Buffer): number[] => [...PNG.sync.read(png).data.filter((_, i) => i % 4 === 0)];

describe('rendering a frame through its VOI window', () => {
  const suvs = [0, 3, 5, 6, 7];

  test('reads a stored window by the LINEAR function of PS3.3 (3.5/7 shows SUV 0 to 6)', () => {
    const { bytes, m } = suvRow(suvs, { windowCenter: 3.5, windowWidth: 7 });
    expect(greys(renderFrame(bytes, m, 1, 'image/png'))).toEqual([0, 128, 213, 255, 255]);
  });

  test('reads LINEAR_EXACT where the instance says so (3/6 shows SUV 0 to 6)', () => {
    const { bytes, m } = suvRow(suvs, { windowCenter: 3, windowWidth: 6, voiLutFunction: 'LINEAR_EXACT' });
    expect(greys(renderFrame(bytes, m, 1, 'image/png'))).toEqual([0, 128, 213, 255, 255]);
  });

  test('takes window=center,width as linear and window=…,linear-exact as exact; refuses other functions', () => {
    const { bytes, m } = suvRow(suvs, {});
    expect(greys(renderFrame(bytes, m, 1, 'image/png', { window: parseWindowParam('3.5,7') }))).toEqual([0, 128, 213, 255, 255]);
    expect(greys(renderFrame(bytes, m, 1, 'image/png', { window: parseWindowParam('3,6,LINEAR-EXACT') }))).toEqual([0, 128, 213, 255, 255]);
    expect(() => parseWindowParam('3,6,sigmoid')).toThrow(/window=3,6,sigmoid/);
  });
});

/** A BINARY SEG's pixel module: 5 × 3 = 15 bits a frame, so frames 2 and 3 start inside a byte of Pixel Data. */
function binarySeg(frames: readonly (readonly number[])[]): { bytes: Uint8Array; m: PixelModule } {
  const bits = frames.flat();
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => { if (b === 1) bytes[Math.floor(i / 8)] = (bytes[Math.floor(i / 8)] as number) | (1 << (i % 8)); });
  const m: PixelModule = {
    ...suvRow([0], {}).m, rows: 3, columns: 5, bitsAllocated: 1, rescaleSlope: 1, numberOfFrames: frames.length, pixelDataLength: bytes.length,
  };
  return { bytes, m };
}

describe('rendering a segmentation frame', () => {
  const frames = [
    [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1],
    [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1],
  ];

  test('shows a BINARY frame that starts inside a byte (Rows × Columns of 15) as 0 black, 1 white', () => {
    const { bytes, m } = binarySeg(frames);
    for (const f of [1, 2, 3]) {
      const png = renderFrame(bytes, m, f, 'image/png');
      expect(PNG.sync.read(png)).toMatchObject({ width: 5, height: 3 });
      expect({ frame: f, greys: greys(png) }).toEqual({ frame: f, greys: (frames[f - 1] as number[]).map((b) => b * 255) });
    }
  });
});

describe('the default window of a frame without one (0 .. the 99.5th percentile)', () => {
  /** The window as it was found before, by sorting every value. */
  function sortedWindow(stored: readonly number[], slope: number): string {
    const sorted = Float32Array.from(stored, (v) => v * slope).sort();
    const hi = sorted[Math.floor((sorted.length - 1) * 0.995)] as number;
    const lo = Math.min(0, sorted[0] as number);
    const width = Math.max(hi - lo, 1e-6);
    return `${lo + width / 2},${width},linear-exact`;
  }

  test.each([
    ['a PET-like frame: zero background, noise, one hot spot', (i: number) => (i % 97 === 0 ? 30000 : i % 3 === 0 ? 0 : (i * 7919) % 2000)],
    ['a frame of few distinct values, negative among them', (i: number) => [-5, 0, 0, 0, 7, 7, 12][i % 7] as number],
    ['a constant frame', () => 42],
  ])('draws %s as the window found by a full sort does', (_case, value) => {
    const stored = Array.from({ length: 4099 }, (_, i) => value(i));
    const { m } = suvRow(stored.map((v) => v / 1000), {});
    const words = new Int16Array(stored);
    const signed = { bytes: new Uint8Array(words.buffer), m: { ...m, pixelRepresentation: 1 } };
    expect(renderFrame(signed.bytes, signed.m, 1, 'image/png'))
      .toEqual(renderFrame(signed.bytes, signed.m, 1, 'image/png', { window: parseWindowParam(sortedWindow(stored, 0.001)) }));
  });

  test('finds the window a full sort does where values include NaN, which the sort puts last', () => {
    // A RescaleSlope that reads as Infinity makes a stored 0 NaN, and others ±Infinity; finite values mixed in too.
    let seed = 12345;
    const random = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const pick = (): number => {
      const r = random();
      return r < 0.3 ? Number.NaN : r < 0.35 ? Infinity : r < 0.4 ? -Infinity : r < 0.5 ? 0 : Math.round(random() * 2000 - 500);
    };
    const m = suvRow([0], {}).m;
    const windowBySort = (values: Float32Array) => {
      const sorted = Float32Array.from(values).sort();
      const hi = sorted[Math.floor((sorted.length - 1) * 0.995)] as number;
      const lo = Math.min(0, sorted[0] as number);
      const width = Math.max(hi - lo, 1e-6);
      return { center: lo + width / 2, width, fn: 'linear-exact' };
    };
    const differ: number[][] = [];
    for (let run = 0; run < 3000; run++) {
      const values = Float32Array.from({ length: 1 + Math.floor(random() * 400) }, pick);
      if (run % 10 === 0) values[0] = Number.NaN; // a NaN first: what a sort puts first is still the smallest number
      if (run % 50 === 0) values.fill(Number.NaN);
      const [found, bySort] = [defaultWindow(Float32Array.from(values), m), windowBySort(values)];
      if (!Object.is(found.center, bySort.center) || !Object.is(found.width, bySort.width)) differ.push([...values]);
    }
    expect({ differ: differ.length, first: differ[0] }).toEqual({ differ: 0, first: undefined });
  });
});
