import { errorCodeOf, syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { explicitElement, insertedBefore } from '../../../test/support/explicit-elements';
import { instanceWithHeaderPastProbe } from '../../../test/support/header-past-probe';
import { HEADER_PROBE_BYTES } from '../store/archive';
import { parseInstanceHeader, readSopInstanceUid } from './parse-header';

describe('readSopInstanceUid', () => {
  test('gives the SOP Instance UID the full header parse gives', () => {
    const bytes = syntheticPetInstance({ sopInstanceUid: '2.25.4242.7' });
    expect(readSopInstanceUid(bytes)).toBe('2.25.4242.7');
    expect(readSopInstanceUid(bytes)).toBe(parseInstanceHeader(bytes).sopInstanceUid);
  });

  test('names the attribute when the instance has no SOP Instance UID', () => {
    expect(errorCodeOf(() => readSopInstanceUid(syntheticPetInstance({ sopInstanceUid: '' })))).toBe('MIPSEG_DICOM_MISSING_ATTRIBUTE');
  });

  test('refuses bytes that are not a PS3.10 file', () => {
    expect(errorCodeOf(() => readSopInstanceUid(Buffer.from('not a DICOM file at all')))).toBe('MIPSEG_DICOM_UNPARSEABLE');
  });
});

describe('parseInstanceHeader', () => {
  test('indexes a patient name in ISO 2022 code extensions as the text it stands for (PS3.5 Annex H)', () => {
    const bytes = syntheticPetInstance({
      sopInstanceUid: '2.25.4242.8', characterSet: '\\ISO 2022 IR 87',
      patientNameBytes: 'Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B',
    });
    expect(parseInstanceHeader(bytes).values['patient_name']).toBe('Yamada^Tarou=山田^太郎');
  });

  test('refuses a probe that ends inside a sequence of undefined length, so that the caller parses the whole file', () => {
    const file = instanceWithHeaderPastProbe('2.25.4242.9');
    expect(errorCodeOf(() => parseInstanceHeader(file.subarray(0, HEADER_PROBE_BYTES), file.length))).toBe('MIPSEG_DICOM_UNPARSEABLE');
    expect(parseInstanceHeader(file, file.length).hasPixelData).toBe(true);
  });
});

describe('parseInstanceHeader and element encodings', () => {
  test('refuses an element whose VR code PS3.5 does not have: readers disagree on its length (dcmjs reads a UN length)', () => {
    const file = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.88.7', extra: { StationName: 'PETCT1' } }));
    const tag = Buffer.from([0x08, 0x00, 0x10, 0x10]);
    file.write('S1', file.indexOf(tag, 132) + 4, 'latin1');
    expect(errorCodeOf(() => parseInstanceHeader(file))).toBe('MIPSEG_DICOM_UNPARSEABLE');
    expect(() => parseInstanceHeader(file)).toThrow(/\(0008,1010\).*S1/);
  });
});

describe('parseInstanceHeader and the 64-bit VRs (OV, SV, UV), which dicom-parser 1.8 does not know', () => {
  test('stores an instance with an Extended Offset Table (7FE0,0001) OV, and a private SV, reading every other element', () => {
    const base = syntheticPetInstance({ sopInstanceUid: '2.25.88.9' });
    const creator = Buffer.from([0x09, 0x00, 0x10, 0x00, 0x4c, 0x4f, 0x06, 0x00, ...Buffer.from('MIPSEG')]);
    const withPrivate = insertedBefore(base, 0x0010, 0x0010, Buffer.concat([creator, explicitElement(0x0009, 0x1010, 'SV', Buffer.alloc(16), true)]));
    const file = insertedBefore(withPrivate, 0x7fe0, 0x0010, explicitElement(0x7fe0, 0x0001, 'OV', Buffer.alloc(8), true));
    const header = parseInstanceHeader(file);
    expect(header.sopInstanceUid).toBe('2.25.88.9');
    expect(header.values['patient_id']).toBe('MIPSEG-TEST-1');
  });
});
