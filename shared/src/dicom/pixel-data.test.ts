import { isMipsegError } from '../errors';
import { packBits, unpackBits } from './bit-packing';
import { binaryFrameBits, readFrameValues, readNativeFrame, viewStoredSamples, type PixelModule } from './pixel-data';

/** A file's bytes: `offset` bytes of header, then `samples` as little-endian values of `bytesPerSample`. */
function fileWith(offset: number, samples: readonly number[], bytesPerSample: 1 | 2 | 4): Uint8Array {
  const bytes = new Uint8Array(offset + samples.length * bytesPerSample + 3);
  const view = new DataView(bytes.buffer);
  samples.forEach((v, i) => {
    const at = offset + i * bytesPerSample;
    if (bytesPerSample === 1) view.setUint8(at, v & 0xff);
    else if (bytesPerSample === 2) view.setUint16(at, v & 0xffff, true);
    else view.setUint32(at, v >>> 0, true);
  });
  return bytes;
}

/** The catalogue code a call throws, or null. */
function codeOf(run: () => unknown): string | null {
  try {
    run();
  } catch (err) {
    return isMipsegError(err) ? err.code : 'not a MipsegError';
  }
  return null;
}

describe('viewStoredSamples', () => {
  test('views aligned 16-bit samples in place, signed or unsigned as PixelRepresentation says', () => {
    const bytes = fileWith(132, [0, 1, 32767, -1, -32768], 2);
    const signed = viewStoredSamples(bytes, 132, 5, 16, true);
    expect(signed).toBeInstanceOf(Int16Array);
    expect(signed.buffer).toBe(bytes.buffer);
    expect([...signed]).toEqual([0, 1, 32767, -1, -32768]);
    expect([...viewStoredSamples(bytes, 132, 5, 16, false)]).toEqual([0, 1, 32767, 65535, 32768]);
  });

  test('copies samples that start at an odd byte, with the same values', () => {
    const bytes = fileWith(133, [5, -7, 300], 2);
    const samples = viewStoredSamples(bytes, 133, 3, 16, true);
    expect(samples.buffer).not.toBe(bytes.buffer);
    expect([...samples]).toEqual([5, -7, 300]);
  });

  test('reads 8- and 32-bit samples, and the offset counts from the start of a subarray', () => {
    const eight = fileWith(10, [1, 200, -3], 1);
    expect([...viewStoredSamples(eight, 10, 3, 8, true)]).toEqual([1, -56, -3]);
    const padded = new Uint8Array(8 + 140);
    padded.set(fileWith(132, [70000, -2], 4).subarray(0, 140), 8);
    expect([...viewStoredSamples(padded.subarray(8), 132, 2, 32, true)]).toEqual([70000, -2]);
    expect([...viewStoredSamples(padded.subarray(8), 132, 2, 32, false)]).toEqual([70000, 4294967294]);
  });

  test('refuses samples that run past the end of the file, and BitsAllocated 12', () => {
    const bytes = fileWith(132, [1, 2], 2);
    expect(codeOf(() => viewStoredSamples(bytes, 132, 100, 16, false))).toBe('MIPSEG_DICOM_UNPARSEABLE');
    expect(codeOf(() => viewStoredSamples(bytes, 132, 2, 12, false))).toBe('MIPSEG_RENDER_UNSUPPORTED');
  });
});

/** 0/1 values from a deterministic pattern that is not periodic in 8, so a wrong shift cannot hide. */
function mask(count: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: count }, (_, i) => ((i * i + seed * i + seed) % 7 < 3 ? 1 : 0));
}

describe('binaryFrameBits', () => {
  test('re-packs each 3 × 5 frame (15 bits, frames start inside bytes) to start at bit 0, pad bits 0', () => {
    const frames = [mask(15, 1), mask(15, 2), mask(15, 3), mask(15, 4)];
    const pixelData = packBits(Uint8Array.from(frames.flatMap((f) => [...f])));
    frames.forEach((frame, k) => {
      const bits = binaryFrameBits(pixelData, k, 15);
      expect(bits).toHaveLength(2);
      expect([...unpackBits(bits, 16)]).toEqual([...frame, 0]);
    });
  });

  test('gives a byte-aligned frame (8 × 8) as its bytes unchanged', () => {
    const pixelData = Uint8Array.from([0x01, 0x80, 0xff, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x0f, 0xa5, 0x5a, 0xc3]);
    expect([...binaryFrameBits(pixelData, 1, 64)]).toEqual([...pixelData.subarray(8)]);
  });

  test('takes the last frame when it ends inside the last byte, and refuses a frame past the end', () => {
    // 23 × 38 × 3 bits, as in dcmqi's 23x38x3 example: 2622 bits in 328 bytes.
    const values = mask(874 * 3, 5);
    const pixelData = packBits(values);
    expect(pixelData).toHaveLength(328);
    expect([...unpackBits(binaryFrameBits(pixelData, 2, 874), 874)]).toEqual([...values.subarray(1748)]);
    expect(codeOf(() => binaryFrameBits(pixelData, 3, 874))).toBe('MIPSEG_NOT_FOUND');
    expect(codeOf(() => binaryFrameBits(pixelData.subarray(0, 327), 2, 874))).toBe('MIPSEG_NOT_FOUND');
  });
});

describe('readNativeFrame', () => {
  const module = (over: Partial<PixelModule>): PixelModule => ({
    rows: 2, columns: 2, samplesPerPixel: 1, bitsAllocated: 16, pixelRepresentation: 0, photometricInterpretation: 'MONOCHROME2',
    numberOfFrames: 2, rescaleSlope: 1, rescaleIntercept: 0, windowCenter: null, windowWidth: null, voiLutFunction: null, maximumFractionalValue: null,
    transferSyntaxUid: '1.2.840.10008.1.2.1', pixelDataOffset: 4, pixelDataLength: 16, ...over,
  });

  test('gives a 16-bit frame as the bytes stored, and refuses frames beyond NumberOfFrames or Pixel Data', () => {
    const bytes = Uint8Array.from({ length: 20 }, (_, i) => i);
    expect([...readNativeFrame(bytes, module({}), 2)]).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
    expect(codeOf(() => readNativeFrame(bytes, module({}), 3))).toBe('MIPSEG_NOT_FOUND');
    expect(codeOf(() => readNativeFrame(bytes, module({ pixelDataLength: 12 }), 2))).toBe('MIPSEG_NOT_FOUND');
  });

  test('reads a BitsAllocated 1 frame as one 0 or 1 a pixel from the bit it starts at, and refuses one past Pixel Data', () => {
    const values = mask(3 * 3 * 2, 6);
    const bytes = new Uint8Array(4 + 3);
    bytes.set(packBits(values), 4);
    const m = module({ rows: 3, columns: 3, bitsAllocated: 1, pixelDataLength: 3 });
    expect([...readFrameValues(bytes, m, 2)]).toEqual([...values.subarray(9)]);
    expect(codeOf(() => readFrameValues(bytes, { ...m, pixelDataLength: 2 }, 2))).toBe('MIPSEG_NOT_FOUND');
  });

  test('re-packs a BitsAllocated 1 frame from its bit offset', () => {
    const values = mask(3 * 3 * 2, 6);
    const bytes = new Uint8Array(4 + 3);
    bytes.set(packBits(values), 4);
    const m = module({ rows: 3, columns: 3, bitsAllocated: 1, pixelDataLength: 3 });
    expect([...unpackBits(readNativeFrame(bytes, m, 2), 9)]).toEqual([...values.subarray(9)]);
  });
});
