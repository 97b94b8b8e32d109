import { encodeFileMetaInformation } from './file-meta';
import { readEncapsulatedFramesByRange, type RangeReader } from './encapsulated-ranges';

const JPEG_LS = '1.2.840.10008.1.2.4.80';

function explicit(group: number, element: number, vr: string, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 'latin1');
  header.writeUInt16LE(value.length, 6);
  return Buffer.concat([header, value]);
}

function item(element: number, length: number, value: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0xfffe, 0);
  header.writeUInt16LE(element, 2);
  header.writeUInt32LE(length >>> 0, 4);
  return Buffer.concat([header, value]);
}

/**
 * A JPEG-LS file of three frames, one 1000-byte fragment each (frame k's bytes all k), whose offset table holds
 * `table`; `tableLength`, where given, is what its item header says instead.
 */
function threeFrames(table: number[], tableLength?: number): Buffer {
  const meta = encodeFileMetaInformation({ mediaStorageSopClassUid: '1.2.840.10008.5.1.4.1.1.128', mediaStorageSopInstanceUid: '2.25.1',
    transferSyntaxUid: JPEG_LS });
  const offsets = Buffer.alloc(4 * table.length);
  table.forEach((o, k) => offsets.writeUInt32LE(o, 4 * k));
  const tableItem = item(0xe000, tableLength ?? offsets.length, offsets);
  const pixelHeader = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]); // (7FE0,0010) OB, undefined length
  const fragments = [1, 2, 3].map((k) => item(0xe000, 1000, Buffer.alloc(1000, k)));
  return Buffer.concat([meta, explicit(0x0028, 0x0008, 'IS', Buffer.from('3 ')), pixelHeader, tableItem, ...fragments, item(0xe0dd, 0)]);
}

/** Reads from `file`, remembering the largest read asked for. */
function reader(file: Buffer): RangeReader & { largest: number } {
  const r = {
    largest: 0,
    read: (start: number, length: number) => {
      r.largest = Math.max(r.largest, length);
      return Promise.resolve(file.subarray(start, start + length));
    },
  };
  return r;
}

const read = (file: Buffer, r = reader(file)) => readEncapsulatedFramesByRange(r, file.length, file.subarray(0, 1 << 20), () => [1, 3]);

test('reads the frames an offset table counted from the first fragment (PS3.5 A.4) names', async () => {
  const frames = await read(threeFrames([0, 1008, 2016]));
  expect(frames?.transferSyntaxUid).toBe(JPEG_LS);
  expect(frames?.frames.map((f) => [f.length, f[0], f[999]])).toEqual([[1000, 1, 1], [1000, 3, 3]]);
});

test.each([
  ['counted from the table\'s own item, as some writers do', [16, 1024, 2032]],
  ['decreasing', [2016, 1008, 0]],
  ['falling inside a fragment', [0, 500, 2016]],
])('does not follow an offset table %s: a frame would go out as another\'s image', async (_what, table) => {
  expect(await read(threeFrames(table))).toBeUndefined();
});

test('does not believe an offset table item 2 GiB long: nothing that large is read (a read that size stops Node)', async () => {
  const file = threeFrames([], 0x80000000);
  const r = reader(file);
  expect(await read(file, r)).toBeUndefined();
  expect(r.largest).toBeLessThan(1 << 21);
});
