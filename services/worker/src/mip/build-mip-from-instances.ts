import { performance } from 'node:perf_hooks';
import { MipsegError } from '@mipseg/shared/errors';
import type { ModelManifest } from '@mipseg/shared/inference';
import { seriesSuvScaleFactors, SUV_BODY_WEIGHT_UNITS } from '../suv';
import { decodePetVolume, parsePetSeries, type PetVolumeGrid } from '../volume';
import { renderCoronalMip, type CoronalMip, type CoronalMipOptions } from './render-coronal-mip';

/** The part of the model manifest the MIP depends on. */
export type MipManifestInput = Pick<ModelManifest['input'], 'pixelSpacingMm' | 'intensity'>;

/** Wall-clock milliseconds per stage, for the jobs API and the pipeline benchmark. */
export interface MipStageTimings {
  /** Parse, sort and decode the slices into one volume. */
  readonly decode: number;
  /**
   * SUVbw scale factors. Applying them costs nothing apart: each slice's factor is folded into its rescale
   * as it is decoded (that time counts as decode).
   */
  readonly suv: number;
  /** Projection and resampling. */
  readonly mip: number;
}

export interface MipFromInstances {
  readonly mip: CoronalMip;
  /** The voxel grid the MIP was projected from: its geometry and source instances, in volume order. */
  readonly grid: PetVolumeGrid;
  readonly suvScaleFactors: readonly number[];
  readonly timingsMs: MipStageTimings;
}

function suvWhiteOf(input: MipManifestInput): number {
  const suvWhite = input.intensity.fromSuv.suvWhite;
  if (suvWhite === null) throw new MipsegError('MIPSEG_MODEL_INVALID', 'input.intensity.fromSuv.suvWhite is not set');
  return suvWhite;
}

/**
 * The MIP stage of the pipeline from the PS3.10 bytes of one PET series: parse and check the slices, compute
 * their SUVbw factors, decode the volume in SUVbw and project it as the model expects (its manifest's pixel
 * spacing and SUV scale). Returns per-stage timings.
 */
export function buildMipFromInstances(instanceBytes: readonly Uint8Array[], manifestInput: MipManifestInput): MipFromInstances {
  const options: CoronalMipOptions = { pixelSpacingMm: manifestInput.pixelSpacingMm, suvWhite: suvWhiteOf(manifestInput) };
  const t0 = performance.now();
  const series = parsePetSeries(instanceBytes);
  const t1 = performance.now();
  const suvScaleFactors = seriesSuvScaleFactors(series);
  const t2 = performance.now();
  const volume = decodePetVolume(series, { factors: suvScaleFactors, valueUnits: SUV_BODY_WEIGHT_UNITS });
  const t3 = performance.now();
  const mip = renderCoronalMip(volume, options);
  const t4 = performance.now();
  return { mip, grid: series.grid, suvScaleFactors, timingsMs: { decode: t1 - t0 + (t3 - t2), suv: t2 - t1, mip: t4 - t3 } };
}
