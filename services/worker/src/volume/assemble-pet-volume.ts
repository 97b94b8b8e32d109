import { MipsegError } from '@mipseg/shared/errors';
import { decodeSliceInto } from './decode-slice';
import { parsePetSeries, type PetSeries } from './pet-series';
import type { PetVolume } from './pet-volume';

/** Values other than the series' Units: each slice's factor and the units the products are in. */
export interface VolumeScaling {
  /** One per slice, in volume order: multiplies the slice's rescaled values. */
  readonly factors: readonly number[];
  readonly valueUnits: string;
}

/**
 * Decodes every slice of a parsed series straight into one Float32Array, each with its own RescaleSlope and
 * Intercept and, where `scaling` is given, its factor folded into them (one pass over the voxels either way).
 */
export function decodePetVolume(series: PetSeries<unknown>, scaling?: VolumeScaling): PetVolume {
  const { columns, rows, slices } = series.grid;
  if (scaling && scaling.factors.length !== slices) {
    throw new MipsegError('MIPSEG_INTERNAL', `${scaling.factors.length} scale factors for ${slices} slices`);
  }
  const sliceSize = columns * rows;
  const voxels = new Float32Array(sliceSize * slices);
  series.slices.forEach((s, k) =>
    decodeSliceInto(s.pixels, s.header, voxels.subarray(k * sliceSize, (k + 1) * sliceSize), scaling?.factors[k] ?? 1));
  return { ...series.grid, voxels, valueUnits: scaling?.valueUnits ?? series.units };
}

/**
 * Builds one regular volume from the single-frame instances of a PET series (PS3.10 bytes, any order): see
 * parsePetSeries for the checks. Each slice is decoded (native little endian, JPEG Lossless, JPEG-LS or
 * JPEG 2000) with its own RescaleSlope/Intercept, so voxel values are in the series' Units (e.g. BQML).
 * Throws MIPSEG_VOLUME_INVALID, MIPSEG_VOLUME_UNSUPPORTED or MIPSEG_DICOM_UNPARSEABLE naming the instance.
 */
export function assemblePetVolume(instanceBytes: readonly Uint8Array[]): PetVolume {
  return decodePetVolume(parsePetSeries(instanceBytes));
}
