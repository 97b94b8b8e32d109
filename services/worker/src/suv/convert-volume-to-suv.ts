import { MipsegError } from '@mipseg/shared/errors';
import type { PetVolume } from '../volume';
import { computeSuvScaleFactors } from './suv-scale-factors';
import type { SuvInstanceMetadata } from './suv-instance-metadata';

/** The value units of a volume once converted. */
export const SUV_BODY_WEIGHT_UNITS = 'SUVbw';

export interface SuvConversion {
  /** The same volume, its voxels now SUVbw. */
  readonly volume: PetVolume;
  /** The factor applied to each slice, in volume order. */
  readonly scaleFactors: readonly number[];
}

function metadataInVolumeOrder(volume: PetVolume, metadata: readonly SuvInstanceMetadata[]): SuvInstanceMetadata[] {
  const bySop = new Map(metadata.map((m) => [m.sopInstanceUid, m]));
  return volume.instances.map((ref) => {
    const m = bySop.get(ref.sopInstanceUid);
    if (!m) throw new MipsegError('MIPSEG_SUV_UNAVAILABLE', `no SUV metadata for instance ${ref.sopInstanceUid}`);
    return m;
  });
}

/**
 * Scales every slice of a volume (in the series' Units) to SUVbw with its own factor. To keep memory at one
 * copy of the voxels, the Float32Array is scaled in place and shared by the returned volume: the volume passed
 * in must not be used as Bq/ml afterwards.
 */
export function convertVolumeToSuv(volume: PetVolume, metadata: readonly SuvInstanceMetadata[]): SuvConversion {
  if (volume.valueUnits === SUV_BODY_WEIGHT_UNITS) {
    throw new MipsegError('MIPSEG_INTERNAL', 'volume is already in SUVbw');
  }
  const scaleFactors = computeSuvScaleFactors(metadataInVolumeOrder(volume, metadata));
  const sliceSize = volume.columns * volume.rows;
  scaleFactors.forEach((factor, k) => {
    const slice = volume.voxels.subarray(k * sliceSize, (k + 1) * sliceSize);
    for (let i = 0; i < slice.length; i++) slice[i] = (slice[i] as number) * factor;
  });
  return { volume: { ...volume, valueUnits: SUV_BODY_WEIGHT_UNITS }, scaleFactors };
}
