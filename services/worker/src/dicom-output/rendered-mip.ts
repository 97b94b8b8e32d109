import { MipsegError } from '@mipseg/shared/errors';

/** Where a 2D image lies in the patient coordinate system (PS3.3 C.7.6.2). */
export interface ImageGeometry {
  readonly width: number;
  readonly height: number;
  /** PixelSpacing (0028,0030) order: [distance between rows, distance between columns], in mm. */
  readonly pixelSpacingMm: readonly [number, number];
  /** Centre of the top-left pixel, patient coordinates in mm. */
  readonly imagePositionPatient: readonly [number, number, number];
  /** Row direction then column direction (unit vectors); a standard coronal MIP is [1,0,0, 0,0,-1]. */
  readonly imageOrientationPatient: readonly [number, number, number, number, number, number];
  /**
   * Depth of the projected slab in mm (the source volume's extent along the projection direction), written as
   * SliceThickness. Optional: without it the MIP's SliceThickness (Type 2) is empty, and the SEG, where it is
   * required, states the row spacing as a nominal thickness.
   */
  readonly sliceThicknessMm?: number;
}

/**
 * A coronal maximum-intensity projection in SUVbw, as the MIP renderer produces it. Its x and z axes are
 * patient coordinates of the source's Frame of Reference.
 */
export interface RenderedMip extends ImageGeometry {
  /** SUVbw, row-major, width × height values. */
  readonly suv: Float32Array;
}

const MAX_SIDE = 0xffff;

function isUnitVector(v: readonly number[]): boolean {
  return Math.abs(Math.hypot(...v) - 1) < 1e-3;
}

/** Throws MIPSEG_DICOM_OUTPUT_INVALID unless the geometry can be written as an Image Plane. */
export function assertImageGeometry(g: ImageGeometry): void {
  const problems: string[] = [];
  if (!Number.isInteger(g.width) || !Number.isInteger(g.height) || g.width < 1 || g.height < 1 ||
    g.width > MAX_SIDE || g.height > MAX_SIDE) problems.push(`size ${g.width}x${g.height}`);
  if (g.pixelSpacingMm.length !== 2 || !g.pixelSpacingMm.every((s) => Number.isFinite(s) && s > 0)) {
    problems.push(`pixel spacing ${g.pixelSpacingMm.join('\\')}`);
  }
  if (g.imagePositionPatient.length !== 3 || !g.imagePositionPatient.every(Number.isFinite)) {
    problems.push(`image position ${g.imagePositionPatient.join('\\')}`);
  }
  if (g.sliceThicknessMm !== undefined && !(Number.isFinite(g.sliceThicknessMm) && g.sliceThicknessMm > 0)) {
    problems.push(`slice thickness ${g.sliceThicknessMm}`);
  }
  const iop = g.imageOrientationPatient;
  if (iop.length !== 6 || !iop.every(Number.isFinite) || !isUnitVector(iop.slice(0, 3)) || !isUnitVector(iop.slice(3)) ||
    Math.abs(iop[0] * iop[3] + iop[1] * iop[4] + iop[2] * iop[5]) > 1e-3) {
    problems.push(`image orientation ${iop.join('\\')}`);
  }
  if (problems.length) throw new MipsegError('MIPSEG_DICOM_OUTPUT_INVALID', problems.join('; '));
}
