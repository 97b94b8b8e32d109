import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { PixelModule } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import { renderFrame } from './render';
import { applyViewport, parseViewportParam, viewportNotApplied } from './viewport';

/** A 4 × 3 image whose grey values name their place: 10 × row + column, so a wrong crop or flip shows. */
const COLUMNS = 4;
const ROWS = 3;
const places = Uint8Array.from({ length: COLUMNS * ROWS }, (_, i) => 10 * Math.floor(i / COLUMNS) + (i % COLUMNS));

function rowsOf(grey: Uint8Array, width: number): number[][] {
  return Array.from({ length: grey.length / width }, (_, r) => [...grey.subarray(r * width, (r + 1) * width)]);
}

function cut(raw: string): number[][] {
  const { grey, width } = applyViewport(places, COLUMNS, ROWS, parseViewportParam(raw) ?? { width: 1, height: 1 });
  return rowsOf(grey, width);
}

function badQuery(raw: string): string {
  try {
    const viewport = parseViewportParam(raw);
    if (viewport) applyViewport(places, COLUMNS, ROWS, viewport);
  } catch (err) {
    return err instanceof MipsegError ? `${err.code}: ${err.message}` : String(err);
  }
  return 'accepted';
}

describe('viewport=vw,vh,sx,sy,sw,sh (PS3.18 8.3.5.1.3)', () => {
  test('draws the source region pixel for pixel where the viewport is its size', () => {
    expect(cut('2,2,1,1,2,2')).toEqual([[11, 12], [21, 22]]);
  });

  test('takes empty sx, sy as 0 and empty sw, sh as far as the image goes', () => {
    expect(cut('4,2,,1,,')).toEqual([[10, 11, 12, 13], [20, 21, 22, 23]]);
    expect(cut('2,3,2,,,')).toEqual([[2, 3], [12, 13], [22, 23]]);
  });

  test('flips the region left to right where sw is negative, top to bottom where sh is', () => {
    expect(cut('2,2,1,0,-2,2')).toEqual([[2, 1], [12, 11]]);
    expect(cut('4,3,0,0,4,-3')).toEqual([[20, 21, 22, 23], [10, 11, 12, 13], [0, 1, 2, 3]]);
  });

  test('scales down by averaging what each output pixel covers', () => {
    // Columns 0..3 of rows 0..1 into 2 × 1: (0 + 1 + 10 + 11) / 4 and (2 + 3 + 12 + 13) / 4.
    expect(cut('2,1,0,0,4,2')).toEqual([[6, 8]]);
  });

  test('keeps the aspect ratio: the output fits in vw × vh, as wide or as high as it allows', () => {
    const size = (raw: string) => {
      const { width, height } = applyViewport(places, COLUMNS, ROWS, parseViewportParam(raw) ?? { width: 1, height: 1 });
      return [width, height];
    };
    expect(size('8,100')).toEqual([8, 6]);
    expect(size('100,6')).toEqual([8, 6]);
    expect(size('2,2')).toEqual([2, 2]); // 4 × 3 into 2 × 2: 2 × 1.5, rounded
    expect(size('100,100,0,0,1,3')).toEqual([33, 100]);
  });

  // viewport=4096,4096 of an 8 × 8 image drew 16.7 million pixels (about a second of work and 265 MB per request).
  test('enlarges a region to at most 1024 × 1024 pixels, keeping its aspect ratio, and never a larger one', () => {
    const size = (columns: number, rows: number, raw: string) => {
      const grey = new Uint8Array(columns * rows);
      const { width, height } = applyViewport(grey, columns, rows, parseViewportParam(raw) ?? { width: 1, height: 1 });
      return [width, height];
    };
    // 4 × 3 scaled by √(1024² / 12) = 295.6: 1182.4 × 886.8, cut down to whole pixels.
    expect(size(COLUMNS, ROWS, '4096,4096')).toEqual([1182, 886]);
    expect(size(COLUMNS, ROWS, '4096,4096,0,0,1,1')).toEqual([1024, 1024]);
    expect(size(COLUMNS, ROWS, '1024,1024,0,0,1,1')).toEqual([1024, 1024]);
    expect(size(COLUMNS, ROWS, '300,4096')).toEqual([300, 225]);
    // A region of more than 1024² pixels is drawn at most at its own size, and scaled down as before.
    expect(size(2048, 1024, '4096,4096')).toEqual([2048, 1024]);
    expect(size(2048, 1024, '1024,4096')).toEqual([1024, 512]);
  });

  test('says when the viewport asked for a larger enlargement than is drawn', () => {
    const note = (raw: string) => viewportNotApplied(COLUMNS, ROWS, parseViewportParam(raw) ?? { width: 1, height: 1 });
    expect(note('4096,4096')).toMatch(/viewport \(drawn at 1182x886, not enlarged past 1048576 pixels\)/);
    expect(note('400,300')).toBeUndefined();
    expect(note('2,2')).toBeUndefined();
  });

  // PS3.18 8.3.5.1.3: sx, sy, sw and sh are decimal numbers whose absolute values give the region (the sign of sw and
  // sh flips it), and trailing values left out take their defaults with their commas.
  test('takes sx and sy by their absolute values', () => {
    expect(cut('2,2,-1,-1,2,2')).toEqual([[11, 12], [21, 22]]);
    expect(cut('2,2,-1,1,-2,2')).toEqual([[12, 11], [22, 21]]);
  });

  test('takes decimal sx, sy, sw, sh, averaging the parts of the pixels a fractional region covers', () => {
    // Columns 0.5 .. 2.5 of row 1 into 2 pixels: (10 + 11) / 2 and (11 + 12) / 2, rounded half up.
    expect(cut('2,1,0.5,1,2,1')).toEqual([[11, 12]]);
    expect(cut('2,1,0.5,1,-2.0,1')).toEqual([[12, 11]]);
    expect(cut('2,2,1.0,1.,2,2')).toEqual([[11, 12], [21, 22]]);
    // sw defaults to the edge from a fractional sx: columns 2.5 .. 4 of row 0, (2 + 2 * 3) / 3 in one pixel.
    expect(cut('1,1,2.5,0,,1')).toEqual([[3]]);
  });

  test('takes 3 to 5 values as the 6 with the trailing ones empty', () => {
    expect(cut('2,3,2')).toEqual(cut('2,3,2,,,'));
    expect(cut('2,3,2')).toEqual([[2, 3], [12, 13], [22, 23]]);
    expect(cut('4,2,0,1')).toEqual([[10, 11, 12, 13], [20, 21, 22, 23]]);
    expect(cut('2,2,1,1,2')).toEqual([[11, 12], [21, 22]]);
    expect(cut('4,3,,')).toEqual(cut('4,3'));
  });

  test('answers 400 MIPSEG_BAD_QUERY, saying what is wrong, to a malformed viewport', () => {
    expect(badQuery('64')).toMatch(/^MIPSEG_BAD_QUERY: .*viewport=64: 1 values/);
    expect(badQuery('64,64,0,0,2,2,1')).toMatch(/7 values/);
    expect(badQuery('0,64')).toMatch(/vw must be 1\.\.4096/);
    expect(badQuery('64,5000')).toMatch(/vh must be 1\.\.4096/);
    expect(badQuery('64,6.5')).toMatch(/vh is not an integer/);
    expect(badQuery('64,1e2')).toMatch(/vh is not an integer/);
    expect(badQuery('64,64,1e2,0,2,2')).toMatch(/sx is not a decimal number/);
    expect(badQuery('64,64,0,abc')).toMatch(/sy is not a decimal number/);
    expect(badQuery('64,64,0,0,.,2')).toMatch(/sw is not a decimal number/);
    expect(badQuery('64,64,0,0,0,2')).toMatch(/sw and sh must not be 0/);
    expect(badQuery('64,64,0,0,-0.0,2')).toMatch(/sw and sh must not be 0/);
    expect(badQuery('64,64,2.5,0,2,2')).toMatch(/columns \(sx, sw\) run past the image's 4 pixels/);
    expect(badQuery('64,64,3,0,2,2')).toMatch(/columns \(sx, sw\) run past the image's 4 pixels/);
    expect(badQuery('64,64,0,3,,')).toMatch(/rows \(sy, sh\) run past the image's 3 pixels/);
    expect(() => parseViewportParam(['1,1', '2,2'])).toThrow(/more than once/);
  });
});

describe('rendering a frame into a viewport', () => {
  /** The 4 × 3 image as a frame of 8-bit stored values, windowed 0..255 so that grey = stored. */
  const m: PixelModule = {
    rows: ROWS, columns: COLUMNS, samplesPerPixel: 1, bitsAllocated: 8, pixelRepresentation: 0, photometricInterpretation: 'MONOCHROME2',
    numberOfFrames: 1, rescaleSlope: 1, rescaleIntercept: 0, windowCenter: 127.5, windowWidth: 255, voiLutFunction: 'LINEAR_EXACT',
    maximumFractionalValue: null, transferSyntaxUid: '1.2.840.10008.1.2.1', pixelDataOffset: 0, pixelDataLength: places.length,
  };

  test('a PNG is the viewport-fitted size, and holds the source region', () => {
    const png = PNG.sync.read(renderFrame(places, m, 1, 'image/png', { viewport: parseViewportParam('2,2,1,1,2,2') }));
    expect([png.width, png.height]).toEqual([2, 2]);
    expect([...png.data.filter((_, i) => i % 4 === 0)]).toEqual([11, 12, 21, 22]);
  });

  test('a JPEG is the viewport-fitted size', () => {
    const decoded = jpeg.decode(renderFrame(places, m, 1, 'image/jpeg', { viewport: parseViewportParam('40,40') }));
    expect([decoded.width, decoded.height]).toEqual([40, 30]);
  });
});
