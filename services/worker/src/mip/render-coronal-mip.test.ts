import { isMipsegError } from '@mipseg/shared/errors';
import type { PetVolume, Vec3 } from '../volume';
import { mipToPatient } from './mip-geometry';
import { renderCoronalMip, type CoronalMip } from './render-coronal-mip';

interface Grid {
  readonly columns: number;
  readonly rows: number;
  readonly slices: number;
  readonly rowDirection: Vec3;
  readonly columnDirection: Vec3;
  readonly sliceDirection: Vec3;
  readonly origin: Vec3;
  readonly pixelSpacing: readonly [number, number];
  readonly sliceSpacing: number;
}

/** An SUV volume on `grid` whose voxel values are `phantom(patient position)`. */
function volumeOf(grid: Grid, phantom: (p: Vec3) => number): PetVolume {
  const voxels = new Float32Array(grid.columns * grid.rows * grid.slices);
  const along = (d: Vec3, s: number): Vec3 => [d[0] * s, d[1] * s, d[2] * s];
  for (let k = 0; k < grid.slices; k++) {
    for (let j = 0; j < grid.rows; j++) {
      for (let i = 0; i < grid.columns; i++) {
        const a = along(grid.rowDirection, i * grid.pixelSpacing[1]);
        const b = along(grid.columnDirection, j * grid.pixelSpacing[0]);
        const c = along(grid.sliceDirection, k * grid.sliceSpacing);
        const at = (n: 0 | 1 | 2): number => Math.round(grid.origin[n] + a[n] + b[n] + c[n]);
        voxels[(k * grid.rows + j) * grid.columns + i] = phantom([at(0), at(1), at(2)]);
      }
    }
  }
  return {
    ...grid, voxels, valueUnits: 'SUVbw', frameOfReferenceUid: '2.25.9', instances: [],
    source: {} as PetVolume['source'],
  };
}

/** The same patient box, x -10..10, y -6..6, z 0..40 (mm), acquired four ways. */
const HEAD_FIRST_AXIAL: Grid = {
  columns: 11, rows: 5, slices: 11, rowDirection: [1, 0, 0], columnDirection: [0, 1, 0], sliceDirection: [0, 0, 1],
  origin: [-10, -6, 0], pixelSpacing: [3, 2], sliceSpacing: 4,
};
const FEET_FIRST_AXIAL: Grid = {
  ...HEAD_FIRST_AXIAL, rowDirection: [-1, 0, 0], sliceDirection: [0, 0, -1], origin: [10, -6, 40],
};
const REVERSED_ROWS_AXIAL: Grid = {
  ...HEAD_FIRST_AXIAL, columnDirection: [0, -1, 0], sliceDirection: [0, 0, -1], origin: [-10, 6, 40],
};
const CORONAL: Grid = {
  columns: 11, rows: 11, slices: 5, rowDirection: [1, 0, 0], columnDirection: [0, 0, -1], sliceDirection: [0, 1, 0],
  origin: [-10, -6, 40], pixelSpacing: [4, 2], sliceSpacing: 3,
};

/** Different everywhere in x and z, largest at the back (y = 6). */
const phantom = ([x, y, z]: Vec3): number => (x + 20) * (z + 7) + y;

function errorCode(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (err) {
    if (isMipsegError(err)) return err.code;
    throw err;
  }
}

const render = (v: PetVolume, pixelSpacingMm = 2, suvWhite = 6): CoronalMip => renderCoronalMip(v, { pixelSpacingMm, suvWhite });

