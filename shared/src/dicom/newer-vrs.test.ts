import { syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { explicitElement as element, explicitItem as item, insertedBefore as before, SEQUENCE_END } from '../../../test/support/explicit-elements';
import { parseStoredDicom } from './parse-options';

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
