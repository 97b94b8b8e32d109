import { assertType1LongStrings } from '../dicom-output/write-options';
import { equipmentIdentity } from './pipeline-runtime';

describe('the equipment the results name', () => {
  test.each([
    ['a short host name', 'pet-ai-01', 'pet-ai-01'],
    ['a blank one', '  ', 'unknown'],
    ['a fully qualified name longer than LO allows', `${'pet-ai-worker-7f9d4491588c.'.repeat(3)}hospital.example.org`, undefined],
  ])('is valid for %s (DeviceSerialNumber: Type 1, LO 64)', (_, host, expected) => {
    const equipment = equipmentIdentity('1.0.0', host);
    expect(() => assertType1LongStrings({ ManufacturerModelName: equipment.manufacturerModelName, SoftwareVersions: equipment.softwareVersions,
      DeviceSerialNumber: equipment.deviceSerialNumber })).not.toThrow();
    if (expected !== undefined) expect(equipment.deviceSerialNumber).toBe(expected);
    else expect(equipment.deviceSerialNumber).toBe(host.slice(0, 64));
  });
});
