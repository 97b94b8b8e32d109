import * as dicomParser from 'dicom-parser';
import { SopClass } from './sop-classes';
import { TransferSyntax } from './transfer-syntaxes';
import { MipsegError } from '../errors';
import { unpackBits } from './bit-packing';
import { parseStoredDicom } from './parse-options';

/** A binary mask read back from a SEG: 0/1 values, row-major, width × height. */
export interface SegMask {
  readonly width: number;
  readonly height: number;
  readonly mask: Uint8Array;
}

function unsupported(detail: string): MipsegError {
  return new MipsegError('MIPSEG_SEG_UNSUPPORTED', detail);
}

// Native little-endian only: bit-packed frames are not byte-swapped or inflated here.
const NATIVE_LITTLE_ENDIAN = new Set<string>([TransferSyntax.ImplicitVrLittleEndian, TransferSyntax.ExplicitVrLittleEndian]);

const text = (ds: dicomParser.DataSet, tag: string): string => (ds.string(tag) ?? '').replace(/\0/g, '').trim();

/**
 * Reads the mask of a BINARY SEG with native pixel data, as mipseg writes it (one frame on a 2D image).
 * Several frames are combined into one mask (their union): a SEG on a single image may carry one frame per
 * segment. Throws MIPSEG_SEG_UNSUPPORTED for anything else (other SOP class, FRACTIONAL/LABELMAP, compressed), and
 * for frames of more than `maxPixels` in all.
 */
export function readSegMask(bytes: Uint8Array, maxPixels = Number.POSITIVE_INFINITY): SegMask {
  const ds = parseStoredDicom(bytes);
  const sopClass = text(ds, 'x00080016');
  if (sopClass !== SopClass.SegmentationStorage) throw unsupported(`SOP class ${sopClass || 'missing'}`);
  const type = text(ds, 'x00620001');
  if (type !== 'BINARY' || ds.uint16('x00280100') !== 1) throw unsupported(`SegmentationType ${type}, BitsAllocated ${ds.uint16('x00280100')}`);
  const syntax = text(ds, 'x00020010');
  if (!NATIVE_LITTLE_ENDIAN.has(syntax)) throw unsupported(`transfer syntax ${syntax}`);
  const width = ds.uint16('x00280011') ?? 0;
  const height = ds.uint16('x00280010') ?? 0;
  const frames = Number(text(ds, 'x00280008') || '1');
  const pixel = ds.elements['x7fe00010'];
  const size = width * height;
  // Checked before anything is allocated: a caller answering a request bounds what one SEG may make it hold and
  // unpack, every frame counted (each is unpacked whole).
  if (size > maxPixels) throw unsupported(`a mask of ${width}x${height} pixels (at most ${maxPixels} read here)`);
  if (size * frames > maxPixels) throw unsupported(`${frames} frames of ${width}x${height} pixels (at most ${maxPixels} pixels in all read here)`);
  if (!pixel || size === 0 || !Number.isInteger(frames) || frames < 1 || pixel.length < Math.ceil((size * frames) / 8)) {
    throw unsupported(`${frames} frame(s) of ${width}x${height} in ${pixel?.length ?? 0} bytes of Pixel Data`);
  }
  const packed = bytes.subarray(pixel.dataOffset, pixel.dataOffset + pixel.length);
  const mask = new Uint8Array(size);
  for (let f = 0; f < frames; f++) {
    const frame = unpackBits(packed, size, f * size);
    for (let i = 0; i < size; i++) mask[i] = (mask[i] as number) | (frame[i] as number);
  }
  return { width, height, mask };
}
