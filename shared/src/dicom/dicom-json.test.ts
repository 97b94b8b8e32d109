import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFileMetaInformation } from './file-meta';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { readDicomJson } from './dicom-json';
import { implicitElement } from '../../../test/support/implicit-elements';

describe('readDicomJson', () => {
  test('writes Attribute Tag (AT) values as 8 uppercase hex digits (PS3.18 F.2.3), in sequence items too', () => {
    const json = readDicomJson(syntheticPetInstance({
      sopInstanceUid: '2.25.88.4',
      imagePositionPatient: [0, 0, 0],
      attributes: {
        FrameIncrementPointer: [0x00181063, 0x00540080],
        DimensionIndexSequence: [{ DimensionIndexPointer: 0x0062000b, FunctionalGroupPointer: 0x0062000a }],
      },
    }), 16, false);
    expect(json['00280009']).toEqual({ vr: 'AT', Value: ['00181063', '00540080'] });
    const item = json['00209222']?.Value?.[0] as Record<string, unknown>;
    expect(item['00209165']).toEqual({ vr: 'AT', Value: ['0062000B'] });
    expect(item['00209167']).toEqual({ vr: 'AT', Value: ['0062000A'] });
  });
});

const uid = (v: string): Buffer => Buffer.from(v.length % 2 ? `${v}\0` : v, 'latin1');
const us = (...values: number[]): Buffer => {
  const b = Buffer.alloc(2 * values.length);
  values.forEach((v, k) => b.writeUInt16LE(v & 0xffff, 2 * k));
  return b;
};

function implicitVrInstance(pixelRepresentation: number): Uint8Array {
  const sopClass = '1.2.840.10008.5.1.4.1.1.128';
  const meta = encodeFileMetaInformation({ mediaStorageSopClassUid: sopClass, mediaStorageSopInstanceUid: '2.25.88.5',
    transferSyntaxUid: '1.2.840.10008.1.2' });
  return Buffer.concat([meta,
    implicitElement(0x0008, 0x0016, uid(sopClass)), implicitElement(0x0008, 0x0018, uid('2.25.88.5')),
    implicitElement(0x0028, 0x0103, us(pixelRepresentation)),
    implicitElement(0x0028, 0x0106, us(-1000)), implicitElement(0x0028, 0x0107, us(32000)),
    implicitElement(0x0028, 0x0120, us(-32768)),
    implicitElement(0x0028, 0x3002, us(4096, 0, 16)),
  ]);
}

describe('readDicomJson of an Implicit VR file, whose "US or SS" attributes carry no VR', () => {
  test('gives a signed image\'s pixel values as SS, negative where they are (not as US 64536)', () => {
    const json = readDicomJson(implicitVrInstance(1), 16, false);
    expect(json['00280106']).toEqual({ vr: 'SS', Value: [-1000] });
    expect(json['00280107']).toEqual({ vr: 'SS', Value: [32000] });
    expect(json['00280120']).toEqual({ vr: 'SS', Value: [-32768] });
    // A LUT Descriptor's entry count and bit depth are unsigned whatever Pixel Representation says.
    expect(json['00283002']?.Value).toEqual([4096, 0, 16]);
  });

  test('gives an unsigned image\'s as US', () => {
    const json = readDicomJson(implicitVrInstance(0), 16, false);
    expect(json['00280106']).toEqual({ vr: 'US', Value: [64536] });
  });
});

test('readDicomJson gives text values without the space that pads them to even length (a DT too, in items too)', () => {
  const json = readDicomJson(syntheticPetInstance({ sopInstanceUid: '2.25.88.6', imagePositionPatient: [0, 0, 0],
    attributes: { AcquisitionDateTime: '20030619000000.000000', ContributingEquipmentSequence: [{ ContributionDateTime: '20030619000000.000000', Manufacturer: 'X' }] },
  }), 16, false);
  expect(json['0008002A']).toEqual({ vr: 'DT', Value: ['20030619000000.000000'] });
  expect((json['0018A001']?.Value?.[0] as Record<string, unknown>)['0018A002']).toEqual({ vr: 'DT', Value: ['20030619000000.000000'] });
});

/** One Explicit VR Little Endian element; `long` VRs (OB, OW, SQ, UN, UT, …) have a 32-bit length after 2 reserved bytes. */
function explicitElement(group: number, element: number, vr: string, value: Buffer, length = value.length): Buffer {
  const long = ['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'].includes(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(length >>> 0, 8);
  else header.writeUInt16LE(length, 6);
  return Buffer.concat([header, value]);
}

/** An item or delimiter header: (FFFE,eeee) and a 32-bit length. */
function itemTag(element: number, length: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0xfffe, 0);
  header.writeUInt16LE(element, 2);
  header.writeUInt32LE(length >>> 0, 4);
  return header;
}
const UNDEFINED = 0xffffffff;

/**
 * An Explicit VR file whose Coding Scheme Identification Sequence (0008,0110) was sent as UN, its one item in
 * Implicit VR (PS3.5 6.2.2) with Coding Scheme Designator "1131"; `before` and `after` are elements either side.
 */
function explicitFileWithUnSequence(undefinedLength: boolean, before: Buffer[] = [], after: Buffer[] = []): Uint8Array {
  const sopClass = '1.2.840.10008.5.1.4.1.1.128';
  const meta = encodeFileMetaInformation({ mediaStorageSopClassUid: sopClass, mediaStorageSopInstanceUid: '2.25.88.7',
    transferSyntaxUid: '1.2.840.10008.1.2.1' });
  const itemContent = implicitElement(0x0008, 0x0102, Buffer.from('1131', 'latin1'));
  const sequence = undefinedLength
    ? explicitElement(0x0008, 0x0110, 'UN', Buffer.concat([itemTag(0xe000, UNDEFINED), itemContent, itemTag(0xe00d, 0), itemTag(0xe0dd, 0)]), UNDEFINED)
    : explicitElement(0x0008, 0x0110, 'UN', Buffer.concat([itemTag(0xe000, itemContent.length), itemContent]));
  return Buffer.concat([meta, explicitElement(0x0008, 0x0016, 'UI', uid(sopClass)), explicitElement(0x0008, 0x0018, 'UI', uid('2.25.88.7')),
    ...before, sequence, ...after]);
}

