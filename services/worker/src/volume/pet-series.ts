import { MipsegError } from '@mipseg/shared/errors';
import { parseInstance, readString, type DataSet } from './dicom-dataset';
import type { PetVolumeGrid } from './pet-volume';
import { readSliceHeader, type SliceHeader } from './slice-header';
import { stackSlices } from './slice-stack';
import { readSourceAttributes } from './source-attributes';

/** 1 GiB of float32: far above a whole-body PET (400 x 400 x 600 is 96 M voxels), below what a worker can hold. */
export const MAX_VOLUME_VOXELS = 2 ** 28;

/** One instance of a series, parsed once: what every later step reads (values, Pixel Data) is found from here. */
export interface PetSlice {
  readonly ds: DataSet;
  readonly header: SliceHeader;
}

/** A PET series parsed and checked to form one regular grid, its slices in volume order; nothing decoded yet. */
export interface PetSeries {
  readonly grid: PetVolumeGrid;
  /** Slice k of the grid is `slices[k]`. */
  readonly slices: readonly PetSlice[];
  /** Units (0054,1001), the same in every instance: what the rescaled values are in. */
  readonly units: string;
  /** Every instance's data set in the order the instances were given (for later readers: no second parse). */
  readonly dataSets: readonly DataSet[];
}

function commonUnits(slices: readonly PetSlice[]): string {
  const units = slices.map((s) => readString(s.ds, '00541001') ?? '');
  const differing = units.findIndex((u) => u !== units[0]);
  if (differing >= 0) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${slices[differing]?.header.sopInstanceUid} has Units ` +
      `(0054,1001) "${units[differing]}", others "${units[0]}"`);
  }
  return units[0] as string;
}

function assertVolumeSize(header: SliceHeader, slices: number): void {
  if (header.columns * header.rows * slices > MAX_VOLUME_VOXELS) {
    throw new MipsegError('MIPSEG_VOLUME_UNSUPPORTED',
      `${header.columns} x ${header.rows} x ${slices} voxels exceed the limit of ${MAX_VOLUME_VOXELS}`);
  }
}

/**
 * Parses the single-frame instances of a PET series (PS3.10 bytes, any order), each once, sorts them along
 * the slice normal and checks they form one grid (see stackSlices). The data sets point into the bytes given,
 * which must outlive the result. Throws MIPSEG_VOLUME_INVALID, MIPSEG_VOLUME_UNSUPPORTED or
 * MIPSEG_DICOM_UNPARSEABLE naming the instance.
 */
export function parsePetSeries(instanceBytes: readonly Uint8Array[]): PetSeries {
  const parsed = instanceBytes.map((bytes): PetSlice => {
    const ds = parseInstance(bytes);
    return { ds, header: readSliceHeader(ds) };
  });
  const stack = stackSlices(parsed.map((p) => p.header));
  const slices = stack.order.map((i) => parsed[i] as PetSlice);
  const first = slices[0] as PetSlice;
  assertVolumeSize(first.header, slices.length);
  const units = commonUnits(slices);
  return {
    grid: {
      columns: first.header.columns,
      rows: first.header.rows,
      slices: slices.length,
      rowDirection: stack.rowDirection,
      columnDirection: stack.columnDirection,
      sliceDirection: stack.sliceDirection,
      origin: stack.origin,
      pixelSpacing: first.header.pixelSpacing,
      sliceSpacing: stack.sliceSpacing,
      frameOfReferenceUid: first.header.frameOfReferenceUid,
      instances: slices.map((s) => ({ sopClassUid: s.header.sopClassUid, sopInstanceUid: s.header.sopInstanceUid })),
      source: readSourceAttributes(first.ds.byteArray, first.ds),
    },
    slices,
    units,
    dataSets: parsed.map((p) => p.ds),
  };
}
