import type { Vec3 } from '../volume';

/**
 * Where a coronal MIP lies in the patient coordinate system (LPS), as a DICOM image of it states it
 * (PS3.3 C.7.6.2): rows run head to feet, columns patient right to left (image left = patient right).
 * Field names and order match the DICOM writer's ImageGeometry, so a CoronalMip can be written as it is.
 */
export interface MipGeometry {
  /** Columns (0028,0011). */
  readonly width: number;
  /** Rows (0028,0010). */
  readonly height: number;
  /** PixelSpacing (0028,0030) order, [between rows, between columns] in mm; the MIP's pixels are square. */
  readonly pixelSpacingMm: readonly [number, number];
  /** Centre of the top-left pixel; y is the centre of the projected anterior–posterior extent. */
  readonly imagePositionPatient: Vec3;
  /** Direction along a row (+x, towards patient left), then down a column (-z, towards the feet). */
  readonly imageOrientationPatient: readonly [number, number, number, number, number, number];
  /** Depth of the projected slab: the volume's extent along the anterior–posterior axis, mm. */
  readonly sliceThicknessMm: number;
  readonly frameOfReferenceUid: string;
}

/** The orientation every coronal MIP has: along a row +x (patient left), down a column -z (feet). */
export const CORONAL_MIP_ORIENTATION: MipGeometry['imageOrientationPatient'] = [1, 0, 0, 0, 0, -1];

/**
 * Patient coordinates [x, z] (mm, LPS) of the centre of MIP pixel (row, col); fractional indices are allowed
 * (a pixel's corners are at ±0.5).
 */
export function mipToPatient(geometry: MipGeometry, row: number, col: number): [number, number] {
  const [x0, , z0] = geometry.imagePositionPatient;
  const [rx, , rz, cx, , cz] = geometry.imageOrientationPatient;
  const [betweenRows, betweenColumns] = geometry.pixelSpacingMm;
  const along = col * betweenColumns;
  const down = row * betweenRows;
  return [x0 + along * rx + down * cx, z0 + along * rz + down * cz];
}
