import { isMipsegError } from '../errors';
import { compressedBulkDataMediaType, readBulkDataElement, readEncapsulatedFrames } from './bulk-data';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UN', 'UT']);

/** One explicit-VR element; `length` overrides the value's (0xFFFFFFFF: undefined length). */
function element(tag: number, vr: string, value: Buffer, bigEndian = false, length = value.length): Buffer {
  const long = LONG_VRS.has(vr);
  const head = Buffer.alloc(long ? 12 : 8);
  const u16 = (v: number, at: number) => (bigEndian ? head.writeUInt16BE(v, at) : head.writeUInt16LE(v, at));
  u16(tag >>> 16, 0);
  u16(tag & 0xffff, 2);
  head.write(vr, 4, 'latin1');
  if (long) {
    if (bigEndian) head.writeUInt32BE(length, 8);
    else head.writeUInt32LE(length, 8);
  } else u16(length, 6);
  return Buffer.concat([head, value]);
}

function item(tag: number, value: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(0xfffe, 0);
  head.writeUInt16LE(tag, 2);
  head.writeUInt32LE(value.length, 4);
  return Buffer.concat([head, value]);
}

/** A PS3.10 file: preamble, File Meta with the transfer syntax, then `dataSet` as encoded. */
function file(transferSyntaxUid: string, dataSet: Buffer): Buffer {
  const ts = Buffer.from(transferSyntaxUid.length % 2 ? `${transferSyntaxUid}\0` : transferSyntaxUid, 'latin1');
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), element(0x00020010, 'UI', ts), dataSet]);
}

/** Encapsulated Pixel Data of the given fragments, Basic Offset Table first. */
function encapsulated(basicOffsetTable: readonly number[], fragments: readonly Buffer[]): Buffer {
  const bot = Buffer.alloc(4 * basicOffsetTable.length);
  basicOffsetTable.forEach((o, i) => bot.writeUInt32LE(o, 4 * i));
  const items = Buffer.concat([item(0xe000, bot), ...fragments.map((f) => item(0xe000, f)), item(0xe0dd, Buffer.alloc(0))]);
  return element(0x7fe00010, 'OB', items, false, 0xffffffff);
}

/** The catalogue code `fn` throws, or undefined. */
function thrownCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isMipsegError(err) ? err.code : String(err);
  }
  return undefined;
}

const JPEG_LOSSLESS = '1.2.840.10008.1.2.4.70';
const numberOfFrames = (n: number) => element(0x00280008, 'IS', Buffer.from(`${n} `));
const jpegFrame = (fill: number) => Buffer.from([0xff, 0xd8, fill, fill, fill, fill, 0xff, 0xd9]);

describe('readEncapsulatedFrames', () => {
  test('joins the fragments of a single frame without their item delimiters', () => {
    const frame = jpegFrame(1);
    const bytes = file(JPEG_LOSSLESS, Buffer.concat([numberOfFrames(1), encapsulated([], [frame.subarray(0, 4), frame.subarray(4)])]));
    expect(readEncapsulatedFrames(bytes)).toEqual({ transferSyntaxUid: JPEG_LOSSLESS, frames: [new Uint8Array(frame)] });
  });

  test('cuts frames at the Basic Offset Table', () => {
    const [a, b] = [jpegFrame(1), jpegFrame(2)];
    const fragments = [a.subarray(0, 4), a.subarray(4), b];
    const bytes = file(JPEG_LOSSLESS, Buffer.concat([numberOfFrames(2), encapsulated([0, 8 + 4 + 8 + 4], fragments)]));
    expect(readEncapsulatedFrames(bytes).frames.map((f) => Buffer.from(f))).toEqual([a, b]);
  });

  test('without a Basic Offset Table, cuts frames spread over fragments at their end-of-image markers', () => {
    const [a, b] = [jpegFrame(1), jpegFrame(2)];
    const bytes = file(JPEG_LOSSLESS, Buffer.concat([numberOfFrames(2), encapsulated([], [a.subarray(0, 4), a.subarray(4), b.subarray(0, 2), b.subarray(2)])]));
    expect(readEncapsulatedFrames(bytes).frames.map((f) => Buffer.from(f))).toEqual([a, b]);
  });

  test('native Pixel Data is not encapsulated: MIPSEG_NOT_FOUND', () => {
    const bytes = file('1.2.840.10008.1.2.1', element(0x7fe00010, 'OW', Buffer.alloc(8)));
    expect(thrownCode(() => readEncapsulatedFrames(bytes))).toBe('MIPSEG_NOT_FOUND');
  });
});

describe('readBulkDataElement', () => {
  test('returns a top-level value as stored in little endian', () => {
    const blob = Buffer.from([1, 2, 3, 4, 5, 6]);
    const bytes = file('1.2.840.10008.1.2.1', element(0x00091001, 'OB', blob));
    expect(Buffer.from(readBulkDataElement(bytes, '00091001'))).toEqual(blob);
  });

  test('swaps OW and OF words of a big-endian file into little endian', () => {
    const ow = Buffer.from([0x12, 0x34, 0x56, 0x78]);
    const of = Buffer.from([0x3f, 0x80, 0x00, 0x00]);
    const bytes = file('1.2.840.10008.1.2.2', Buffer.concat([element(0x00091001, 'OW', ow, true), element(0x7fe00008, 'OF', of, true)]));
    expect([...readBulkDataElement(bytes, '00091001')]).toEqual([0x34, 0x12, 0x78, 0x56]);
    expect([...readBulkDataElement(bytes, '7FE00008')]).toEqual([0x00, 0x00, 0x80, 0x3f]);
  });

  test('an absent element, a sequence or encapsulated Pixel Data is not bulk data it can serve', () => {
    const sequence = element(0x00880200, 'SQ', Buffer.concat([item(0xe000, element(0x00280010, 'US', Buffer.from([64, 0]))),
      item(0xe0dd, Buffer.alloc(0))]), false, 0xffffffff);
    const bytes = file(JPEG_LOSSLESS, Buffer.concat([sequence, encapsulated([], [jpegFrame(1)])]));
    const codes = ['00091001', '00880200', '7FE00010'].map((tag) => [tag, thrownCode(() => readBulkDataElement(bytes, tag))]);
    expect(codes).toEqual([['00091001', 'MIPSEG_NOT_FOUND'], ['00880200', 'MIPSEG_NOT_FOUND'], ['7FE00010', 'MIPSEG_NOT_FOUND']]);
  });
});

test('compressed frames take the media type PS3.18 Table 8.7.3-5 gives their transfer syntax', () => {
  expect(compressedBulkDataMediaType(JPEG_LOSSLESS)).toBe('image/jpeg');
  expect(compressedBulkDataMediaType('1.2.840.10008.1.2.5')).toBe('image/dicom-rle');
  expect(compressedBulkDataMediaType('1.2.840.10008.1.2.4.80')).toBe('image/jls');
  expect(compressedBulkDataMediaType('1.2.840.10008.1.2.4.90')).toBe('image/jp2');
  expect(compressedBulkDataMediaType('1.2.840.10008.1.2.4.100')).toBe('application/octet-stream');
});
