import { Decoder } from 'jpeg-lossless-decoder-js';
import { TransferSyntax } from '../dicom/transfer-syntaxes';
import {
  JPEG_LOSSLESS_TABLES, JPEG_LS_TABLES, readJpeg2000FrameHeader, readJpegFrameHeader, refuseDeclaredMismatch, SOF3, SOF55,
  type DeclaredFrame,
} from './declared-frame';
import type { DecodedFrame, FrameCodec } from './frame-codec';
import { RLE_LOSSLESS } from './rle-lossless';
import { decodeJpeg2000Frame, decodeJpegLsFrame } from './wasm-frame-decoders';

/**
 * A codec that reads the image its frame declares, and refuses one other than the data set's, before decoding: the
 * decoders allocate the size the bitstream declares (see declared-frame.ts).
 */
function checkedBeforeDecoding(name: string, readDeclared: (frame: Uint8Array) => DeclaredFrame, decode: FrameCodec['decode']): FrameCodec {
  return {
    name,
    decode: (frame, geometry): DecodedFrame => {
      refuseDeclaredMismatch(name, readDeclared(frame), geometry);
      return decode(frame, geometry);
    },
  };
}

const JPEG_LOSSLESS = checkedBeforeDecoding('JPEG Lossless', (frame) => readJpegFrameHeader(frame, SOF3, JPEG_LOSSLESS_TABLES),
  (frame, geometry) => {
    const decoder = new Decoder();
    // The decoder takes an ArrayBuffer and an offset; file bytes never live in a SharedArrayBuffer.
    const samples = decoder.decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.length, geometry.bitsAllocated / 8);
    return { samples, columns: decoder.xDim ?? 0, rows: decoder.yDim ?? 0 };
  });
const JPEG_LS = checkedBeforeDecoding('JPEG-LS', (frame) => readJpegFrameHeader(frame, SOF55, JPEG_LS_TABLES),
  (frame) => decodeJpegLsFrame(frame));
const JPEG_2000 = checkedBeforeDecoding('JPEG 2000', readJpeg2000FrameHeader, (frame) => decodeJpeg2000Frame(frame));

/** Encapsulated transfer syntaxes by their codec. JPEG-LS near-lossless and JPEG 2000 (.91) may be lossy. */
const FRAME_CODECS: ReadonlyMap<string, FrameCodec> = new Map([
  [TransferSyntax.JpegLossless, JPEG_LOSSLESS],
  [TransferSyntax.JpegLosslessSv1, JPEG_LOSSLESS],
  [TransferSyntax.JpegLsLossless, JPEG_LS],
  [TransferSyntax.JpegLsNearLossless, JPEG_LS],
  [TransferSyntax.Jpeg2000Lossless, JPEG_2000],
  [TransferSyntax.Jpeg2000, JPEG_2000],
  [TransferSyntax.RleLossless, RLE_LOSSLESS],
]);

/** The encapsulated transfer syntaxes frameCodecFor has a codec for. */
export const DECODABLE_ENCAPSULATED_TRANSFER_SYNTAXES: readonly string[] = [...FRAME_CODECS.keys()];

/**
 * The codec for one frame of a single-sample (grey) image of 8 or 16 bits allocated in `transferSyntaxUid`: JPEG
 * Lossless Process 14 / SV1, JPEG-LS lossless or near-lossless, JPEG 2000 lossless or not, RLE Lossless. Undefined
 * for the others (lossy JPEG baseline among them). The WebAssembly codecs load on first use.
 */
export function frameCodecFor(transferSyntaxUid: string): FrameCodec | undefined {
  return FRAME_CODECS.get(transferSyntaxUid);
}
