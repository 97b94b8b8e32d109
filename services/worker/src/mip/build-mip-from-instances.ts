import { performance } from 'node:perf_hooks';
import { MipsegError } from '@mipseg/shared/errors';
import type { ModelManifest } from '@mipseg/shared/inference';
import { readSuvMetadataFromDataSet, seriesSuvScaleFactors, type SuvInstanceMetadata } from '../suv';
import { decodeSliceInto, parsePetSeries, type DataSet, type InstanceReader, type PetSeries, type PetVolumeGrid } from '../volume';
import { CoronalMipProjection, type CoronalMip, type CoronalMipOptions } from './render-coronal-mip';

/** The part of the model manifest the MIP depends on. */
export type MipManifestInput = Pick<ModelManifest['input'], 'pixelSpacingMm' | 'intensity'>;

/** Wall-clock milliseconds per stage, for the jobs API and the pipeline benchmark. */
export interface MipStageTimings {
  /** Parse, sort and decode the slices. */
  readonly decode: number;
  /**
   * SUVbw scale factors. Applying them costs nothing apart: each slice's factor is folded into its rescale
   * as it is decoded (that time counts as decode).
   */
  readonly suv: number;
  /** Projection (slice by slice, as each is decoded) and resampling. */
  readonly mip: number;
}

export interface MipFromInstances<T = undefined> {
  readonly mip: CoronalMip;
  /** The voxel grid the MIP was projected from: its geometry and source instances, in volume order. */
  readonly grid: PetVolumeGrid;
  /** What `read` took from each instance while it was parsed, in the order given (later stages parse none again). */
  readonly extras: readonly T[];
  /** The first instance given, parsed whole. */
  readonly firstDataSet: DataSet;
  readonly suvScaleFactors: readonly number[];
  readonly timingsMs: MipStageTimings;
}

function suvWhiteOf(input: MipManifestInput): number {
  const suvWhite = input.intensity.fromSuv.suvWhite;
  if (suvWhite === null) throw new MipsegError('MIPSEG_MODEL_INVALID', 'input.intensity.fromSuv.suvWhite is not set');
  return suvWhite;
}

/**
 * Decodes each slice in SUVbw into one reused slice buffer and adds it to the projection: the series' volume
 * is never held whole (400 × 400 × 600 would be 384 MB of float32). Returns the time spent decoding.
 */
function projectSeries(series: PetSeries<unknown>, factors: readonly number[], projection: CoronalMipProjection): number {
  const slice = new Float32Array(series.grid.columns * series.grid.rows);
  let decodeMs = 0;
  series.slices.forEach((s, k) => {
    const t0 = performance.now();
    decodeSliceInto(s.pixels, s.header, slice, factors[k]);
    decodeMs += performance.now() - t0;
    projection.addSlice(k, slice);
  });
  return decodeMs;
}

/**
 * The MIP stage of the pipeline from the PS3.10 bytes of one PET series: parse and check the slices, compute
 * their SUVbw factors, decode each slice in SUVbw and project it as the model expects (its manifest's pixel
 * spacing and SUV scale). `read` takes what later stages need from each instance while it is parsed (see
 * PetSlice). Returns per-stage timings.
 */
export function buildMipFromInstances(instanceBytes: readonly Uint8Array[], manifestInput: MipManifestInput): MipFromInstances;
export function buildMipFromInstances<T>(instanceBytes: readonly Uint8Array[], manifestInput: MipManifestInput,
  read: InstanceReader<T>): MipFromInstances<T>;
export function buildMipFromInstances<T>(instanceBytes: readonly Uint8Array[], manifestInput: MipManifestInput,
  read?: InstanceReader<T>): MipFromInstances<T | undefined> {
  const options: CoronalMipOptions = { pixelSpacingMm: manifestInput.pixelSpacingMm, suvWhite: suvWhiteOf(manifestInput),
    clampInput: manifestInput.intensity.normalisation === undefined };
  const t0 = performance.now();
  const series = parsePetSeries(instanceBytes, (ds): { suv: SuvInstanceMetadata; more: T | undefined } =>
    ({ suv: readSuvMetadataFromDataSet(ds), more: read?.(ds) }));
  const t1 = performance.now();
  const suvScaleFactors = seriesSuvScaleFactors(series);
  const t2 = performance.now();
  const projection = new CoronalMipProjection(series.grid, options);
  const sliceDecodeMs = projectSeries(series, suvScaleFactors, projection);
  const mip = projection.finish();
  const t3 = performance.now();
  return {
    mip,
    grid: series.grid,
    extras: series.extras.map((e) => e.more),
    firstDataSet: series.firstDataSet,
    suvScaleFactors,
    // SUV metadata is read during the parse: its time counts as decode, as the factors' own computation does not.
    timingsMs: { decode: t1 - t0 + sliceDecodeMs, suv: t2 - t1, mip: t3 - t2 - sliceDecodeMs },
  };
}
