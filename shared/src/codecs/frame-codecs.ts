import { Decoder } from 'jpeg-lossless-decoder-js';
import { TransferSyntax } from '../dicom/transfer-syntaxes';
import type { DecodedFrame, FrameCodec } from './frame-codec';
import { RLE_LOSSLESS } from './rle-lossless';
import { decodeJpeg2000Frame, decodeJpegLsFrame } from './wasm-frame-decoders';

const JPEG_LOSSLESS: FrameCodec = {
  name: 'JPEG Lossless',
  decode: (frame, geometry): DecodedFrame => {
    const decoder = new Decoder();
    // The decoder takes an ArrayBuffer and an offset; file bytes never live in a SharedArrayBuffer.
    const samples = decoder.decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.length, geometry.bitsAllocated / 8);
    return { samples, columns: decoder.xDim ?? 0, rows: decoder.yDim ?? 0 };
  },
};
const JPEG_LS: FrameCodec = { name: 'JPEG-LS', decode: decodeJpegLsFrame };
const JPEG_2000: FrameCodec = { name: 'JPEG 2000', decode: decodeJpeg2000Frame };

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
