import { performance } from 'node:perf_hooks';
import { MipsegError } from '@mipseg/shared/errors';
import type { ModelManifest } from '@mipseg/shared/inference';
import { convertVolumeToSuv, readSuvInstanceMetadata } from '../suv';
import { assemblePetVolume, type PetVolume } from '../volume';
import { renderCoronalMip, type CoronalMip } from './render-coronal-mip';

/** The part of the model manifest the MIP depends on. */
export type MipManifestInput = Pick<ModelManifest['input'], 'pixelSpacingMm' | 'intensity'>;

/** Wall-clock milliseconds per stage, for the pipeline benchmark. */
export interface MipStageTimings {
  /** Parse, sort and decode the slices into one volume. */
  readonly decode: number;
  /** SUVbw scale factors and their application. */
  readonly suv: number;
  /** Projection and resampling. */
  readonly mip: number;
}

export interface MipFromInstances {
  readonly mip: CoronalMip;
  /** The SUVbw volume the MIP was projected from (its references and source attributes feed the results). */
  readonly volume: PetVolume;
  readonly suvScaleFactors: readonly number[];
  readonly timingsMs: MipStageTimings;
}

function suvWhiteOf(input: MipManifestInput): number {
  const suvWhite = input.intensity.fromSuv.suvWhite;
  if (suvWhite === null) throw new MipsegError('MIPSEG_MODEL_INVALID', 'input.intensity.fromSuv.suvWhite is not set');
  return suvWhite;
}

/**
 * The MIP stage of the pipeline from the PS3.10 bytes of one PET series: assemble the volume, convert it to
 * SUVbw, project it as the model expects (its manifest's pixel spacing and SUV scale). Returns per-stage timings.
 */
export function buildMipFromInstances(instanceBytes: readonly Uint8Array[], manifestInput: MipManifestInput): MipFromInstances {
  const suvWhite = suvWhiteOf(manifestInput);
  const t0 = performance.now();
  const raw = assemblePetVolume(instanceBytes);
  const t1 = performance.now();
  // SUV inputs are read with a second, header-only parse: cheap beside decoding, and the stages stay independent.
  const { volume, scaleFactors } = convertVolumeToSuv(raw, instanceBytes.map(readSuvInstanceMetadata));
  const t2 = performance.now();
  const mip = renderCoronalMip(volume, { pixelSpacingMm: manifestInput.pixelSpacingMm, suvWhite });
  const t3 = performance.now();
  return { mip, volume, suvScaleFactors: scaleFactors, timingsMs: { decode: t1 - t0, suv: t2 - t1, mip: t3 - t2 } };
}
