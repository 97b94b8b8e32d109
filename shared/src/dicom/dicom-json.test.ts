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
