import { errorCodeOf } from '../../../../test/pipeline/dicom-output/synthetic-source';
import { packBits, unpackBits } from './pack-bits';

function randomMask(n: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % 3 === 0 ? 1 : 0;
  });
}

describe('packBits', () => {
  test('packs the first value into the least significant bit', () => {
    expect([...packBits(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0]))]).toEqual([0x01]);
    expect([...packBits(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 1]))]).toEqual([0x80]);
    expect([...packBits(Uint8Array.from([1, 1, 0, 1, 0, 0, 0, 0, 1]))]).toEqual([0x0b, 0x01]);
  });

  test('gives ceil(n / 8) bytes with the unused bits of the last byte zero', () => {
    const packed = packBits(new Uint8Array(37 * 29).fill(1));
    expect(packed.length).toBe(135);
    expect(packed[134]).toBe(0x01);
    expect(packed.subarray(0, 134).every((b) => b === 0xff)).toBe(true);
  });

  test('packs frames continuously: a 3×3 second frame starts at bit 9, inside the second byte', () => {
    // Bits 9 and 17 set: the second byte's bit 1 and the third byte's bit 1; no padding after frame 1.
    const frame1 = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const frame2 = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1]);
    const packed = packBits(Uint8Array.from([...frame1, ...frame2]));
    expect([...packed]).toEqual([0x00, 0x02, 0x02]);
    expect([...unpackBits(packed, 9, 9)]).toEqual([...frame2]);
    expect(unpackBits(packed, 18, 0)[17]).toBe(1);
  });

  test.each([1, 7, 8, 9, 15, 16, 17, 37 * 29, 400 * 1000 + 3])('round-trips %i values exactly', (n) => {
    const mask = randomMask(n, n);
    expect(Buffer.from(unpackBits(packBits(mask), n)).equals(Buffer.from(mask))).toBe(true);
  });

  test('refuses a value other than 0 or 1 with MIPSEG_DICOM_OUTPUT_INVALID', () => {
    expect(errorCodeOf(() => packBits(Uint8Array.from([0, 1, 255])))).toBe('MIPSEG_DICOM_OUTPUT_INVALID');
  });

  test('unpackBits refuses to read past the data', () => {
    expect(() => unpackBits(new Uint8Array(2), 9, 8)).toThrow(RangeError);
  });
});
