import * as dicomParser from 'dicom-parser';
import {
  DECODABLE_ENCAPSULATED_TRANSFER_SYNTAXES,
  decodedSizeMismatch,
  frameCodecFor,
  type DecodedFrame,
  type FrameCodec,
} from '@mipseg/shared/codecs';
import { TransferSyntax, viewStoredSamples } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import type { DataSet } from './dicom-dataset';
import type { SliceHeader } from './slice-header';

const NATIVE = new Set<string>([TransferSyntax.ImplicitVrLittleEndian, TransferSyntax.ExplicitVrLittleEndian]);

/** The transfer syntaxes assemblePetVolume decodes. */
export const DECODABLE_TRANSFER_SYNTAXES: readonly string[] = [...NATIVE, ...DECODABLE_ENCAPSULATED_TRANSFER_SYNTAXES];

/**
 * What decoding reads of a parsed instance: the bytes and the Pixel Data element. A series keeps only this of
 * each parse (see parsePetSeries), so that the rest of the data set is garbage at once.
 */
export interface PixelDataSource {
  readonly byteArray: DataSet['byteArray'];
  readonly byteArrayParser: DataSet['byteArrayParser'];
  readonly element: dicomParser.Element | undefined;
}

export function pixelDataSource(ds: DataSet): PixelDataSource {
  return { byteArray: ds.byteArray, byteArrayParser: ds.byteArrayParser, element: ds.elements['x7fe00010'] };
}

/** How a slice's stored values become voxel values: value × slope + intercept. */
interface ValueMapping {
  readonly slope: number;
  readonly intercept: number;
}

/**
 * The slice's own RescaleSlope and RescaleIntercept, each multiplied by `scale`: a factor that applies to the
 * rescaled values (an SUV factor) costs nothing more when it is folded in here.
 */
function valueMapping(header: SliceHeader, scale: number): ValueMapping {
  return { slope: header.rescaleSlope * scale, intercept: header.rescaleIntercept * scale };
}

/** Writes stored values, mapped (value × slope + intercept), into `target`: the one pass over the slice. */
function writeMapped(values: ArrayLike<number>, { slope, intercept }: ValueMapping, target: Float32Array): void {
  for (let i = 0; i < target.length; i++) target[i] = (values[i] as number) * slope + intercept;
}

/**
 * writeMapped for words whose sample is less than the word, or signed data a codec handed back unsigned (PS3.5
 * 8.1.1): the value is the low BitsStored bits (HighBit is BitsStored - 1, see assertDecodable), their top bit
 * the sign where PixelRepresentation is 1; bits above are not part of it (old overlays, padding, or the sign
 * already extended). In the same single pass as writeMapped.
 */
function writeSamplesMapped(words: ArrayLike<number>, header: SliceHeader, { slope, intercept }: ValueMapping,
  target: Float32Array): void {
  // Shifting the sample's top bit to bit 31 and back drops the bits above it; >> extends the sign, >>> does not.
  const shift = 32 - header.bitsStored;
  if (header.pixelRepresentation === 1) {
    for (let i = 0; i < target.length; i++) target[i] = (((words[i] as number) << shift) >> shift) * slope + intercept;
  } else {
    for (let i = 0; i < target.length; i++) target[i] = (((words[i] as number) << shift) >>> shift) * slope + intercept;
  }
}

/**
 * Native data is read in place from the parsed file (no second parse, no per-slice copy where aligned). When
 * BitsStored fills the word, the typed view (signed where PixelRepresentation is 1) already is the sample values.
 */
function decodeNative(source: PixelDataSource, element: dicomParser.Element, header: SliceHeader, mapping: ValueMapping,
  target: Float32Array): void {
  const needed = target.length * (header.bitsAllocated / 8);
  if (element.length < needed) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID',
      `instance ${header.sopInstanceUid}: Pixel Data has ${element.length} bytes, ${needed} needed`);
  }
  const samples = viewStoredSamples(source.byteArray, element.dataOffset, target.length, header.bitsAllocated,
    header.pixelRepresentation === 1);
  if (header.bitsStored === header.bitsAllocated) writeMapped(samples, mapping, target);
  else writeSamplesMapped(samples, header, mapping, target);
}

