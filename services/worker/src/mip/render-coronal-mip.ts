import { MipsegError } from '@mipseg/shared/errors';
import { SUV_BODY_WEIGHT_UNITS } from '../suv';
import type { PetVolume, PetVolumeGrid } from '../volume';
import { CORONAL_MIP_ORIENTATION, type MipGeometry } from './mip-geometry';
import { projectionAxes, type GridIndex, type ProjectionAxes, type VoxelAxis } from './projection-axes';
import { axisFootprints, axisWeights, resampleImage, resampleImageByMaximum } from './resampling';

export interface CoronalMipOptions {
  /** Output pixel spacing, mm (the model manifest's input.pixelSpacingMm). */
  readonly pixelSpacingMm: number;
  /** SUV that maps to network input 1 (the manifest's input.intensity.fromSuv.suvWhite). */
  readonly suvWhite: number;
  /**
   * Whether `input` is clamped at 1 (default). A model that normalises its input (manifest
   * input.intensity.normalisation) is given the values above 1 too and clamps after normalising: a study
   * brighter than the mapping assumed then keeps the contrast inside its hottest lesions.
   */
  readonly clampInput?: boolean;
}

/** A coronal maximum-intensity projection in SUVbw, head at the top, patient's right on the image's left. */
export interface CoronalMip extends MipGeometry {
  /**
   * Row-major, width x height: the largest SUVbw along the patient's anterior–posterior axis, and over the voxel
   * columns each pixel covers (so the MIP's SUVmax is the volume's). What is stored and shown.
   */
  readonly suv: Float32Array;
  /**
   * The image for the model: the projection interpolated to the pixels (linear when enlarging, area-weighted when
   * shrinking, as the training images were made), mapped as clamp(SUV / suvWhite, 0, 1), or max(SUV / suvWhite, 0)
   * without clampInput.
   */
  readonly input: Float32Array;
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

function assertUnits(volume: PetVolume): void {
  if (volume.valueUnits !== SUV_BODY_WEIGHT_UNITS) {
    throw new MipsegError('MIPSEG_INTERNAL', `MIP of a volume in ${volume.valueUnits}, not ${SUV_BODY_WEIGHT_UNITS}`);
  }
}

function assertOptions(options: CoronalMipOptions): void {
  if (!(options.pixelSpacingMm > 0) || !(options.suvWhite > 0)) {
    throw new MipsegError('MIPSEG_INTERNAL', `MIP options ${JSON.stringify(options)}: spacing and suvWhite must be > 0`);
  }
}

function toInput(suv: Float32Array, { suvWhite, clampInput = true }: CoronalMipOptions): Float32Array {
  const ceiling = clampInput ? 1 : Infinity;
  return suv.map((v) => Math.min(ceiling, Math.max(0, v / suvWhite)));
}

/**
 * Where voxel (i, j, k) lands in the projection (indexed [z][x], x.count wide): at i·perI + j·perJ + k·perK,
 * where the index along x weighs 1, the one along z weighs x.count and the one along y (projected away) 0.
 */
function landingWeights(axes: ProjectionAxes): Record<GridIndex, number> {
  if (new Set([axes.x.index, axes.y.index, axes.z.index]).size !== 3) {
    throw new MipsegError('MIPSEG_VOLUME_UNSUPPORTED', 'the grid\'s axes do not map one to one onto the patient\'s');
  }
  const weights: Record<GridIndex, number> = { i: 0, j: 0, k: 0 };
  weights[axes.x.index] = 1;
  weights[axes.z.index] = axes.x.count;
  return weights;
}

/**
 * A coronal MIP built one slice at a time, so that a series can be projected as it is decoded and its whole
 * volume need never exist: each slice's voxels go into the running maximum along the patient's
 * anterior–posterior axis, then finish() resamples that to the output grid (see renderCoronalMip).
 */
export class CoronalMipProjection {
  private readonly axes: ProjectionAxes;
  private readonly weights: Record<GridIndex, number>;
  /** The largest value along y so far for every (x, z) of the voxel grid, indexed [z index][x index]. */
  private readonly maxima: Float32Array;

  constructor(private readonly grid: PetVolumeGrid, private readonly options: CoronalMipOptions) {
    assertOptions(options);
    this.axes = projectionAxes(grid);
    this.weights = landingWeights(this.axes);
    this.maxima = new Float32Array(this.axes.x.count * this.axes.z.count).fill(-Infinity);
  }

  /** Takes slice k (Rows × Columns SUVbw values, row-major) into the running maximum. */
  addSlice(k: number, values: Float32Array): void {
    const { columns, rows } = this.grid;
    const { i: perI, j: perJ, k: perK } = this.weights;
    const maxima = this.maxima;
    for (let j = 0; j < rows; j++) {
      const landing = k * perK + j * perJ;
      const row = j * columns;
      for (let i = 0; i < columns; i++) {
        const v = values[row + i] as number;
        const at = landing + i * perI;
        if (v > (maxima[at] as number)) maxima[at] = v;
      }
    }
  }

  /** The MIP once every slice has been added: resampled to square pixels of the requested spacing. */
  finish(): CoronalMip {
    const { x, y, z } = this.axes;
    const spacing = this.options.pixelSpacingMm;
    const width = Math.max(1, Math.round((x.count * Math.abs(x.step)) / spacing));
    const height = Math.max(1, Math.round((z.count * Math.abs(z.step)) / spacing));
    const columns = samplePositions(x, width, spacing, 1);
    const rows = samplePositions(z, height, spacing, -1);
    const [xRatio, zRatio] = [spacing / Math.abs(x.step), spacing / Math.abs(z.step)];
    // The model sees the image it was trained on, interpolated; what is stored and shown in SUV keeps every peak.
    const interpolated = resampleImage(this.maxima, x.count, z.count,
      axisWeights(x.count, columns.indices, xRatio), axisWeights(z.count, rows.indices, zRatio));
    const suv = resampleImageByMaximum(this.maxima, x.count, z.count,
      axisFootprints(x.count, columns.indices, xRatio), axisFootprints(z.count, rows.indices, zRatio));
    return {
      width,
      height,
      pixelSpacingMm: [spacing, spacing],
      imagePositionPatient: [columns.first, y.start + ((y.count - 1) * y.step) / 2, rows.first],
      imageOrientationPatient: CORONAL_MIP_ORIENTATION,
      sliceThicknessMm: y.count * Math.abs(y.step),
      frameOfReferenceUid: this.grid.frameOfReferenceUid,
      suv,
      input: toInput(interpolated, this.options),
    };
  }
}

/**
 * Renders the coronal MIP of an SUVbw volume: the maximum along the patient's anterior–posterior axis within
 * the voxel grid, then resampled to `pixelSpacingMm` square pixels: by the maximum under each pixel for the SUV
 * image, and for the model's input by linear interpolation when enlarging, area-weighted when shrinking (see
 * axisWeights). Rows run head→feet and columns patient right→left whatever
 * the acquisition's orientation or slice order. Pure: no I/O; the volume is not changed.
 */
export function renderCoronalMip(volume: PetVolume, options: CoronalMipOptions): CoronalMip {
  assertUnits(volume);
  const projection = new CoronalMipProjection(volume, options);
  const sliceSize = volume.columns * volume.rows;
  for (let k = 0; k < volume.slices; k++) projection.addSlice(k, volume.voxels.subarray(k * sliceSize, (k + 1) * sliceSize));
  return projection.finish();
}
