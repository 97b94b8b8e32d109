import * as dicomParser from 'dicom-parser';
import { MipsegError } from '../errors';
import { unpackBits } from './bit-packing';
import { parseStoredDicom } from './parse-options';
import { isUncompressed, TransferSyntax } from './transfer-syntaxes';

/** The Image Pixel module of an instance and where its native pixel data lies in the file. */
export interface PixelModule {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  readonly bitsAllocated: number;
  readonly pixelRepresentation: number;
  readonly photometricInterpretation: string;
  readonly numberOfFrames: number;
  readonly rescaleSlope: number;
  readonly rescaleIntercept: number;
  readonly windowCenter: number | null;
  readonly windowWidth: number | null;
  /** VOI LUT Function (0028,1056), upper case: LINEAR (the default), LINEAR_EXACT or SIGMOID; null when absent. */
  readonly voiLutFunction: string | null;
  /**
   * Maximum Fractional Value (0062,000E) of a FRACTIONAL segmentation: the stored value meaning 1.0 (PS3.3 C.8.20.2);
   * null elsewhere.
   */
  readonly maximumFractionalValue: number | null;
  readonly transferSyntaxUid: string;
  /** Byte offset and length of the Pixel Data value in the file (native data only). */
  readonly pixelDataOffset: number;
  readonly pixelDataLength: number;
}

function num(ds: dicomParser.DataSet, tag: string, fallback: number): number {
  const s = ds.string(tag);
  const n = s === undefined ? NaN : Number(s.split('\\')[0]);
  return Number.isFinite(n) ? n : fallback;
}

/** Whether frames in this transfer syntax are native little-endian samples, as readPixelModule reads them. */
export function hasNativeFrames(transferSyntaxUid: string): boolean {
  return isUncompressed(transferSyntaxUid) && transferSyntaxUid !== TransferSyntax.ExplicitVrBigEndian
    && transferSyntaxUid !== TransferSyntax.DeflatedExplicitVrLittleEndian;
}

/** The Image Pixel attributes of an instance, wherever its pixel data lies: what drawing a frame reads. */
export type ImagePixelAttributes = Omit<PixelModule, 'pixelDataOffset' | 'pixelDataLength'>;

/** The Image Pixel module of an instance in any transfer syntax, as decoding a compressed frame needs it. */
export interface ImagePixelModule extends ImagePixelAttributes {
  readonly bitsStored: number;
  /** The sample's top bit (and sign bit, PS3.5 8.1.1); BitsStored - 1 where the instance leaves it out. */
  readonly highBit: number;
}

/** The header up to Pixel Data, its transfer syntax and the Pixel Data element (MIPSEG_RENDER_UNSUPPORTED where none). */
function parsePixelHeader(bytes: Uint8Array): { ds: dicomParser.DataSet; transferSyntaxUid: string; pixel: dicomParser.Element } {
  const ds = parseStoredDicom(bytes, 'x7fe00010');
  const transferSyntaxUid = (ds.string('x00020010') ?? '').replace(/\0/g, '').trim();
  const pixel = ds.elements['x7fe00010'];
  if (!pixel) throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', 'no Pixel Data');
  return { ds, transferSyntaxUid, pixel };
}

function imagePixelAttributes(ds: dicomParser.DataSet, transferSyntaxUid: string): ImagePixelAttributes {
  const hasWindow = ds.string('x00281050') !== undefined && ds.string('x00281051') !== undefined;
  return {
    rows: ds.uint16('x00280010') ?? 0,
    columns: ds.uint16('x00280011') ?? 0,
    samplesPerPixel: ds.uint16('x00280002') ?? 1,
    bitsAllocated: ds.uint16('x00280100') ?? 16,
    pixelRepresentation: ds.uint16('x00280103') ?? 0,
    photometricInterpretation: (ds.string('x00280004') ?? 'MONOCHROME2').trim(),
    numberOfFrames: num(ds, 'x00280008', 1),
    rescaleSlope: num(ds, 'x00281053', 1),
    rescaleIntercept: num(ds, 'x00281052', 0),
    windowCenter: hasWindow ? num(ds, 'x00281050', 0) : null,
    windowWidth: hasWindow ? num(ds, 'x00281051', 0) : null,
    voiLutFunction: ds.string('x00281056')?.trim().toUpperCase() || null,
    maximumFractionalValue: ds.uint16('x0062000e') ?? null,
    transferSyntaxUid,
  };
}