describe('renderCoronalMip', () => {
  test('a bright voxel lands on the pixel whose patient position is the voxel\'s, with its full value', () => {
    const grid: Grid = { ...HEAD_FIRST_AXIAL, rows: 7, pixelSpacing: [2, 2], sliceSpacing: 2, slices: 21 };
    const mip = render(volumeOf(grid, ([x, y, z]) => (x === 4 && y === 2 && z === 10 ? 9 : 1)));
    expect([mip.width, mip.height]).toEqual([11, 21]);
    const hottest = mip.suv.indexOf(Math.max(...mip.suv));
    const [row, col] = [Math.floor(hottest / mip.width), hottest % mip.width];
    expect(mipToPatient(mip, row, col)).toEqual([4, 10]);
    expect(mip.suv[hottest]).toBe(9);
    expect(mip.input[hottest]).toBe(1);
    expect(mip.input[0]).toBeCloseTo(1 / 6, 6);
  });

  test('keeps a small lesion\'s SUVmax in the stored image when the voxels are coarser than the pixels; the model\'s input is interpolated', () => {
    // 4.7 mm voxels (a GE whole-body grid) shown at 2 mm: no pixel centre falls on the hot voxel's centre.
    const grid: Grid = { ...HEAD_FIRST_AXIAL, columns: 9, rows: 5, slices: 9, origin: [-18.8, -6, 0], pixelSpacing: [4.7, 4.7], sliceSpacing: 4.7 };
    const mip = render(volumeOf(grid, ([x, y, z]) => (x === 5 && y === -1 && z === 19 ? 10 : 1)));
    expect(Math.max(...mip.suv)).toBe(10);
    expect(Math.min(...mip.suv)).toBe(1);
    const interpolatedPeak = Math.max(...mip.input) * 6;
    expect(interpolatedPeak).toBeLessThan(9.5);
    // The hot voxel covers x 2.65..7.35 and z 16.65..21.35: the stored image is hot there and only there.
    const hot = [...mip.suv.keys()].filter((i) => mip.suv[i] === 10).map((i) => mipToPatient(mip, Math.floor(i / mip.width), i % mip.width));
    for (const [x, z] of hot) {
      expect(Math.abs(x - 5)).toBeLessThan(2.35 + 1);
      expect(Math.abs(z - 19)).toBeLessThan(2.35 + 1);
    }
    expect(hot.length).toBeGreaterThanOrEqual(4);
  });

  test('without clampInput (a normalising model) the input keeps SUV above suvWhite, still floored at 0', () => {
    const grid: Grid = { ...HEAD_FIRST_AXIAL, rows: 7, pixelSpacing: [2, 2], sliceSpacing: 2, slices: 21 };
    const volume = volumeOf(grid, ([x, y, z]) => (x === 4 && y === 2 && z === 10 ? 9 : x === 0 ? -1 : 1));
    const mip = renderCoronalMip(volume, { pixelSpacingMm: 2, suvWhite: 6, clampInput: false });
    expect(Math.max(...mip.input)).toBeCloseTo(1.5, 6);
    expect(Math.min(...mip.input)).toBe(0);
  });

  test('rows run head to feet and columns patient right to left, described by the MIP geometry', () => {
    const mip = render(volumeOf(HEAD_FIRST_AXIAL, phantom));
    expect(mip.imageOrientationPatient).toEqual([1, 0, 0, 0, 0, -1]);
    const [x0, z0] = mipToPatient(mip, 0, 0);
    const [x1, z1] = mipToPatient(mip, mip.height - 1, mip.width - 1);
    expect(z0).toBeGreaterThan(z1);
    expect(x0).toBeLessThan(x1);
    expect(mip.suv[0]).toBeLessThan(mip.suv[mip.width - 1] as number);
    expect(mip.suv[0]).toBeGreaterThan(mip.suv[(mip.height - 1) * mip.width] as number);
  });

  test.each([
    ['a feet-first axial series', FEET_FIRST_AXIAL],
    ['an axial series with rows running posterior to anterior', REVERSED_ROWS_AXIAL],
    ['a coronal acquisition', CORONAL],
  ])('%s gives the same MIP as the head-first axial series', (_name, grid) => {
    const expected = render(volumeOf(HEAD_FIRST_AXIAL, phantom));
    const mip = render(volumeOf(grid, phantom));
    expect([mip.width, mip.height]).toEqual([expected.width, expected.height]);
    expect(mip.imagePositionPatient.map((v) => v + 0)).toEqual(expected.imagePositionPatient.map((v) => v + 0));
    expect(mip.suv.every((v, i) => Math.abs(v - (expected.suv[i] as number)) < 1e-3)).toBe(true);
  });

  test('covers the volume\'s extent at the requested spacing, centred on it', () => {
    const mip = render(volumeOf(HEAD_FIRST_AXIAL, phantom));
    expect([mip.width, mip.height]).toEqual([11, 22]);
    expect(mip.pixelSpacingMm).toEqual([2, 2]);
    expect(mip.imagePositionPatient).toEqual([-10, 0, 41]);
    expect(mip.sliceThicknessMm).toBe(15);
    expect(mip.frameOfReferenceUid).toBe('2.25.9');
  });

  test('refuses an oblique volume and tolerates rounded direction cosines', () => {
    const tilt = (degrees: number): Grid => {
      const [c, s] = [Math.cos((degrees * Math.PI) / 180), Math.sin((degrees * Math.PI) / 180)];
      return { ...HEAD_FIRST_AXIAL, rowDirection: [c, s, 0], columnDirection: [-s, c, 0] };
    };
    expect(errorCode(() => render(volumeOf(tilt(10), () => 1)))).toBe('MIPSEG_VOLUME_UNSUPPORTED');
    expect(errorCode(() => render(volumeOf(tilt(0.001), () => 1)))).toBeNull();
  });

  test('refuses a volume that is not in SUVbw (a caller bug)', () => {
    expect(errorCode(() => render({ ...volumeOf(HEAD_FIRST_AXIAL, phantom), valueUnits: 'BQML' }))).toBe('MIPSEG_INTERNAL');
  });
});
