/** Stored values as a codec gives them back: one unsigned sample per pixel, 1 byte up to 8 bits, else 2. */
export type StoredSamples = Uint8Array | Uint16Array;

/**
 * What a codec reads of the instance besides the bitstream: RLE carries no image size of its own, and JPEG Lossless
 * is asked for samples of BitsAllocated bits.
 */
export interface FrameGeometry {
  readonly rows: number;
  readonly columns: number;
  readonly bitsAllocated: number;
}

/**
 * A decoded frame: its stored values and the size its bitstream declares. The size is kept apart from the count
 * because a frame of Columns x Rows (transposed) has the right number of pixels and would be read as a wrong image.
 */
export interface DecodedFrame {
  readonly samples: StoredSamples;
  readonly columns: number;
  readonly rows: number;
}

/**
 * A codec for one encapsulated frame: it hands back the stored values unsigned (signed data as its bit pattern).
 * Data it cannot decode is thrown as a plain Error whose message says why, for the caller to report as the instance's
 * fault under its own code; a MipsegError (MIPSEG_INTERNAL: the codec will not load) is ours.
 */
export interface FrameCodec {
  readonly name: string;
  decode(frame: Uint8Array, geometry: FrameGeometry): DecodedFrame;
}

/**
 * Why a decoded frame cannot be the instance's image (its size is not Columns x Rows), prefixed with the codec's
 * name; undefined where it can.
 */
export function decodedSizeMismatch(codecName: string, decoded: DecodedFrame, geometry: FrameGeometry): string | undefined {
  if (decoded.columns !== geometry.columns || decoded.rows !== geometry.rows) {
    return `${codecName} image is ${decoded.columns} columns x ${decoded.rows} rows, the header says Columns ` +
      `${geometry.columns} and Rows ${geometry.rows}`;
  }
  const pixels = geometry.rows * geometry.columns;
  if (decoded.samples.length !== pixels) return `${codecName} image has ${decoded.samples.length} pixels, Rows x Columns is ${pixels}`;
  return undefined;
}