/** A frame its codec cannot decode: the instance's fault (MIPSEG_VOLUME_INVALID), named with the instance. */
function undecodableFrame(codecName: string, header: SliceHeader, reason: string, cause: unknown): MipsegError {
  return new MipsegError('MIPSEG_VOLUME_INVALID',
    `instance ${header.sopInstanceUid}: ${codecName} data cannot be decoded (${reason})`, { cause });
}

/** Runs the codec on the frame; undecodable data is the instance's fault, a codec that will not load is ours. */
function decodeFrame(codec: FrameCodec, frame: Uint8Array, header: SliceHeader): DecodedFrame {
  try {
    return codec.decode(frame, header);
  } catch (err) {
    if (err instanceof MipsegError) throw err;
    throw undecodableFrame(codec.name, header, err instanceof Error ? err.message : String(err), err);
  }
}

function decodeEncapsulated(source: PixelDataSource, element: dicomParser.Element, header: SliceHeader, mapping: ValueMapping,
  target: Float32Array, codec: FrameCodec): void {
  if (!element.fragments?.length) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${header.sopInstanceUid}: no encapsulated Pixel Data`);
  }
  // Of the data set, dicom-parser reads only byteArray and byteArrayParser here: the source has both.
  const frame = dicomParser.readEncapsulatedPixelDataFromFragments(source as unknown as DataSet, element, 0, element.fragments.length);
  const decoded = decodeFrame(codec, frame, header);
  const mismatch = decodedSizeMismatch(codec.name, decoded, header);
  if (mismatch !== undefined) throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${header.sopInstanceUid}: ${mismatch}`);
  const { samples } = decoded;
  if (header.pixelRepresentation === 0 && header.bitsStored === header.bitsAllocated) writeMapped(samples, mapping, target);
  else writeSamplesMapped(samples, header, mapping, target);
}

function assertDecodable(header: SliceHeader): void {
  const unsupported = (what: string): MipsegError =>
    new MipsegError('MIPSEG_VOLUME_UNSUPPORTED', `instance ${header.sopInstanceUid}: ${what}`);
  if (!NATIVE.has(header.transferSyntaxUid) && !frameCodecFor(header.transferSyntaxUid)) {
    throw unsupported(`transfer syntax ${header.transferSyntaxUid} (decoded: ${DECODABLE_TRANSFER_SYNTAXES.join(', ')})`);
  }
  if (header.numberOfFrames !== 1) throw unsupported(`${header.numberOfFrames} frames (multi-frame PET is not assembled)`);
  if (header.samplesPerPixel !== 1) throw unsupported(`SamplesPerPixel ${header.samplesPerPixel} (colour)`);
  if (![8, 16, 32].includes(header.bitsAllocated) || (header.bitsAllocated === 32 && !NATIVE.has(header.transferSyntaxUid))) {
    throw unsupported(`BitsAllocated ${header.bitsAllocated}`);
  }
  if (header.bitsStored < 1 || header.bitsStored > header.bitsAllocated) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID',
      `instance ${header.sopInstanceUid}: BitsStored ${header.bitsStored} with BitsAllocated ${header.bitsAllocated}`);
  }
  if (header.highBit !== header.bitsStored - 1) {
    throw unsupported(`HighBit ${header.highBit} with BitsStored ${header.bitsStored} (only samples in the low bits, ` +
      `HighBit = BitsStored - 1, are decoded)`);
  }
}

/**
 * Decodes one single-frame slice (native little endian, JPEG Lossless Process 14 / SV1, JPEG-LS lossless or
 * near-lossless, JPEG 2000 lossless or not, RLE Lossless) of a parsed instance (its PixelDataSource) straight
 * into `target` (Rows x Columns values), applying the slice's own RescaleSlope and RescaleIntercept, and then `scale`
 * (default 1; e.g. the slice's SUV factor) in the same pass.
 */
export function decodeSliceInto(source: PixelDataSource, header: SliceHeader, target: Float32Array, scale = 1): void {
  assertDecodable(header);
  const element = source.element;
  if (!element) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${header.sopInstanceUid} has no Pixel Data (7FE0,0010)`);
  }
  const mapping = valueMapping(header, scale);
  const codec = frameCodecFor(header.transferSyntaxUid);
  if (codec) decodeEncapsulated(source, element, header, mapping, target, codec);
  else decodeNative(source, element, header, mapping, target);
}
