import type { FrameGeometry } from './frame-codec';

/*
 * What a frame's bitstream says of its image before any of it is decoded. The codecs allocate whatever size the
 * bitstream declares: a data set saying 16 x 16 over a JPEG-LS stream of 30000 x 30000 had 1.8 GB allocated before the
 * decoded size was compared. Each reader walks the markers only as far as the frame header, and only through the
 * markers its decoder reads the same way (a marker skipped by its length here but read otherwise by the decoder
 * would let the two see different frame headers).
 */

/** The image a frame's bitstream declares: its size, sample precision and component count. */
export interface DeclaredFrame {
  readonly columns: number;
  readonly rows: number;
  readonly bitsPerSample: number;
  readonly components: number;
}

/** A frame whose bitstream header cannot be read, or declares an image other than the data set's: not decoded. */
export class DeclaredFrameMismatch extends Error {
  override readonly name = 'DeclaredFrameMismatch';
}

const SOI = 0xffd8;
const SOS = 0xffda;
/** JPEG Lossless, Process 14 (ITU-T T.81 B.2.2, Table B.1). */
export const SOF3 = 0xffc3;
/** JPEG-LS (ITU-T T.87 C.2.2, Table C.1). */
export const SOF55 = 0xfff7;
const LSE = 0xfff8;

const isApplicationOrComment = (marker: number): boolean => (marker >= 0xffe0 && marker <= 0xffef) || marker === 0xfffe;

/**
 * Markers jpeg-lossless-decoder-js reads by their length before the scan: DHT, DQT, DRI, APPn, COM. It takes any
 * other 0xFFxx for a two-byte marker without a length, so a stream using one is refused rather than read otherwise.
 */
export const JPEG_LOSSLESS_TABLES = (marker: number): boolean =>
  marker === 0xffc4 || marker === 0xffdb || marker === 0xffdd || isApplicationOrComment(marker);

/**
 * Markers CharLS reads before the scan and that cannot change the size: DRI, APPn, COM, and LSE preset parameters
 * and mapping tables; an LSE of ID 4 (oversize image dimension, T.87 C.2.4.1.4) declares the size elsewhere than
 * SOF55, and is refused.
 */
export const JPEG_LS_TABLES = (marker: number, segment: Uint8Array): boolean =>
  marker === 0xffdd || isApplicationOrComment(marker) || (marker === LSE && segment[0] !== 4);

/** The frame header's fields (T.81 B.2.2 and T.87 C.2.2 share them): P, Y, X, Nf. */
function frameHeaderFields(segment: Uint8Array): DeclaredFrame {
  if (segment.length < 6) throw new DeclaredFrameMismatch(`a frame header of ${segment.length + 2} bytes`);
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  return { bitsPerSample: view.getUint8(0), rows: view.getUint16(1), columns: view.getUint16(3), components: view.getUint8(5) };
}

/**
 * The frame header of a JPEG (T.81) or JPEG-LS (T.87) bitstream: after SOI, marker segments (marker, length Lx
 * counting itself, parameters) up to the first SOS, `frameMarker` once among them, each other one accepted by
 * `skippable`. The scan must code one component (Ns, T.81 B.2.3): the decoders size their output by it.
 */
export function readJpegFrameHeader(frame: Uint8Array, frameMarker: number,
  skippable: (marker: number, segment: Uint8Array) => boolean): DeclaredFrame {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 4 || view.getUint16(0) !== SOI) throw new DeclaredFrameMismatch('the bitstream does not start with SOI');
  let declared: DeclaredFrame | undefined;
  for (let at = 2; ;) {
    if (at + 4 > frame.length) throw new DeclaredFrameMismatch(`the bitstream ends at byte ${frame.length}, before its scan`);
    const marker = view.getUint16(at);
    const end = at + 2 + view.getUint16(at + 2);
    if (end < at + 4 || end > frame.length) throw new DeclaredFrameMismatch(`marker ${hex(marker)} at byte ${at} runs past the bitstream`);
    const segment = frame.subarray(at + 4, end);
    if (marker === SOS) {
      if (!declared) throw new DeclaredFrameMismatch(`a scan before the frame header (${hex(frameMarker)})`);
      if (segment[0] !== 1) throw new DeclaredFrameMismatch(`a scan of ${segment[0] ?? 0} components`);
      return declared;
    }
    if (marker === frameMarker && !declared) declared = frameHeaderFields(segment);
    else if (!skippable(marker, segment)) throw new DeclaredFrameMismatch(`marker ${hex(marker)} before the scan`);
    at = end;
  }
}

