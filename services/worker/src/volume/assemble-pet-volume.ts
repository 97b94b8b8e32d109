import { MipsegError } from '@mipseg/shared/errors';
import { decodeSliceInto } from './decode-slice';
import { parseInstance, readString, type DataSet } from './dicom-dataset';
import type { PetVolume } from './pet-volume';
import { readSliceHeader, type SliceHeader } from './slice-header';
import { stackSlices } from './slice-stack';
import { readSourceAttributes } from './source-attributes';

/** 1 GiB of float32: far above a whole-body PET (400 x 400 x 600 is 96 M voxels), below what a worker can hold. */
export const MAX_VOLUME_VOXELS = 2 ** 28;

interface ParsedSlice {
  readonly bytes: Uint8Array;
  readonly ds: DataSet;
  readonly header: SliceHeader;
}

function commonUnits(slices: readonly ParsedSlice[]): string {
  const units = slices.map((s) => readString(s.ds, '00541001') ?? '');
  const differing = units.findIndex((u) => u !== units[0]);
  if (differing >= 0) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${slices[differing]?.header.sopInstanceUid} has Units ` +
      `(0054,1001) "${units[differing]}", others "${units[0]}"`);
  }
  return units[0] as string;
}

function allocateVoxels(header: SliceHeader, slices: number): Float32Array {
  const count = header.columns * header.rows * slices;
  if (count > MAX_VOLUME_VOXELS) {
    throw new MipsegError('MIPSEG_VOLUME_UNSUPPORTED',
      `${header.columns} x ${header.rows} x ${slices} voxels exceed the limit of ${MAX_VOLUME_VOXELS}`);
  }
  return new Float32Array(count);
}

/**
 * Builds one regular volume from the single-frame instances of a PET series (PS3.10 bytes, any order).
 * Slices are sorted along the slice normal and checked (see stackSlices); each is decoded (native little
 * endian or JPEG Lossless) straight into the one Float32Array with its own RescaleSlope/Intercept, so voxel
 * values are in the series' Units (e.g. BQML) until SUV conversion.
 * Throws MIPSEG_VOLUME_INVALID, MIPSEG_VOLUME_UNSUPPORTED or MIPSEG_DICOM_UNPARSEABLE naming the instance.
 */
export function assemblePetVolume(instanceBytes: readonly Uint8Array[]): PetVolume {
  const parsed = instanceBytes.map((bytes): ParsedSlice => {
    const ds = parseInstance(bytes);
    return { bytes, ds, header: readSliceHeader(ds) };
  });
  const stack = stackSlices(parsed.map((p) => p.header));
  const sorted = stack.order.map((i) => parsed[i] as ParsedSlice);
  const first = sorted[0] as ParsedSlice;
  const { columns, rows } = first.header;
  const voxels = allocateVoxels(first.header, sorted.length);
  const valueUnits = commonUnits(sorted);
  sorted.forEach((s, k) => decodeSliceInto(s.bytes, s.ds, s.header, voxels.subarray(k * rows * columns, (k + 1) * rows * columns)));
  return {
    columns,
    rows,
    slices: sorted.length,
    voxels,
    valueUnits,
    rowDirection: stack.rowDirection,
    columnDirection: stack.columnDirection,
    sliceDirection: stack.sliceDirection,
    origin: stack.origin,
    pixelSpacing: first.header.pixelSpacing,
    sliceSpacing: stack.sliceSpacing,
    frameOfReferenceUid: first.header.frameOfReferenceUid,
    instances: sorted.map((s) => ({ sopClassUid: s.header.sopClassUid, sopInstanceUid: s.header.sopInstanceUid })),
    source: readSourceAttributes(first.bytes, first.ds),
  };
}
