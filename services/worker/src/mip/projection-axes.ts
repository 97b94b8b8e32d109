import { MipsegError } from '@mipseg/shared/errors';
import type { PetVolumeGrid, Vec3 } from '../volume';

/** Which index of voxel (i, j, k) runs along an axis: column i (along a row), row j, or slice k. */
export type GridIndex = 'i' | 'j' | 'k';

/** A voxel-grid axis seen from one patient axis. */
export interface VoxelAxis {
  readonly index: GridIndex;
  /** Number of voxels along it. */
  readonly count: number;
  /** Distance in the Float32Array between neighbours along it. */
  readonly stride: number;
  /** Signed distance (mm) along the patient axis per index step: negative when the index runs against it. */
  readonly step: number;
  /** The patient coordinate of index 0 (at the volume origin). */
  readonly start: number;
}

/** Which voxel axis runs along patient x (right→left), y (anterior→posterior) and z (feet→head). */
export interface ProjectionAxes {
  readonly x: VoxelAxis;
  readonly y: VoxelAxis;
  readonly z: VoxelAxis;
}

/**
 * How far (in voxels of the finest spacing) the far end of a grid axis may drift sideways off its patient
 * axis. The MIP treats the grid as axis-aligned, so a lean shifts content; half a voxel is below what the
 * projection can show. PET grids are axis-aligned in practice; this tolerates rounded direction cosines.
 */
export const MAX_LEAN_VOXELS = 0.5;

interface GridAxis {
  readonly index: GridIndex;
  readonly name: string;
  readonly direction: Vec3;
  readonly spacing: number;
  readonly count: number;
  readonly stride: number;
}

function gridAxes(v: PetVolumeGrid): GridAxis[] {
  return [
    { index: 'i', name: 'row direction', direction: v.rowDirection, spacing: v.pixelSpacing[1], count: v.columns, stride: 1 },
    { index: 'j', name: 'column direction', direction: v.columnDirection, spacing: v.pixelSpacing[0], count: v.rows, stride: v.columns },
    { index: 'k', name: 'slice direction', direction: v.sliceDirection, spacing: v.sliceSpacing, count: v.slices, stride: v.rows * v.columns },
  ];
}

function alongPatientAxis(axes: readonly GridAxis[], patient: 0 | 1 | 2, origin: Vec3): VoxelAxis {
  const best = axes.reduce((a, b) => (Math.abs(b.direction[patient]) > Math.abs(a.direction[patient]) ? b : a));
  const cosine = best.direction[patient];
  const drift = (best.count - 1) * best.spacing * Math.sqrt(Math.max(0, 1 - cosine * cosine));
  const allowed = MAX_LEAN_VOXELS * Math.min(...axes.map((a) => a.spacing));
  if (drift > allowed) {
    throw new MipsegError('MIPSEG_VOLUME_UNSUPPORTED', `oblique acquisition: the ${best.name} ` +
      `(${best.direction.map((c) => c.toFixed(4)).join(', ')}) drifts ${drift.toFixed(1)} mm off the patient's ` +
      `${'xyz'[patient]} axis across the volume (at most ${allowed.toFixed(1)} mm is projected as axis-aligned)`);
  }
  return { index: best.index, count: best.count, stride: best.stride, step: cosine * best.spacing, start: origin[patient] };
}

/**
 * Matches the volume's grid axes to the patient axes from its orientation vectors, so that an axial, coronal
 * or sagittal series, head- or feet-first, with slices in either order, is projected the same way.
 * Throws MIPSEG_VOLUME_UNSUPPORTED for an oblique grid.
 */
export function projectionAxes(volume: PetVolumeGrid): ProjectionAxes {
  const axes = gridAxes(volume);
  return {
    x: alongPatientAxis(axes, 0, volume.origin),
    y: alongPatientAxis(axes, 1, volume.origin),
    z: alongPatientAxis(axes, 2, volume.origin),
  };
}
