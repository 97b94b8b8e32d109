import { writePart10 } from '../../../services/worker/src/dicom-output/part10';
import { syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { readDcmjsDataSet } from './dcmjs-read';
import { readDicomJson } from './dicom-json';

const JAPANESE = 'Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B';
const KOREAN = 'Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7';

/** `text` written byte for byte (one character per byte) where `placeholder` was. */
function withBytes(file: Buffer, placeholder: string, text: string): Buffer {
  const at = file.indexOf(Buffer.from(placeholder));
  file.write(text, at, 'latin1');
  return file;
}

describe('readDcmjsDataSet', () => {
  test.each([['\\ISO 2022 IR 87', JAPANESE, '山田^太郎'], ['\\ISO 2022 IR 149', KOREAN, '洪^吉洞']])(
    'reads a name in %s as the text it stands for', (characterSet, patientNameBytes, ideographic) => {
      const file = readDcmjsDataSet(syntheticPetInstance({ sopInstanceUid: '2.25.88.1', characterSet, patientNameBytes }));
      expect(file.dict['00100010']?.Value).toEqual([{ Alphabetic: patternOf(patientNameBytes), Ideographic: ideographic }]);
    });

  test('decodes a sequence item in the character set the item declares (PS3.5 6.1.2.5.3)', () => {
    const placeholder = '\u0001'.repeat(JAPANESE.length);
    const bytes = withBytes(writePart10({
      SpecificCharacterSet: 'ISO_IR 192', SOPClassUID: '1.2.840.10008.5.1.4.1.1.128', SOPInstanceUID: '2.25.88.2',
      RequestedProcedureCodeSequence: [{
        SpecificCharacterSet: ['', 'ISO 2022 IR 87'], CodeValue: 'P1', CodingSchemeDesignator: '99LOCAL', CodeMeaning: 'PET',
        RequestingPhysician: placeholder,
      }],
    }), placeholder, JAPANESE);
    const item = readDcmjsDataSet(bytes).dict['00321064']?.Value?.[0] as Record<string, { Value?: unknown[] }>;
    expect(item['00321032']?.Value).toEqual([{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }]);
  });

  test('leaves the bytes after Pixel Data out of what dcmjs reads, and Pixel Data in the JSON by reference', () => {
    const json = readDicomJson(syntheticPetInstance({ sopInstanceUid: '2.25.88.3', characterSet: '\\ISO 2022 IR 87',
      patientNameBytes: JAPANESE }), 16, false);
    expect(json['00100010']?.Value).toEqual([{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }]);
    expect(json['7FE00010']?.BulkDataURI).toMatch(/bulkdata\/7FE00010$/);
  });
});

function patternOf(name: string): string {
  return name.split('=')[0] ?? '';
}

describe('readDcmjsDataSet of a Specific Character Set dcmjs does not know', () => {
  test.each([
    ['a spelling outside PS3.3', 'ISO-8859-1'],
    ['a term repeated', 'ISO_IR 100\\ISO_IR 100'],
    ['an unknown short term', 'LATIN1'],
    ['a term padded with NUL', 'ISO_IR 100\0'],
  ])('reads %s (%s) as Latin-1 instead of failing', (_what, characterSet) => {
    const bytes = syntheticPetInstance({ sopInstanceUid: '2.25.1.7', characterSet, patientNameBytes: 'M\xfcller^J\xfcrgen' });
    const file = readDcmjsDataSet(bytes);
    expect(file.dict['00100010']?.Value).toEqual([{ Alphabetic: 'Müller^Jürgen' }]);
  });
});