describe('readDicomJson of a known sequence sent as UN (PS3.5 6.2.2: its items in Implicit VR)', () => {
  test.each([['undefined', true], ['defined', false]])('of %s length reads its items, and what follows it', (_name, undefinedLength) => {
    const json = readDicomJson(explicitFileWithUnSequence(undefinedLength), null, false);
    expect(json['00080110']?.vr).toBe('SQ');
    expect((json['00080110']?.Value?.[0] as Record<string, unknown>)['00080102']).toEqual({ vr: 'SH', Value: ['1131'] });
    expect(json['00080018']).toEqual({ vr: 'UI', Value: ['2.25.88.7'] });
  });

  test('a "US or SS" value sent as UN is read by Pixel Representation: SS -1000, not VR "xs" 64536', () => {
    const json = readDicomJson(explicitFileWithUnSequence(false, [], [
      explicitElement(0x0028, 0x0103, 'US', us(1)), explicitElement(0x0028, 0x0106, 'UN', us(-1000)),
    ]), 16, false);
    expect(json['00280106']).toEqual({ vr: 'SS', Value: [-1000] });
  });
});

describe('readDicomJson person names and group lengths', () => {
  const withName = (name: string, after: Buffer[] = []): Uint8Array =>
    explicitFileWithUnSequence(false, [explicitElement(0x0008, 0x0090, 'PN', Buffer.from(name, 'latin1'))], after);

  test('a name padded with NUL, or with empty trailing components and groups, is given as the index keeps it', () => {
    expect(readDicomJson(withName('Doe^John\0'), null, false)['00080090']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] });
    expect(readDicomJson(withName('Doe^John^^^=^='), null, false)['00080090']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] });
    expect(readDicomJson(withName('Yamada^Tarou=^='), null, false)['00080090']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou' }] });
  });

  test('leaves out group lengths (gggg,0000), which are retired and count bytes the JSON model does not have', () => {
    const json = readDicomJson(withName('Doe^John', [explicitElement(0x0009, 0x0000, 'UL', Buffer.from([4, 0, 0, 0]))]), null, false);
    expect(Object.keys(json).filter((tag) => tag.endsWith('0000'))).toEqual([]);
  });
});

/** `file` with the VR code of its first (gggg,eeee) element overwritten (Explicit VR: the two bytes after the tag). */
function withVrCode(file: Uint8Array, group: number, element: number, vr: string): Buffer {
  const bytes = Buffer.from(file);
  const tag = Buffer.alloc(4);
  tag.writeUInt16LE(group, 0);
  tag.writeUInt16LE(element, 2);
  const at = bytes.indexOf(tag, 132);
  if (at < 0) throw new Error('no such element');
  bytes.write(vr, at + 4, 'latin1');
  return bytes;
}

describe('readDicomJson and data sets it cannot read as they are', () => {
  test('a VR code PS3.5 does not have is refused as unparseable (ingest refuses it too), not a 500', () => {
    const file = withVrCode(syntheticPetInstance({ sopInstanceUid: '2.25.88.5', imagePositionPatient: [0, 0, 0],
      attributes: { StationName: 'PETCT1' } }), 0x0008, 0x1010, 'S1');
    let code: string | undefined;
    try {
      readDicomJson(file, 16, false);
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).toBe('MIPSEG_DICOM_UNPARSEABLE');
  });

  test('a DS or IS that is no number is written without a value, not NaN (JSON null, XML "NaN")', () => {
    const json = readDicomJson(syntheticPetInstance({ sopInstanceUid: '2.25.88.6', imagePositionPatient: [0, 0, 0],
      attributes: { SliceThickness: '1.2.3', PatientWeight: '1e999' } }), 16, false);
    expect(json['00180050']).toEqual({ vr: 'DS' });
    expect(json['00101030']).toEqual({ vr: 'DS' });
  });
});

describe('readDicomJson of an Explicit VR Big Endian instance', () => {
  test('gives a small OW value inline in little-endian words, as the same data set in little endian gives it', () => {
    const lut = Uint16Array.from([1, 0x0203, 0xfffe]);
    const littleEndian = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.88.8', imagePositionPatient: [0, 0, 0],
      attributes: { RedPaletteColorLookupTableData: [lut.buffer], _vrMap: { PixelData: 'OW', RedPaletteColorLookupTableData: 'OW' } } }));
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-be-json-'));
    try {
      writeFileSync(join(dir, 'le.dcm'), littleEndian);
      const run = spawnSync('dcmconv', ['+tb', join(dir, 'le.dcm'), join(dir, 'be.dcm')], { encoding: 'utf8' });
      if (run.error) throw new Error(`dcmconv cannot run (apt-get install dcmtk): ${run.error.message}`);
      expect(run.status).toBe(0);
      const bigEndian = readFileSync(join(dir, 'be.dcm'));
      const expected = { vr: 'OW', InlineBinary: Buffer.from(lut.buffer).toString('base64') };
      expect(readDicomJson(littleEndian, 16, false)['00281201']).toEqual(expected);
      expect(readDicomJson(bigEndian, 16, false)['00281201']).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
