import * as dicomParser from 'dicom-parser';
import { Decoder } from 'jpeg-lossless-decoder-js';
import { frameByteLength, readFrameValues, readPixelModule, TransferSyntax } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import type { DataSet } from './dicom-dataset';
import type { SliceHeader } from './slice-header';

const NATIVE = new Set<string>([TransferSyntax.ImplicitVrLittleEndian, TransferSyntax.ExplicitVrLittleEndian]);
const JPEG_LOSSLESS = new Set<string>([TransferSyntax.JpegLossless, TransferSyntax.JpegLosslessSv1]);

/** The transfer syntaxes assemblePetVolume decodes. */
export const DECODABLE_TRANSFER_SYNTAXES: readonly string[] = [...NATIVE, ...JPEG_LOSSLESS];

/** Writes stored values, rescaled (value * slope + intercept), into `target`. */
function writeRescaled(values: ArrayLike<number>, header: SliceHeader, target: Float32Array): void {
  const { rescaleSlope: slope, rescaleIntercept: intercept } = header;
  for (let i = 0; i < target.length; i++) target[i] = (values[i] as number) * slope + intercept;
}

function decodeNative(bytes: Uint8Array, header: SliceHeader, target: Float32Array): void {
  const pixel = readPixelModule(bytes);
  if (pixel.pixelDataLength < frameByteLength(pixel)) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID',
      `instance ${header.sopInstanceUid}: Pixel Data has ${pixel.pixelDataLength} bytes, ${frameByteLength(pixel)} needed`);
  }
  writeRescaled(readFrameValues(bytes, pixel, 1), header, target);
}

/** JPEG Lossless stores the BitsStored-bit two's complement pattern; the decoder hands it back unsigned. */
function signExtend(samples: Uint8Array | Uint16Array, bitsStored: number): Int32Array {
  const out = new Int32Array(samples.length);
  const signBit = 1 << (bitsStored - 1);
  const mask = (1 << bitsStored) - 1;
  for (let i = 0; i < samples.length; i++) {
    const v = (samples[i] as number) & mask;
    out[i] = v & signBit ? v - (mask + 1) : v;
  }
  return out;
}

function decodeJpegLossless(ds: DataSet, header: SliceHeader, target: Float32Array): void {
  const element = ds.elements['x7fe00010'];
  if (!element?.fragments?.length) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${header.sopInstanceUid}: no encapsulated Pixel Data`);
  }
  const frame = dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, 0, element.fragments.length);
  let samples: Uint8Array | Uint16Array;
  try {
    // The decoder takes an ArrayBuffer and an offset; file bytes never live in a SharedArrayBuffer.
    samples = new Decoder().decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.length, header.bitsAllocated / 8);
  } catch (err) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${header.sopInstanceUid}: JPEG Lossless data ` +
      `cannot be decoded (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  if (samples.length !== target.length) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID',
      `instance ${header.sopInstanceUid}: JPEG image has ${samples.length} pixels, Rows x Columns is ${target.length}`);
  }
  writeRescaled(header.pixelRepresentation === 1 ? signExtend(samples, header.bitsStored) : samples, header, target);
}

function assertDecodable(header: SliceHeader): void {
  const unsupported = (what: string): MipsegError =>
    new MipsegError('MIPSEG_VOLUME_UNSUPPORTED', `instance ${header.sopInstanceUid}: ${what}`);
  if (!NATIVE.has(header.transferSyntaxUid) && !JPEG_LOSSLESS.has(header.transferSyntaxUid)) {
    throw unsupported(`transfer syntax ${header.transferSyntaxUid} (decoded: ${DECODABLE_TRANSFER_SYNTAXES.join(', ')})`);
  }
  if (header.numberOfFrames !== 1) throw unsupported(`${header.numberOfFrames} frames (multi-frame PET is not assembled)`);
  if (header.samplesPerPixel !== 1) throw unsupported(`SamplesPerPixel ${header.samplesPerPixel} (colour)`);
  if (![8, 16, 32].includes(header.bitsAllocated) || (header.bitsAllocated === 32 && !NATIVE.has(header.transferSyntaxUid))) {
    throw unsupported(`BitsAllocated ${header.bitsAllocated}`);
  }
}

/**
 * Decodes one single-frame slice (native little endian, or JPEG Lossless Process 14 / SV1) straight into
 * `target` (Rows x Columns values), applying the slice's own RescaleSlope and RescaleIntercept.
 */
export function decodeSliceInto(bytes: Uint8Array, ds: DataSet, header: SliceHeader, target: Float32Array): void {
  assertDecodable(header);
  if (!ds.elements['x7fe00010']) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${header.sopInstanceUid} has no Pixel Data (7FE0,0010)`);
  }
  if (JPEG_LOSSLESS.has(header.transferSyntaxUid)) decodeJpegLossless(ds, header, target);
  else decodeNative(bytes, header, target);
}
