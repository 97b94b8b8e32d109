import { encodeFileMetaInformation } from './file-meta';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { readDicomJson } from './dicom-json';

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

/** One Implicit VR Little Endian element: tag, 32-bit length, value (padded to even length with `pad`). */
function implicitElement(group: number, element: number, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(element, 2);
  header.writeUInt32LE(value.length, 4);
  return Buffer.concat([header, value]);
}
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
