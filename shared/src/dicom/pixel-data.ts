import * as dicomParser from 'dicom-parser';
import { MipsegError } from '../errors';
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

/** Reads the pixel module of a PS3.10 file; native (uncompressed, little-endian) pixel data only. */
export function readPixelModule(bytes: Uint8Array): PixelModule {
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(bytes);
  } catch (err) {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', typeof err === 'string' ? err : String((err as Error).message));
  }
  const transferSyntaxUid = (ds.string('x00020010') ?? '').replace(/\0/g, '').trim();
  const pixel = ds.elements['x7fe00010'];
  if (!pixel) throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', 'no Pixel Data');
  if (!isUncompressed(transferSyntaxUid) || transferSyntaxUid === TransferSyntax.ExplicitVrBigEndian ||
    transferSyntaxUid === TransferSyntax.DeflatedExplicitVrLittleEndian) {
    throw new MipsegError('MIPSEG_FRAMES_UNSUPPORTED', `transfer syntax ${transferSyntaxUid}`);
  }
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
    transferSyntaxUid,
    pixelDataOffset: pixel.dataOffset,
    pixelDataLength: pixel.length,
  };
}

export function frameByteLength(m: PixelModule): number {
  return Math.ceil((m.rows * m.columns * m.samplesPerPixel * m.bitsAllocated) / 8);
}

/** Stored values of one frame (1-based) as numbers, before rescale. */
export function readFrameValues(bytes: Uint8Array, m: PixelModule, frame: number): Float32Array | Int32Array {
  const n = m.rows * m.columns * m.samplesPerPixel;
  const start = m.pixelDataOffset + (frame - 1) * frameByteLength(m);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, frameByteLength(m));
  const out = new Int32Array(n);
  const signed = m.pixelRepresentation === 1;
  for (let i = 0; i < n; i++) {
    if (m.bitsAllocated === 16) out[i] = signed ? view.getInt16(i * 2, true) : view.getUint16(i * 2, true);
    else if (m.bitsAllocated === 8) out[i] = signed ? view.getInt8(i) : view.getUint8(i);
    else if (m.bitsAllocated === 32) out[i] = signed ? view.getInt32(i * 4, true) : view.getUint32(i * 4, true);
    else throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', `BitsAllocated ${m.bitsAllocated}`);
  }
  return out;
}
