import { decodeSliceInto, parseInstance, pixelDataSource, readSliceHeader } from '../../../services/worker/src/volume';

export interface DecodedSlice {
  /** Rescaled values (no SUV factor). */
  readonly values: Float32Array;
  readonly rescaleSlope: number;
  readonly transferSyntaxUid: string;
}

/** Each instance decoded on its own, as one slice: no series checks, so one instance or a broken one will do. */
export function decodeSlices(instances: readonly Uint8Array[]): DecodedSlice[] {
  return instances.map((bytes) => {
    const ds = parseInstance(bytes);
    const header = readSliceHeader(ds);
    const values = new Float32Array(header.rows * header.columns);
    decodeSliceInto(pixelDataSource(ds), header, values);
    return { values, rescaleSlope: header.rescaleSlope, transferSyntaxUid: header.transferSyntaxUid };
  });
}

/** What decoding these instances throws (undefined when it does not throw). */
export function decodeFailure(instances: readonly Uint8Array[]): unknown {
  try {
    decodeSlices(instances);
  } catch (err) {
    return err;
  }
  return undefined;
}

/**
 * Where two arrays of values first differ (a value, or the length), -1 where they are equal. expect().toEqual
 * takes seconds over a whole series' voxels; this takes milliseconds and still names the first voxel off.
 */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (!Object.is(a[i], b[i])) return i;
  return a.length === b.length ? -1 : length;
}