/**
 * Reads the pixel module of a PS3.10 file; native (uncompressed, little-endian) pixel data only. `bytes` may end
 * inside Pixel Data (a file's first bytes): the parse stops at its header, which gives its offset and length.
 */
export function readPixelModule(bytes: Uint8Array): PixelModule {
  const { ds, transferSyntaxUid, pixel } = parsePixelHeader(bytes);
  if (!hasNativeFrames(transferSyntaxUid)) throw new MipsegError('MIPSEG_FRAMES_UNSUPPORTED', `transfer syntax ${transferSyntaxUid}`);
  return { ...imagePixelAttributes(ds, transferSyntaxUid), pixelDataOffset: pixel.dataOffset, pixelDataLength: pixel.length };
}

/**
 * Reads the Image Pixel module of a PS3.10 file in any transfer syntax, encapsulated Pixel Data included (native
 * frames are found with readPixelModule). `bytes` may end inside Pixel Data, as for readPixelModule.
 */
export function readImagePixelModule(bytes: Uint8Array): ImagePixelModule {
  const { ds, transferSyntaxUid } = parsePixelHeader(bytes);
  const attributes = imagePixelAttributes(ds, transferSyntaxUid);
  const bitsStored = ds.uint16('x00280101') ?? attributes.bitsAllocated;
  return { ...attributes, bitsStored, highBit: ds.uint16('x00280102') ?? bitsStored - 1 };
}

export function frameByteLength(m: PixelModule): number {
  return Math.ceil(frameBitLength(m) / 8);
}

/**
 * Bits one frame takes in native Pixel Data. With BitsAllocated 1, PS3.5 8.1.1 packs frames one after another
 * with no padding, so a frame starts at bit (f − 1) × this, inside a byte unless it is a multiple of 8.
 */
export function frameBitLength(m: PixelModule): number {
  return m.rows * m.columns * m.samplesPerPixel * m.bitsAllocated;
}

/**
 * Frame `frameIndex` (0-based) of BitsAllocated 1 pixel data, shifted to start at bit 0 of its own
 * ceil(bitsPerFrame / 8) bytes, least significant bit first as in PS3.5 8.1.1, unused bits 0: what DICOMweb
 * clients (cornerstone) expect as one octet-stream frame of a BINARY SEG. Throws MIPSEG_NOT_FOUND where the
 * frame runs past the end of `pixelData`, rather than serve a short frame.
 */
export function binaryFrameBits(pixelData: Uint8Array, frameIndex: number, bitsPerFrame: number): Uint8Array {
  const firstBit = frameIndex * bitsPerFrame;
  if (firstBit + bitsPerFrame > pixelData.length * 8) {
    throw new MipsegError('MIPSEG_NOT_FOUND', `frame ${frameIndex + 1}: its bits end past the ${pixelData.length} bytes of Pixel Data`);
  }
  const out = new Uint8Array(Math.ceil(bitsPerFrame / 8));
  // Not `>> 3`: a large SEG's bit offsets pass 2^31, where 32-bit shifts wrap.
  const firstByte = Math.floor(firstBit / 8);
  const shift = firstBit % 8;
  for (let i = 0; i < out.length; i++) {
    const low = pixelData[firstByte + i] ?? 0;
    const high = pixelData[firstByte + i + 1] ?? 0;
    // With shift 0 the high byte moves wholly out of the 8 bits a Uint8Array keeps.
    out[i] = (low >> shift) | (high << (8 - shift));
  }
  const tailBits = bitsPerFrame % 8;
  if (tailBits !== 0) out[out.length - 1] = (out[out.length - 1] as number) & ((1 << tailBits) - 1);
  return out;
}

/**
 * One native frame (1-based) as WADO-RS serves it: BitsAllocated 1 frames re-packed by binaryFrameBits, others
 * a view on `bytes`. Throws MIPSEG_NOT_FOUND where the frame lies beyond NumberOfFrames or past the end of
 * Pixel Data.
 */
