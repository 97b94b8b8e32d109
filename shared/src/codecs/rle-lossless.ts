import type { DecodedFrame, FrameCodec, FrameGeometry, StoredSamples } from './frame-codec';

/*
 * RLE Lossless (PS3.5 Annex G), decoded here rather than with a library: dcmjs-codecs (MIT, already installed
 * under dcmjs-dimse) decodes RLE only after an asynchronous initialisation of one 4 MB WebAssembly module of six
 * codec families held in static state, while frames are decoded synchronously; the algorithm is a few dozen lines.
 */

/** The RLE header: the number of segments, then the byte offset of each of up to 15 segments (PS3.5 G.5). */
const HEADER_BYTES = 64;

/** Why a frame cannot be decoded: the instance's fault, which the caller reports under its own code (see FrameCodec). */
export class CorruptRleFrame extends Error {
  override readonly name = 'CorruptRleFrame';
}

/** Where each segment starts and ends in the frame, checked against the header's count and the frame's length. */
function segmentBounds(frame: Uint8Array, expectedSegments: number): Array<readonly [number, number]> {
  if (frame.length < HEADER_BYTES) throw new CorruptRleFrame(`${frame.length} bytes, shorter than the 64-byte RLE header`);
  const header = new DataView(frame.buffer, frame.byteOffset, HEADER_BYTES);
  const count = header.getUint32(0, true);
  if (count !== expectedSegments) {
    throw new CorruptRleFrame(`${count} segments in the RLE header, ${expectedSegments} expected (one per byte of a sample)`);
  }
  const offsets = Array.from({ length: count }, (_, k) => header.getUint32(4 + 4 * k, true));
  const bounds = offsets.map((start, k) => [start, offsets[k + 1] ?? frame.length] as const);
  bounds.forEach(([start, end], k) => {
    if ((k === 0 && start !== HEADER_BYTES) || end < start || end > frame.length) {
      throw new CorruptRleFrame(`segment ${k + 1} at bytes ${start}–${end} of a ${frame.length}-byte frame`);
    }
  });
  return bounds;
}

/**
 * Decodes one PackBits segment (PS3.5 G.3.2) into `out`, which it must fill exactly: n in 0..127 copies the next
 * n + 1 bytes, n in -127..-1 repeats the next byte 1 - n times, -128 does nothing. What follows once `out` is full
 * is padding (a segment is padded to an even length).
 */
function decodeSegment(frame: Uint8Array, [start, end]: readonly [number, number], out: Uint8Array, segment: number): void {
  let read = start;
  let written = 0;
  while (written < out.length && read < end) {
    const n = (frame[read++] as number) << 24 >> 24;
    if (n === -128) continue;
    const [length, consumed] = n >= 0 ? [n + 1, n + 1] : [1 - n, 1];
    if (read + consumed > end) throw new CorruptRleFrame(`segment ${segment} ends inside a run, at byte ${end}`);
    if (written + length > out.length) {
      throw new CorruptRleFrame(`segment ${segment} decodes to more than the ${out.length} bytes of Rows x Columns`);
    }
    if (n >= 0) out.set(frame.subarray(read, read + length), written);
    else out.fill(frame[read] as number, written, written + length);
    read += consumed;
    written += length;
  }
  if (written < out.length) {
    throw new CorruptRleFrame(`segment ${segment} decodes to ${written} of the ${out.length} bytes of Rows x Columns`);
  }
}

/** One grey sample per pixel: the segments are its byte planes, most significant first (PS3.5 G.2). */
function decodeSamples(frame: Uint8Array, pixels: number, bytesPerSample: 1 | 2): StoredSamples {
  const planes = segmentBounds(frame, bytesPerSample).map((bounds, k) => {
    const plane = new Uint8Array(pixels);
    decodeSegment(frame, bounds, plane, k + 1);
    return plane;
  });
  const [high, low] = planes as [Uint8Array, Uint8Array | undefined];
  if (!low) return high;
  const samples = new Uint16Array(pixels);
  for (let i = 0; i < pixels; i++) samples[i] = ((high[i] as number) << 8) | (low[i] as number);
  return samples;
}

/**
 * Decodes one RLE Lossless frame of a single-sample image of 8 or 16 bits allocated into its stored values,
 * unsigned (signed data as its bit pattern). Throws CorruptRleFrame, saying why, for a frame whose header or
 * segments do not give Rows x Columns samples.
 */
export function decodeRleLosslessFrame(frame: Uint8Array, geometry: FrameGeometry): StoredSamples {
  return decodeSamples(frame, geometry.rows * geometry.columns, geometry.bitsAllocated === 8 ? 1 : 2);
}

/**
 * RLE carries no image size of its own (PS3.5 G.3): the segments are read as Rows x Columns bytes each, their count
 * fixed by BitsAllocated, so what is allocated is bounded by the data set and there is no declared size to check first.
 */
export const RLE_LOSSLESS: FrameCodec = {
  name: 'RLE Lossless',
  decode: (frame, geometry): DecodedFrame =>
    ({ samples: decodeRleLosslessFrame(frame, geometry), columns: geometry.columns, rows: geometry.rows }),
};
