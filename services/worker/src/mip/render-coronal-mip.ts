import { MipsegError } from '@mipseg/shared/errors';
import { SUV_BODY_WEIGHT_UNITS } from '../suv';
import type { PetVolume } from '../volume';
import { CORONAL_MIP_ORIENTATION, type MipGeometry } from './mip-geometry';
import { projectionAxes, type VoxelAxis } from './projection-axes';
import { axisWeights, resampleImage } from './resampling';

export interface CoronalMipOptions {
  /** Output pixel spacing, mm (the model manifest's input.pixelSpacingMm). */
  readonly pixelSpacingMm: number;
  /** SUV that maps to network input 1 (the manifest's input.intensity.fromSuv.suvWhite). */
  readonly suvWhite: number;
}

/** A coronal maximum-intensity projection in SUVbw, head at the top, patient's right on the image's left. */
export interface CoronalMip extends MipGeometry {
  /** Row-major, width x height: the largest SUVbw along the patient's anterior–posterior axis. */
  readonly suv: Float32Array;
  /** The network input: clamp(suv / suvWhite, 0, 1). */
  readonly input: Float32Array;
}

/** Largest value along y for every (x, z) of the grid, indexed [z index][x index] in grid order. */
function projectAlongY(voxels: Float32Array, x: VoxelAxis, y: VoxelAxis, z: VoxelAxis): Float32Array {
  const mip = new Float32Array(x.count * z.count).fill(-Infinity);
  for (let iz = 0; iz < z.count; iz++) {
    const row = mip.subarray(iz * x.count, (iz + 1) * x.count);
    for (let iy = 0; iy < y.count; iy++) {
      const base = iz * z.stride + iy * y.stride;
      for (let ix = 0; ix < x.count; ix++) {
        const v = voxels[base + ix * x.stride] as number;
        if (v > (row[ix] as number)) row[ix] = v;
      }
    }
  }
  return mip;
}

/**
 * Output sample positions along one patient axis, as fractional grid indices: `count` pixels of `spacing` mm
 * centred on the grid's extent, walking the axis in `direction` (+1 or -1).
 */
function samplePositions(axis: VoxelAxis, count: number, spacing: number, direction: 1 | -1): { first: number; indices: number[] } {
  const centre = axis.start + ((axis.count - 1) * axis.step) / 2;
  const first = centre - (direction * (count - 1) * spacing) / 2;
  const indices = Array.from({ length: count }, (_, p) => (first + direction * p * spacing - axis.start) / axis.step);
  return { first, indices };
}

function assertOptions(volume: PetVolume, options: CoronalMipOptions): void {
  if (volume.valueUnits !== SUV_BODY_WEIGHT_UNITS) {
    throw new MipsegError('MIPSEG_INTERNAL', `MIP of a volume in ${volume.valueUnits}, not ${SUV_BODY_WEIGHT_UNITS}`);
  }
  if (!(options.pixelSpacingMm > 0) || !(options.suvWhite > 0)) {
    throw new MipsegError('MIPSEG_INTERNAL', `MIP options ${JSON.stringify(options)}: spacing and suvWhite must be > 0`);
  }
}

const toInput = (suv: Float32Array, suvWhite: number): Float32Array =>
  suv.map((v) => Math.min(1, Math.max(0, v / suvWhite)));

/**
 * Renders the coronal MIP of an SUVbw volume: the maximum along the patient's anterior–posterior axis within
 * the voxel grid, then resampled to `pixelSpacingMm` square pixels (linear interpolation when enlarging,
 * area-weighted when shrinking; see axisWeights). Rows run head→feet and columns patient right→left whatever
 * the acquisition's orientation or slice order. Pure: no I/O; the volume is not changed.
 */
export function renderCoronalMip(volume: PetVolume, options: CoronalMipOptions): CoronalMip {
  assertOptions(volume, options);
  const { x, y, z } = projectionAxes(volume);
  const spacing = options.pixelSpacingMm;
  const width = Math.max(1, Math.round((x.count * Math.abs(x.step)) / spacing));
  const height = Math.max(1, Math.round((z.count * Math.abs(z.step)) / spacing));
  const columns = samplePositions(x, width, spacing, 1);
  const rows = samplePositions(z, height, spacing, -1);
  const grid = projectAlongY(volume.voxels, x, y, z);
  const suv = resampleImage(grid, x.count, z.count,
    axisWeights(x.count, columns.indices, spacing / Math.abs(x.step)),
    axisWeights(z.count, rows.indices, spacing / Math.abs(z.step)));
  return {
    width,
    height,
    pixelSpacingMm: [spacing, spacing],
    imagePositionPatient: [columns.first, y.start + ((y.count - 1) * y.step) / 2, rows.first],
    imageOrientationPatient: CORONAL_MIP_ORIENTATION,
    sliceThicknessMm: y.count * Math.abs(y.step),
    frameOfReferenceUid: volume.frameOfReferenceUid,
    suv,
    input: toInput(suv, options.suvWhite),
  };
}