const hex = (marker: number): string => `0x${marker.toString(16).toUpperCase()}`;

const SOC = 0xff4f;
const SIZ = 0xff51;
/** The JP2 signature box (T.800 I.5.1): length 12, type 'jP  ', content 0x0D0A870A. */
const JP2_SIGNATURE = [0, 0, 0, 12, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a];

/**
 * The image a JPEG 2000 codestream's SIZ declares (T.800 A.5.1): SIZ follows SOC; Xsiz − XOsiz by Ysiz − YOsiz on the
 * reference grid, Csiz components, the first's precision (Ssiz & 0x7F) + 1 bits.
 */
function readSiz(codestream: Uint8Array): DeclaredFrame {
  const view = new DataView(codestream.buffer, codestream.byteOffset, codestream.byteLength);
  if (codestream.length < 45 || view.getUint16(0) !== SOC || view.getUint16(2) !== SIZ) {
    throw new DeclaredFrameMismatch('the codestream does not start with SOC and SIZ');
  }
  return {
    columns: view.getUint32(8) - view.getUint32(16),
    rows: view.getUint32(12) - view.getUint32(20),
    components: view.getUint16(40),
    bitsPerSample: (view.getUint8(42) & 0x7f) + 1,
  };
}

/** The contents of a JP2 file's contiguous codestream box 'jp2c' (T.800 I.5.4), found by the boxes' lengths (I.4). */
function jp2Codestream(file: Uint8Array): Uint8Array {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let at = 0; at + 8 <= file.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...file.subarray(at + 4, at + 8));
    const header = length === 1 ? 16 : 8;
    const end = length === 0 ? file.length : length === 1 && at + 16 <= file.length ? at + Number(view.getBigUint64(at + 8)) : at + length;
    if (end < at + header || end > file.length) throw new DeclaredFrameMismatch(`JP2 box '${type}' at byte ${at} runs past the file`);
    if (type === 'jp2c') return file.subarray(at + header, end);
    at = end;
  }
  throw new DeclaredFrameMismatch('a JP2 file without a codestream box');
}

/** The image a JPEG 2000 frame declares: a codestream, or a JP2 file holding one (both are what OpenJPEG reads). */
export function readJpeg2000FrameHeader(frame: Uint8Array): DeclaredFrame {
  const isJp2 = JP2_SIGNATURE.every((b, k) => frame[k] === b);
  return readSiz(isJp2 ? jp2Codestream(frame) : frame);
}

/**
 * Refuses, before decoding, a frame whose bitstream declares another image than the data set's: a size other than
 * Columns x Rows, other than one component, or samples wider than BitsAllocated.
 */
export function refuseDeclaredMismatch(codecName: string, declared: DeclaredFrame, geometry: FrameGeometry): void {
  const why = declared.columns !== geometry.columns || declared.rows !== geometry.rows
    ? `declares ${declared.columns} columns x ${declared.rows} rows, the header says Columns ${geometry.columns} and Rows ${geometry.rows}`
    : declared.components !== 1
      ? `declares ${declared.components} components (PET is one grey sample)`
      : declared.bitsPerSample > geometry.bitsAllocated
        ? `declares ${declared.bitsPerSample}-bit samples, the header says BitsAllocated ${geometry.bitsAllocated}`
        : undefined;
  if (why !== undefined) throw new DeclaredFrameMismatch(`${codecName} bitstream ${why}; not decoded`);
}
