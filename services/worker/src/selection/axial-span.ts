import { readNumbers, type DataSet } from '../volume';

/** Where a slice lies: ImagePositionPatient (0020,0032) and its plane's normal from ImageOrientationPatient (0020,0037). */
export interface SlicePlacement {
  readonly position: readonly [number, number, number];
  readonly normal: readonly [number, number, number];
}

/** A slice's placement, or null where either attribute is absent, malformed or the orientation has no normal. */
export function readSlicePlacement(ds: DataSet): SlicePlacement | null {
  const position = readNumbers(ds, '00200032');
  const orientation = readNumbers(ds, '00200037');
  if (position?.length !== 3 || orientation?.length !== 6) return null;
  const [r0, r1, r2, c0, c1, c2] = orientation as [number, number, number, number, number, number];
  const normal: [number, number, number] = [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0];
  const length = Math.hypot(...normal);
  if (!(length > 1e-3)) return null;
  return { position: position as [number, number, number], normal: [normal[0] / length, normal[1] / length, normal[2] / length] };
}

/**
 * Axial length in mm between the outermost of `slices` along the first one's normal, plus one slice spacing: what a
 * series covers, however many copies of each slice it holds, given slices that include its two ends. 0 for none.
 */
export function axialSpanMm(slices: readonly SlicePlacement[], sliceSpacingMm: number): number {
  const [first] = slices;
  if (first === undefined) return 0;
  const [nx, ny, nz] = first.normal;
  const along = slices.map(({ position: [x, y, z] }) => x * nx + y * ny + z * nz);
  return Math.max(...along) - Math.min(...along) + sliceSpacingMm;
}
