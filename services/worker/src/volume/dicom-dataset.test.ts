import * as dcmjs from 'dcmjs';
import { findPrivateTag, parseInstanceHeaderOnly, readNumber, readNumbers, readString, readStrings, readValueText } from './dicom-dataset';

const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/**
 * A Part 10 header written by dcmjs, with what the readers must cope with: NUL padding (odd-length UIs),
 * space padding, several values, a value that is not a number, a non-ASCII ISO 8859-1 byte, and a private block
 * reserved in the second creator slot (0x11) in lower case.
 */
function instanceBytes(): Uint8Array {
  const meta = {
    '00020001': { vr: 'OB', Value: [new Uint8Array([0, 1]).buffer] },
    '00020002': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.128'] },
    '00020003': { vr: 'UI', Value: ['1.2.3.45'] },
    '00020010': { vr: 'UI', Value: [EXPLICIT_VR_LITTLE_ENDIAN] },
  };
  const dict = new dcmjs.data.DicomDict(meta);
  dict.dict = {
    '00080018': { vr: 'UI', Value: ['1.2.3.45'] },
    '00080060': { vr: 'CS', Value: ['PT'] },
    '00081090': { vr: 'LO', Value: ['Discovery ST'] },
    '00090010': { vr: 'LO', Value: ['SOME OTHER CREATOR'] },
    '00090011': { vr: 'LO', Value: ['gems_petd_01'] },
    '0009110d': { vr: 'DT', Value: ['20260101120000'] },
    '00100010': { vr: 'LO', Value: ['Mxller'] },
    '00101030': { vr: 'DS', Value: ['72.5'] },
    '00200032': { vr: 'DS', Value: ['-300', '12.5', '1e2'] },
    '00280051': { vr: 'CS', Value: ['ATTN', 'DECY', ''] },
    '00541300': { vr: 'LO', Value: ['12', 'n/a'] },
  };
  const bytes = new Uint8Array(dict.write());
  // Latin-1 ü (0xFC) in place of the x, which dcmjs would not write as one byte.
  const at = Buffer.from(bytes).indexOf('Mxller') + 1;
  bytes[at] = 0xfc;
  return bytes;
}

/** Everything the readers give for the instance, so that differently held bytes can be compared whole. */
function readAll(bytes: Uint8Array): Record<string, unknown> {
  const ds = parseInstanceHeaderOnly(bytes);
  return {
    sop: readString(ds, '00080018'),
    modality: readString(ds, '00080060'),
    model: readString(ds, '00081090'),
    patientName: readString(ds, '00100010'),
    weight: readNumber(ds, '00101030'),
    position: readNumbers(ds, '00200032'),
    firstPosition: readNumber(ds, '00200032'),
    corrected: readStrings(ds, '00280051'),
    correctedText: readValueText(ds, '00280051'),
    halfNumeric: readNumbers(ds, '00541300'),
    halfNumericFirst: readNumber(ds, '00541300'),
    absent: [readString(ds, '00100020'), readNumber(ds, '00101020'), readStrings(ds, '00100020'), readValueText(ds, '00100020')],
    geTag: findPrivateTag(ds, '0009', 'GEMS_PETD_01', '0d'),
    philipsTag: findPrivateTag(ds, '7053', 'Philips PET Private Group', '00'),
    geValue: (() => { const tag = findPrivateTag(ds, '0009', 'GEMS_PETD_01', '0d'); return tag && readString(ds, tag); })(),
  };
}

describe('DICOM attribute readers', () => {
  it('read values trimmed of NUL and space padding, split at backslashes, one byte per ISO 8859-1 character', () => {
    expect(readAll(instanceBytes())).toEqual({
      sop: '1.2.3.45', modality: 'PT', model: 'Discovery ST', patientName: 'Müller', weight: 72.5,
      position: [-300, 12.5, 100], firstPosition: -300, corrected: ['ATTN', 'DECY', ''], correctedText: 'ATTN\\DECY\\',
      halfNumeric: null, halfNumericFirst: null, absent: [null, null, [], null],
      geTag: '0009110d', philipsTag: null, geValue: '20260101120000',
    });
  });

  it('read the same from a Buffer, a plain Uint8Array and a view into a larger buffer', () => {
    const bytes = instanceBytes();
    const larger = new Uint8Array(bytes.length + 17);
    larger.set(bytes, 17);
    const expected = readAll(bytes);
    expect(readAll(Buffer.from(bytes))).toEqual(expected);
    expect(readAll(larger.subarray(17))).toEqual(expected);
  });
});
