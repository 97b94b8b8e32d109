import { failureOf } from '../../../test/support/failure-of';
import type { FrameGeometry } from './frame-codec';
import { CorruptRleFrame, decodeRleLosslessFrame } from './rle-lossless';

function geometry(rows: number, columns: number, bitsAllocated: 8 | 16): FrameGeometry {
  return { rows, columns, bitsAllocated };
}

/** An RLE frame: the 64-byte header (segment count, then offsets) followed by the segments, bytes as given. */
function rleFrame(...segments: number[][]): Uint8Array {
  const header = new DataView(new ArrayBuffer(64));
  header.setUint32(0, segments.length, true);
  let offset = 64;
  segments.forEach((segment, k) => {
    header.setUint32(4 + 4 * k, offset, true);
    offset += segment.length;
  });
  return new Uint8Array([...new Uint8Array(header.buffer), ...segments.flat().map((b) => b & 0xff)]);
}

/** The frame with header word `index` (0: the segment count, k: segment k's offset) replaced by `value`. */
function withHeaderWord(frame: Uint8Array, index: number, value: number): Uint8Array {
  const copy = frame.slice();
  new DataView(copy.buffer).setUint32(4 * index, value, true);
  return copy;
}

test('a literal run (n = 0..127) copies the next n + 1 bytes', () => {
  expect([...decodeRleLosslessFrame(rleFrame([3, 10, 20, 30, 255]), geometry(2, 2, 8))]).toEqual([10, 20, 30, 255]);
});

test('a replicate run (n = -1..-127) repeats the next byte 1 - n times', () => {
  expect([...decodeRleLosslessFrame(rleFrame([-5, 7]), geometry(2, 3, 8))]).toEqual([7, 7, 7, 7, 7, 7]);
  const long = decodeRleLosslessFrame(rleFrame([-127, 1, -127, 2]), geometry(16, 16, 8));
  expect([long[0], long[127], long[128], long[255]]).toEqual([1, 1, 2, 2]);
});

test('-128 is a no-op between runs', () => {
  expect([...decodeRleLosslessFrame(rleFrame([-128, 1, 5, 6, -128, -2, 9, -128]), geometry(1, 5, 8))])
    .toEqual([5, 6, 9, 9, 9]);
});

test('an odd number of pixels: the pad byte that makes the segment even is ignored', () => {
  expect([...decodeRleLosslessFrame(rleFrame([2, 1, 2, 3, 0]), geometry(1, 3, 8))]).toEqual([1, 2, 3]);
});

test('16 bits allocated: two segments, most significant byte first, give the samples', () => {
  // 0x1234, 0xabcd, -1 and -2 (their bit patterns); the first segment is padded to an even length.
  const frame = rleFrame([1, 0x12, 0xab, -1, 0xff, 0], [3, 0x34, 0xcd, 0xff, 0xfe]);
  const samples = decodeRleLosslessFrame(frame, geometry(2, 2, 16));
  expect(samples).toBeInstanceOf(Uint16Array);
  expect([...samples]).toEqual([0x1234, 0xabcd, 0xffff, 0xfffe]);
});

test('reads a frame that is a view at an offset into a larger buffer', () => {
  const frame = rleFrame([-3, 4]);
  const larger = new Uint8Array(frame.length + 3);
  larger.set(frame, 3);
  expect([...decodeRleLosslessFrame(larger.subarray(3), geometry(2, 2, 8))]).toEqual([4, 4, 4, 4]);
});

const sixteenBit = rleFrame([-3, 1], [-3, 2]);
test.each([
  ['a frame shorter than the header', new Uint8Array(40), geometry(2, 2, 8)],
  ['a segment count other than one per byte of a sample', rleFrame([-3, 1]), geometry(2, 2, 16)],
  ['no segments', withHeaderWord(rleFrame([-3, 1]), 0, 0), geometry(2, 2, 8)],
  ['a first segment not right after the header', withHeaderWord(rleFrame([-3, 1]), 1, 60), geometry(2, 2, 8)],
  ['a segment offset past the end of the frame', withHeaderWord(sixteenBit, 2, 500), geometry(2, 2, 16)],
  ['segment offsets out of order', withHeaderWord(sixteenBit, 2, 63), geometry(2, 2, 16)],
  ['a segment that decodes to fewer bytes than Rows x Columns', rleFrame([-2, 1]), geometry(2, 2, 8)],
  ['a run that goes past Rows x Columns', rleFrame([-4, 1]), geometry(2, 2, 8)],
  ['a literal run cut off by the end of its segment', rleFrame([3, 1, 2]), geometry(2, 2, 8)],
  ['a replicate run with no byte to repeat', rleFrame([1, 1, 2, -1]), geometry(2, 2, 8)],
])('%s fails as CorruptRleFrame, saying why', (_case, frame, frameGeometry) => {
  const failure = failureOf(() => decodeRleLosslessFrame(frame, frameGeometry));
  expect(failure).toBeInstanceOf(CorruptRleFrame);
  expect((failure as Error).message).not.toBe('');
});
