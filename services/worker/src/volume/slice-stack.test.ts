import { isMipsegError, type MipsegError } from '@mipseg/shared/errors';
import type { Vec3 } from './pet-volume';
import type { SliceHeader } from './slice-header';
import { stackSlices } from './slice-stack';

const AXIAL = [1, 0, 0, 0, 1, 0] as const;
const FEET_FIRST_AXIAL = [-1, 0, 0, 0, 1, 0] as const;

function slice(uid: string, position: Vec3, overrides: Partial<SliceHeader> = {}): SliceHeader {
  return {
    sopClassUid: '1.2.840.10008.5.1.4.1.1.128',
    sopInstanceUid: uid,
    seriesInstanceUid: '1.2.3',
    frameOfReferenceUid: '1.2.4',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    rows: 4,
    columns: 4,
    imagePositionPatient: position,
    imageOrientationPatient: AXIAL,
    pixelSpacing: [2, 2],
    rescaleSlope: 1,
    rescaleIntercept: 0,
    bitsAllocated: 16,
    bitsStored: 16,
    highBit: 15,
    pixelRepresentation: 0,
    samplesPerPixel: 1,
    numberOfFrames: 1,
    ...overrides,
  };
}

/** Slices at z = 0, 3, 6, … given in the order of `zs`. */
const atHeights = (zs: readonly number[], overrides: Partial<SliceHeader> = {}): SliceHeader[] =>
  zs.map((z) => slice(`1.9.${z}`, [-10, -20, z], overrides));

function refusal(headers: readonly SliceHeader[]): MipsegError {
  try {
    stackSlices(headers);
  } catch (err) {
    if (isMipsegError(err, 'MIPSEG_VOLUME_INVALID')) return err;
    throw err;
  }
  throw new Error('stackSlices accepted the slices');
}

describe('stackSlices', () => {
  test('orders shuffled slices along the slice normal and reports the first slice as origin', () => {
    const headers = atHeights([6, 0, 9, 3]);
    const stack = stackSlices(headers);
    expect(stack.order.map((i) => headers[i]?.imagePositionPatient[2])).toEqual([0, 3, 6, 9]);
    expect(stack.sliceDirection).toEqual([0, 0, 1]);
    expect(stack.origin).toEqual([-10, -20, 0]);
    expect(stack.sliceSpacing).toBeCloseTo(3, 10);
  });

  test('a feet-first series (row direction -x) stacks along -z, its normal', () => {
    const headers = atHeights([0, 3, 6], { imageOrientationPatient: FEET_FIRST_AXIAL });
    const stack = stackSlices(headers);
    expect(stack.sliceDirection).toEqual([0, 0, -1]);
    expect(stack.order.map((i) => headers[i]?.imagePositionPatient[2])).toEqual([6, 3, 0]);
    expect(stack.rowDirection).toEqual([-1, 0, 0]);
  });

  test('refuses fewer than 2 slices', () => {
    expect(refusal(atHeights([0])).detail).toContain('at least 2');
  });

  test('refuses two slices at the same position, naming both instances', () => {
    const headers = [...atHeights([0, 3]), slice('1.9.dup', [-10, -20, 3])];
    const err = refusal(headers);
    expect(err.detail).toMatch(/duplicate position/);
    expect(err.detail).toContain('1.9.3');
    expect(err.detail).toContain('1.9.dup');
  });

  test('refuses two slices a fraction of a millimetre apart as a duplicate (a second reconstruction), not as irregular spacing', () => {
    const headers = [...atHeights([0, 3, 6]), slice('1.9.near', [-10, -20, 3.02])];
    const err = refusal(headers);
    expect(err.detail).toMatch(/duplicate position: instances 1\.9\.3 and 1\.9\.near lie 0\.02 mm apart/);
    expect(err.detail).toContain('two reconstructions in one series');
  });

  test('refuses a gap and names the missing position', () => {
    const err = refusal(atHeights([0, 3, 6, 12, 15]));
    expect(err.detail).toMatch(/1 slice\(s\) missing/);
    expect(err.detail).toContain('(-10.00, -20.00, 9.00)');
  });

  test('tolerates spacing within 10 % of the median and refuses an irregular one beyond it', () => {
    expect(() => stackSlices(atHeights([0, 3, 6.25, 9.25]))).not.toThrow();
    expect(refusal(atHeights([0, 3, 6, 10, 13])).detail).toMatch(/irregular slice spacing/);
  });

  test('refuses a spacing that drifts within the step tolerance, naming the slice furthest off its grid position', () => {
    // 133 slices 3.27 mm apart, then 134 at 3.56 mm: every step is within 10 % of the median, yet with the mean
    // spacing the volume would put slice 133 19 mm from where it was acquired.
    const zs = Array.from({ length: 267 }, (_, k) => (k <= 132 ? k * 3.27 : 132 * 3.27 + (k - 132) * 3.56));
    const detail = refusal(atHeights(zs)).detail;
    expect(detail).toMatch(/^slice 133 of 267 \(instance 1\.9\.431\.64\d*, ImagePositionPatient \(-10\.00, -20\.00, 431\.64\) mm\) lies -19\.28 mm off its grid position/);
    expect(detail).toContain('drifts');
  });

  test('accepts positions rounded off the grid by less than 10 % of a spacing', () => {
    const stack = stackSlices(atHeights([0, 3.27, 6.54, 9.81, 13.1, 16.33, 19.62, 22.89]));
    expect(stack.sliceSpacing).toBeCloseTo(3.27, 10);
  });

  test('refuses mixed orientation, size, pixel spacing and series', () => {
    const mixed = (overrides: Partial<SliceHeader>): SliceHeader[] => [...atHeights([0, 3]), slice('1.9.x', [-10, -20, 6], overrides)];
    expect(refusal(mixed({ imageOrientationPatient: [1, 0, 0, 0, 0, -1] })).detail).toContain('ImageOrientationPatient');
    expect(refusal(mixed({ rows: 5 })).detail).toContain('size');
    expect(refusal(mixed({ pixelSpacing: [2, 2.5] })).detail).toContain('PixelSpacing');
    expect(refusal(mixed({ seriesInstanceUid: '1.2.99' })).detail).toContain('mixed series');
  });

  test('refuses an instance given twice', () => {
    const [a, b] = atHeights([0, 3]);
    expect(refusal([a as SliceHeader, b as SliceHeader, a as SliceHeader]).detail).toContain('given twice');
  });

  test('refuses slices that leave the line of the stack (a sheared or tilted stack)', () => {
    const headers = [...atHeights([0, 3]), slice('1.9.6', [-5, -20, 6])];
    expect(refusal(headers).detail).toMatch(/displaced 5\.00 mm/);
  });
});
