import { MipsegError } from '@mipseg/shared/errors';
import { pixelDataSource, type PixelDataSource } from './decode-slice';
import { parseInstance, readString, type DataSet } from './dicom-dataset';
import type { PetVolumeGrid } from './pet-volume';
import { readSliceHeader, type SliceHeader } from './slice-header';
import { stackSlices } from './slice-stack';
import { readSourceAttributes } from './source-attributes';

/** 1 GiB of float32: far above a whole-body PET (400 x 400 x 600 is 96 M voxels), below what a worker can hold. */
export const MAX_VOLUME_VOXELS = 2 ** 28;

/**
 * One instance of a series, parsed once and reduced at once to what later steps read: its header, where its
 * Pixel Data is, its Units and what the caller's reader took. The data set itself is not kept: held for the
 * whole analysis, the parses of a few hundred instances outlived several young-generation collections and
 * were copied by each; not keeping them cut the CPU of a GE analysis by 12-20 % (docs/benchmarks.md).
 */
export interface PetSlice<T = undefined> {
  readonly header: SliceHeader;
  readonly pixels: PixelDataSource;
  /** Units (0054,1001), empty when absent. */
  readonly units: string;
  readonly extra: T;
}

/** What a caller reads from each instance's data set while it is parsed (see PetSlice). */
export type InstanceReader<T> = (ds: DataSet) => T;

/** A PET series parsed and checked to form one regular grid, its slices in volume order; nothing decoded yet. */
export interface PetSeries<T = undefined> {
  readonly grid: PetVolumeGrid;
  /** Slice k of the grid is `slices[k]`. */
  readonly slices: readonly PetSlice<T>[];
  /** Units (0054,1001), the same in every instance: what the rescaled values are in. */
  readonly units: string;
  /** What the reader took from each instance, in the order the instances were given. */
  readonly extras: readonly T[];
  /** The first instance given, parsed whole: for readers of every attribute of one instance. */
  readonly firstDataSet: DataSet;
}

function commonUnits(slices: readonly PetSlice<unknown>[]): string {
  const units = slices.map((s) => s.units);
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
 * the slice normal and checks they form one grid (see stackSlices). `read` takes what else the caller needs
 * from each data set while it is parsed (see PetSlice). Pixel data stays in the bytes given, which must outlive
 * the result. Throws MIPSEG_VOLUME_INVALID, MIPSEG_VOLUME_UNSUPPORTED or MIPSEG_DICOM_UNPARSEABLE naming the
 * instance.
 */
export function parsePetSeries(instanceBytes: readonly Uint8Array[]): PetSeries;
export function parsePetSeries<T>(instanceBytes: readonly Uint8Array[], read: InstanceReader<T>): PetSeries<T>;
export function parsePetSeries<T>(instanceBytes: readonly Uint8Array[], read?: InstanceReader<T>): PetSeries<T | undefined> {
  const reduce = (ds: DataSet): PetSlice<T | undefined> =>
    ({ header: readSliceHeader(ds), pixels: pixelDataSource(ds), units: readString(ds, '00541001') ?? '', extra: read?.(ds) });
  const [head, ...rest] = instanceBytes;
  if (!head) throw new MipsegError('MIPSEG_VOLUME_INVALID', 'no instances; a volume needs at least 2 slices');
  const firstDataSet = parseInstance(head);
  const parsed = [reduce(firstDataSet), ...rest.map((bytes) => reduce(parseInstance(bytes)))];
  const stack = stackSlices(parsed.map((p) => p.header));
  const slices = stack.order.map((i) => parsed[i] as PetSlice<T | undefined>);
  const first = slices[0] as PetSlice<T | undefined>;
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
      source: readSourceAttributes(firstDataSet.byteArray, firstDataSet),
    },
    slices,
    units,
    extras: parsed.map((p) => p.extra),
    firstDataSet,
  };
}
