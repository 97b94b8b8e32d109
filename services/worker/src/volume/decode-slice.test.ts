import * as dicomParser from 'dicom-parser';
import { isMipsegError } from '@mipseg/shared/errors';
import { decodeSliceInto, type PixelDataSource } from './decode-slice';
import type { SliceHeader } from './slice-header';

const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** A 1-row native slice of 16-bit words, stored as `bitsStored` bits (HighBit bitsStored - 1 unless given). */
function nativeSlice(words: readonly number[], bitsStored: number, pixelRepresentation: 0 | 1,
  overrides: Partial<SliceHeader> = {}): { source: PixelDataSource; header: SliceHeader } {
  const byteArray = new Uint8Array(words.length * 2);
  words.forEach((w, i) => new DataView(byteArray.buffer).setUint16(2 * i, w, true));
  const header: SliceHeader = {
    sopClassUid: '1.2.840.10008.5.1.4.1.1.128', sopInstanceUid: '2.25.77', seriesInstanceUid: '2.25.1', frameOfReferenceUid: '2.25.2',
    transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN, rows: 1, columns: words.length, imagePositionPatient: [0, 0, 0],
    imageOrientationPatient: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1], rescaleSlope: 1, rescaleIntercept: 0,
    bitsAllocated: 16, bitsStored, highBit: bitsStored - 1, pixelRepresentation, samplesPerPixel: 1, numberOfFrames: 1,
    ...overrides,
  };
  const element = { tag: 'x7fe00010', vr: 'OW', length: byteArray.length, dataOffset: 0 };
  return { source: { byteArray, byteArrayParser: dicomParser.littleEndianByteArrayParser, element }, header };
}

function decoded(words: readonly number[], bitsStored: number, pixelRepresentation: 0 | 1,
  overrides: Partial<SliceHeader> = {}): number[] {
  const { source, header } = nativeSlice(words, bitsStored, pixelRepresentation, overrides);
  const target = new Float32Array(words.length);
  decodeSliceInto(source, header, target);
  return Array.from(target);
}

function refusalOf(words: readonly number[], bitsStored: number, overrides: Partial<SliceHeader>): unknown {
  try {
    decoded(words, bitsStored, 0, overrides);
  } catch (err) {
    return err;
  }
  throw new Error('the slice was decoded');
}

describe('decodeSliceInto, native pixel data', () => {
  test('signed 12 of 16 bits: the sign is bit 11, whether or not the word carries it above', () => {
    expect(decoded([0x0f9c, 0xff9c, 0x07ff, 0x0800, 0xf800], 12, 1)).toEqual([-100, -100, 2047, -2048, -2048]);
  });

  test('unsigned 12 of 16 bits: bits above HighBit are not part of the value (no bogus hot voxel)', () => {
    expect(decoded([0xf064, 0x0064, 0x0fff], 12, 0)).toEqual([100, 100, 4095]);
  });

  test('BitsStored 16 reads whole words, signed or not', () => {
    expect(decoded([0xff9c, 0x7fff], 16, 1)).toEqual([-100, 32767]);
    expect(decoded([0xf064, 0xffff], 16, 0)).toEqual([61540, 65535]);
  });

  test('the masked values are rescaled like any others', () => {
    expect(decoded([0x0f9c], 12, 1, { rescaleSlope: 0.5, rescaleIntercept: 10 })).toEqual([-40]);
  });

  test('refuses a HighBit other than BitsStored - 1, which it cannot honour', () => {
    const err = refusalOf([0x0064], 12, { highBit: 15 });
    expect(isMipsegError(err, 'MIPSEG_VOLUME_UNSUPPORTED') && err.detail).toContain('HighBit 15 with BitsStored 12');
  });

  test('refuses BitsStored above BitsAllocated', () => {
    const err = refusalOf([0x0064], 17, {});
    expect(isMipsegError(err, 'MIPSEG_VOLUME_INVALID') && err.detail).toContain('BitsStored 17 with BitsAllocated 16');
  });
});
