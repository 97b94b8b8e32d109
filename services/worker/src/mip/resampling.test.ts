import { axisWeights, resampleImage } from './resampling';

const row = (values: readonly number[]): Float32Array => Float32Array.from(values);

describe('axisWeights and resampleImage', () => {
  test('enlarging interpolates linearly between the two neighbours', () => {
    const w = axisWeights(3, [0, 0.25, 0.5, 1.5, 2], 0.5);
    const out = resampleImage(row([0, 4, 8]), 3, 1, w, axisWeights(1, [0], 1));
    expect(Array.from(out)).toEqual([0, 1, 2, 6, 8]);
  });

  test('past either end takes the edge value', () => {
    const out = resampleImage(row([2, 4]), 2, 1, axisWeights(2, [-0.5, 1.5], 1), axisWeights(1, [0], 1));
    expect(Array.from(out)).toEqual([2, 4]);
  });

  test('shrinking averages every input sample in, where plain interpolation would skip a one-sample hot spot', () => {
    const input = row([0, 0, 0, 9, 0, 0, 0, 0, 0]);
    const positions = [1, 4, 7];
    const plain = resampleImage(input, 9, 1, axisWeights(9, positions, 1), axisWeights(1, [0], 1));
    const averaged = resampleImage(input, 9, 1, axisWeights(9, positions, 3), axisWeights(1, [0], 1));
    expect(Math.max(...plain)).toBe(0);
    [1, 2, 0].forEach((v, i) => expect(averaged[i]).toBeCloseTo(v, 5));
  });

  test('weights of every output sum to 1, so a uniform image stays uniform', () => {
    const w = axisWeights(5, [0, 1.3, 2.7, 4], 2.5);
    const out = resampleImage(new Float32Array(10).fill(3), 5, 2, w, axisWeights(2, [0, 0.5, 1], 0.5));
    expect(Array.from(out).every((v) => Math.abs(v - 3) < 1e-6)).toBe(true);
    expect(out).toHaveLength(12);
  });
});
