import type { PixelModule } from '@mipseg/shared/dicom';
import { parseWindowParam, renderFrame } from './render';
import { PNG } from 'pngjs';

/** A 1-row image of SUVs stored ×1000 (as the MIP stores them), as 16-bit little-endian words. */
function suvRow(suvs: readonly number[], window: Partial<PixelModule>): { bytes: Uint8Array; m: PixelModule } {
  const words = new Uint16Array(suvs.map((v) => Math.round(v * 1000)));
  const m: PixelModule = {
    rows: 1, columns: suvs.length, samplesPerPixel: 1, bitsAllocated: 16, pixelRepresentation: 0, photometricInterpretation: 'MONOCHROME2',
    numberOfFrames: 1, rescaleSlope: 0.001, rescaleIntercept: 0, windowCenter: null, windowWidth: null, voiLutFunction: null,
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
    expect(greys(renderFrame(bytes, m, 1, 'image/png', parseWindowParam('3.5,7')))).toEqual([0, 128, 213, 255, 255]);
    expect(greys(renderFrame(bytes, m, 1, 'image/png', parseWindowParam('3,6,LINEAR-EXACT')))).toEqual([0, 128, 213, 255, 255]);
    expect(() => parseWindowParam('3,6,sigmoid')).toThrow(/window=3,6,sigmoid/);
  });
});
