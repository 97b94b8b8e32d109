import { quantizeSuv } from './suv-quantization';
import { errorCodeOf } from '../../../../test/pipeline/dicom-output/synthetic-source';

function maxError(suv: Float32Array, stored: ArrayLike<number>, slope: number): number {
  let worst = 0;
  for (let i = 0; i < suv.length; i++) worst = Math.max(worst, Math.abs((stored[i] as number) * slope - (suv[i] as number)));
  return worst;
}

describe('quantizeSuv', () => {
  test('stores non-negative SUVs unsigned over the full range, within half a slope', () => {
    const suv = Float32Array.from({ length: 1000 }, (_, i) => (i * 37.7) % 23.1);
    const q = quantizeSuv(suv);
    expect(q.pixelRepresentation).toBe(0);
    expect(q.stored).toBeInstanceOf(Uint16Array);
    expect(Math.max(...q.stored)).toBeGreaterThanOrEqual(0xfffe);
    expect(q.rescaleSlopeDs.length).toBeLessThanOrEqual(16);
    expect(Number(q.rescaleSlopeDs)).toBe(q.rescaleSlope);
    // Float32 input adds its own rounding (about 1e-6 at SUV 23) to the half-slope bound.
    expect(maxError(suv, q.stored, q.rescaleSlope)).toBeLessThanOrEqual(q.rescaleSlope / 2 + 2e-6);
  });

  test('switches to signed values when an SUV is negative', () => {
    const suv = Float32Array.from([-0.5, 0, 3.25, 10]);
    const q = quantizeSuv(suv);
    expect(q.pixelRepresentation).toBe(1);
    expect(q.stored).toBeInstanceOf(Int16Array);
    expect(q.stored[0]).toBeLessThan(0);
    expect(maxError(suv, q.stored, q.rescaleSlope)).toBeLessThanOrEqual(q.rescaleSlope / 2 + 1e-6);
  });

  test('writes an all-zero image with slope 1', () => {
    const q = quantizeSuv(new Float32Array(16));
    expect(q.rescaleSlopeDs).toBe('1');
    expect(q.stored.every((v) => v === 0)).toBe(true);
  });

  test('refuses NaN and infinity with MIPSEG_DICOM_OUTPUT_INVALID', () => {
    expect(errorCodeOf(() => quantizeSuv(Float32Array.from([1, Number.NaN])))).toBe('MIPSEG_DICOM_OUTPUT_INVALID');
    expect(errorCodeOf(() => quantizeSuv(Float32Array.from([Infinity])))).toBe('MIPSEG_DICOM_OUTPUT_INVALID');
  });
});
