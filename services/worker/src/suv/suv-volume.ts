import { decodePetVolume, parsePetSeries, type PetSeries, type PetVolume } from '../volume';
import { readSuvMetadataFromDataSet, type SuvInstanceMetadata } from './suv-instance-metadata';
import { computeSuvScaleFactors } from './suv-scale-factors';

/** The value units of a volume in SUV body weight. */
export const SUV_BODY_WEIGHT_UNITS = 'SUVbw';

/**
 * SUVbw scale factors of a parsed series, one per slice in volume order (SUVbw = rescaled value × factor),
 * from the SUV metadata read from each instance while it was parsed (parsePetSeries with
 * readSuvMetadataFromDataSet): no instance is parsed again. Throws MIPSEG_SUV_UNAVAILABLE naming what is
 * missing (see computeSuvScaleFactors).
 */
export function seriesSuvScaleFactors(series: PetSeries<{ readonly suv: SuvInstanceMetadata }>): number[] {
  return computeSuvScaleFactors(series.slices.map((s) => s.extra.suv));
}

export interface SuvVolume {
  /** The series' voxels in SUVbw. */
  readonly volume: PetVolume;
  /** The factor of each slice, in volume order. */
  readonly scaleFactors: readonly number[];
}

/**
 * The SUVbw volume of a PET series (PS3.10 bytes, any order): each slice's factor is folded into its rescale
 * as it is decoded, so the voxels are written once and never scaled in a second pass.
 */
export function assembleSuvVolume(instanceBytes: readonly Uint8Array[]): SuvVolume {
  const series = parsePetSeries(instanceBytes, (ds) => ({ suv: readSuvMetadataFromDataSet(ds) }));
  const scaleFactors = seriesSuvScaleFactors(series);
  return { volume: decodePetVolume(series, { factors: scaleFactors, valueUnits: SUV_BODY_WEIGHT_UNITS }), scaleFactors };
}