export function readNativeFrame(bytes: Uint8Array, m: PixelModule, frame: number): Uint8Array {
  if (frame < 1 || frame > m.numberOfFrames) throw new MipsegError('MIPSEG_NOT_FOUND', `frame ${frame} of ${m.numberOfFrames}`);
  const pixelData = bytes.subarray(m.pixelDataOffset, m.pixelDataOffset + m.pixelDataLength);
  if (m.bitsAllocated === 1) return binaryFrameBits(pixelData, frame - 1, frameBitLength(m));
  const size = frameByteLength(m);
  const start = (frame - 1) * size;
  if (start + size > pixelData.length) {
    throw new MipsegError('MIPSEG_NOT_FOUND', `frame ${frame}: its bytes end past the ${pixelData.length} bytes of Pixel Data`);
  }
  return pixelData.subarray(start, start + size);
}

/** Stored values as a typed array of BitsAllocated bits, signed when PixelRepresentation is 1. */
export type StoredSamples = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** What the typed array constructors of StoredSamples have in common. */
interface StoredSamplesConstructor {
  new (length: number): StoredSamples;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): StoredSamples;
  readonly BYTES_PER_ELEMENT: number;
}

const SAMPLE_TYPES: Readonly<Record<number, readonly [StoredSamplesConstructor, StoredSamplesConstructor]>> = {
  8: [Uint8Array, Int8Array],
  16: [Uint16Array, Int16Array],
  32: [Uint32Array, Int32Array],
};

/** Typed arrays read in the host's byte order; DICOM native data here is little endian. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reads little-endian samples one by one: the way on a big-endian host. */
function readLittleEndian(bytes: Uint8Array, offset: number, out: StoredSamples): void {
  const size = out.BYTES_PER_ELEMENT;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, out.length * size);
  const read = size === 1 ? (i: number) => view.getUint8(i) : size === 2 ? (i: number) => view.getUint16(i * 2, true)
    : (i: number) => view.getUint32(i * 4, true);
  // Assigning the unsigned pattern to a signed array reinterprets it as two's complement.
  for (let i = 0; i < out.length; i++) out[i] = read(i);
}

/**
 * `count` stored samples of native little-endian pixel data starting at byte `offset` of `bytes`, without
 * decoding them one by one: a view on the file's bytes where the offset is aligned to the sample size (the
 * usual case), a copy where it is not (a typed array cannot start at an odd byte). A view shares the file's
 * memory: read it, do not change it. Throws MIPSEG_RENDER_UNSUPPORTED for BitsAllocated other than 8, 16, 32,
 * and MIPSEG_DICOM_UNPARSEABLE where the samples would run past the end of `bytes`.
 */
export function viewStoredSamples(bytes: Uint8Array, offset: number, count: number, bitsAllocated: number, signed: boolean): StoredSamples {
  const types = SAMPLE_TYPES[bitsAllocated];
  if (!types) throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', `BitsAllocated ${bitsAllocated}`);
  const Type = types[signed ? 1 : 0];
  const end = offset + count * Type.BYTES_PER_ELEMENT;
  if (offset < 0 || end > bytes.length) {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `pixel data needs bytes ${offset}–${end}, the file has ${bytes.length}`);
  }
  const start = bytes.byteOffset + offset;
  if (HOST_IS_LITTLE_ENDIAN && start % Type.BYTES_PER_ELEMENT === 0) return new Type(bytes.buffer, start, count);
  const out = new Type(count);
  if (HOST_IS_LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes.subarray(offset, end));
  else readLittleEndian(bytes, offset, out);
  return out;
}

/**
 * Stored values of one frame (1-based), before rescale; a view on `bytes` where it can be (see viewStoredSamples).
 * BitsAllocated 1 frames are unpacked to one 0 or 1 a pixel, from the bit they start at (see frameBitLength).
 */
export function readFrameValues(bytes: Uint8Array, m: PixelModule, frame: number): StoredSamples {
  if (m.bitsAllocated === 1) return readBinaryFrameValues(bytes, m, frame);
  const start = m.pixelDataOffset + (frame - 1) * frameByteLength(m);
  return viewStoredSamples(bytes, start, m.rows * m.columns * m.samplesPerPixel, m.bitsAllocated, m.pixelRepresentation === 1);
}

function readBinaryFrameValues(bytes: Uint8Array, m: PixelModule, frame: number): Uint8Array {
  const bitsPerFrame = frameBitLength(m);
  const pixelData = bytes.subarray(m.pixelDataOffset, m.pixelDataOffset + m.pixelDataLength);
  try {
    return unpackBits(pixelData, bitsPerFrame, (frame - 1) * bitsPerFrame);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new MipsegError('MIPSEG_NOT_FOUND', `frame ${frame}: its bits end past the ${pixelData.length} bytes of Pixel Data`);
  }
}
