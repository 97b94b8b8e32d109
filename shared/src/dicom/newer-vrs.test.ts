import { syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { parseStoredDicom } from './parse-options';

/** An Explicit VR Little Endian element: 2-byte length, or (long) two reserved bytes and a 4-byte length. */
function element(group: number, elementNumber: number, vr: string, value: Buffer, long = false, length = value.length): Buffer {
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(elementNumber, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(length, 8);
  else header.writeUInt16LE(length, 6);
  return Buffer.concat([header, value]);
}

function item(body: Buffer, undefinedLength = false): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0xfffe, 0);
  header.writeUInt16LE(0xe000, 2);
  header.writeUInt32LE(undefinedLength ? 0xffffffff : body.length, 4);
  const end = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
  return Buffer.concat([header, body, undefinedLength ? end : Buffer.alloc(0)]);
}

const SEQUENCE_END = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);

/** `file` with `inserted` before its first element of (group, element). */
function before(file: Buffer, group: number, elementNumber: number, inserted: Buffer): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16LE(group, 0);
  tag.writeUInt16LE(elementNumber, 2);
  const at = file.indexOf(tag, 132);
  if (at < 0) throw new Error('no such element');
  return Buffer.concat([file.subarray(0, at), inserted, file.subarray(at)]);
}

const EXTENDED_OFFSET_TABLE = element(0x7fe0, 0x0001, 'OV', Buffer.alloc(8), true);

describe('parseStoredDicom and the 64-bit VRs (OV, SV, UV)', () => {
  test('reads an Extended Offset Table with its own VR, and leaves the file\'s bytes as they were', () => {
    const file = before(syntheticPetInstance({ sopInstanceUid: '2.25.89.1' }), 0x7fe0, 0x0010, EXTENDED_OFFSET_TABLE);
    const copy = Buffer.from(file);
    const ds = parseStoredDicom(file);
    expect(ds.elements['x7fe00001']?.vr).toBe('OV');
    expect(ds.elements['x7fe00001']?.length).toBe(8);
    expect(file.equals(copy)).toBe(true);
  });

  test('finds it past an icon image whose item is of undefined length and holds Pixel Data of its own', () => {
    const icon = element(0x0088, 0x0200, 'SQ', Buffer.concat([item(Buffer.concat([
      element(0x0028, 0x0010, 'US', Buffer.from([1, 0])), element(0x7fe0, 0x0010, 'OB', Buffer.alloc(4), true)]), true), SEQUENCE_END]),
    true, 0xffffffff);
    const withIcon = before(syntheticPetInstance({ sopInstanceUid: '2.25.89.2' }), 0x7fe0, 0x0010, Buffer.concat([icon, EXTENDED_OFFSET_TABLE]));
    const table = parseStoredDicom(withIcon).elements['x7fe00001'];
    expect([table?.vr, table?.length]).toEqual(['OV', 8]);
  });

  test('never takes value bytes for a VR code: a sequence whose items run past its declared length stops the look', () => {
    const text = element(0x0040, 0x1001, 'SH', Buffer.from('ABCDSV12'));
    const short = element(0x0040, 0x0275, 'SQ', item(text), true, item(text).length - 8);
    const file = before(syntheticPetInstance({ sopInstanceUid: '2.25.89.3' }), 0x7fe0, 0x0010, short);
    const copy = Buffer.from(file);
    let read: string | undefined;
    try {
      const ds = parseStoredDicom(file);
      const value = ds.elements['x00400275']?.items?.[0]?.dataSet?.string('x00401001');
      read = value;
    } catch {
      read = 'refused';
    }
    expect(read === 'ABCDSV12' || read === 'refused').toBe(true);
    expect(file.equals(copy)).toBe(true);
  });
});
