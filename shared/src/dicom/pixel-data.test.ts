import { isMipsegError } from '../errors';
import { viewStoredSamples } from './pixel-data';

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
    const code = (run: () => unknown): string | null => {
      try {
        run();
      } catch (err) {
        return isMipsegError(err) ? err.code : 'not a MipsegError';
      }
      return null;
    };
    expect(code(() => viewStoredSamples(bytes, 132, 100, 16, false))).toBe('MIPSEG_DICOM_UNPARSEABLE');
    expect(code(() => viewStoredSamples(bytes, 132, 2, 12, false))).toBe('MIPSEG_RENDER_UNSUPPORTED');
  });
});
