import * as dcmjs from 'dcmjs';
import * as dicomParser from 'dicom-parser';
import { readComparedAttributes, readSourceSeriesContext } from './read-source-series-context';
import { errorCodeOf, syntheticPetInstance } from '../../../../test/pipeline/dicom-output/synthetic-source';
import { encapsulateFrame, jpeg2000Copy } from '../../../../test/pipeline/volume/encapsulated-copies';
import { syntheticPetInstance as volumeInstance } from '../../../../test/pipeline/volume/synthetic-pet-instance';

describe('readSourceSeriesContext', () => {
  test('reads the patient, study, frame of reference, PET attributes and every instance once', () => {
    const a = syntheticPetInstance({ sopInstanceUid: '2.25.1.1', acquisitionTime: '091500' });
    const b = syntheticPetInstance({ sopInstanceUid: '2.25.1.2', acquisitionTime: '090000' });
    const context = readSourceSeriesContext([a, b, a]);
    expect(context.PatientName).toBe('Müller^Jürgen');
    expect(context.PatientWeight).toBe(81.5);
    expect(context.StudyInstanceUID).toBe('2.25.2000.1');
    expect(context.FrameOfReferenceUID).toBe('2.25.2000.3');
    expect(context.SeriesNumber).toBe(3);
    expect(context.Units).toBe('BQML');
    expect(context.SeriesType).toEqual(['WHOLE BODY', 'IMAGE']);
    expect(context.RadiopharmaceuticalInformationSequence[0]?.['Radiopharmaceutical']).toBe('Fluorodeoxyglucose');
    expect(context.AcquisitionTime).toBe('090000');
    expect(context.DecayFactor).toBeCloseTo(1.0123, 6);
    expect(context.instances.map((i) => i.SOPInstanceUID)).toEqual(['2.25.1.1', '2.25.1.2']);
  });

  // PS3.5 Annex H and I: Japanese and Korean scanners send names in ISO 2022 code extensions, which dcmjs refuses.
  test.each([
    ['\\ISO 2022 IR 87', 'Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B',
      'Yamada^Tarou=山田^太郎=やまだ^たろう'],
    ['\\ISO 2022 IR 149', 'Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf',
      'Hong^Gildong=洪^吉洞=홍^길동'],
  ])('reads a patient name in %s', (characterSet, patientNameBytes, expected) => {
    const bytes = syntheticPetInstance({ sopInstanceUid: '2.25.1.1', characterSet, patientNameBytes });
    const context = readSourceSeriesContext([bytes]);
    expect(context.PatientName).toBe(expected);
    expect(context.RadiopharmaceuticalInformationSequence[0]?.['Radiopharmaceutical']).toBe('Fluorodeoxyglucose');
  });

  test('carries the issuers, other patient IDs and de-identification codes a PACS matches on', () => {
    const issuer = [{ LocalNamespaceEntityID: 'RADIOLOGY-EAST' }];
    const otherIds = [{ PatientID: 'MRN-77', IssuerOfPatientID: 'HOSPITAL-B', TypeOfPatientID: 'TEXT' }];
    const methods = [{ CodeValue: '113100', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Basic Application Confidentiality Profile' }];
    const context = readSourceSeriesContext([syntheticPetInstance({
      sopInstanceUid: '2.25.1.1',
      extra: { IssuerOfAccessionNumberSequence: issuer, OtherPatientIDsSequence: otherIds, DeidentificationMethodCodeSequence: methods },
    })]);
    expect(context.carriedPatientAndStudy).toMatchObject({
      IssuerOfAccessionNumberSequence: issuer, OtherPatientIDsSequence: otherIds, DeidentificationMethodCodeSequence: methods,
    });
  });

  test('carries every value of a multi-valued DeidentificationMethod, not only the first', () => {
    const context = readSourceSeriesContext([syntheticPetInstance({
      sopInstanceUid: '2.25.1.1', extra: { PatientIdentityRemoved: 'YES', DeidentificationMethod: ['CTP Default', 'Basic Profile'] },
    })]);
    expect(context.carriedPatientAndStudy).toMatchObject({ DeidentificationMethod: ['CTP Default', 'Basic Profile'] });
  });

  test('fits carried names and times the writer would refuse: PN groups cut to 64 characters, an ACR-NEMA time in the PS3.5 form', () => {
    // Written past the writer's own check, as another system's file would come.
    const bytes = syntheticPetInstance({ sopInstanceUid: '2.25.1.1' });
    const file = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
    file.dict['00101001'] = { vr: 'PN', Value: [{ Alphabetic: `${'B'.repeat(80)}^Anna` }] };
    file.dict['00100032'] = { vr: 'TM', Value: ['12:30:00'] };
    const context = readSourceSeriesContext([new Uint8Array(file.write({ allowInvalidVRLength: true }))]);
    expect(context.carriedPatientAndStudy['OtherPatientNames']).toEqual([{ Alphabetic: 'B'.repeat(64) }]);
    expect(context.carriedPatientAndStudy['PatientBirthTime']).toBe('123000');
  });

  test('reads series and acquisition dates and times in ACR-NEMA form (yyyy.mm.dd, hh:mm:ss) in the PS3.5 form the writer takes', () => {
    const legacy = (sop: string, acquisitionTime: string): Uint8Array => {
      const bytes = syntheticPetInstance({ sopInstanceUid: sop });
      const file = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
      file.dict['00080021'] = { vr: 'DA', Value: ['2024.05.17'] };
      file.dict['00080031'] = { vr: 'TM', Value: ['08:55:00'] };
      file.dict['00080022'] = { vr: 'DA', Value: ['2024.05.17'] };
      file.dict['00080032'] = { vr: 'TM', Value: [acquisitionTime] };
      return new Uint8Array(file.write({ allowInvalidVRLength: true }));
    };
    // 09:15 comes after 09:00:30 however the colons sort: the earliest is compared in the PS3.5 form.
    const context = readSourceSeriesContext([legacy('2.25.1.1', '09:15'), legacy('2.25.1.2', '09:00:30')]);
    expect([context.SeriesDate, context.SeriesTime]).toEqual(['20240517', '085500']);
    expect([context.AcquisitionDate, context.AcquisitionTime]).toEqual(['20240517', '090030']);
  });

  test('marks the series lossy when any instance was lossy compressed, with the ratio and method', () => {
    const lossy = { LossyImageCompression: '01', LossyImageCompressionRatio: ['8'], LossyImageCompressionMethod: ['ISO_15444_1'] };
    const context = readSourceSeriesContext([
      syntheticPetInstance({ sopInstanceUid: '2.25.1.1', extra: lossy }),
      syntheticPetInstance({ sopInstanceUid: '2.25.1.2' }),
    ]);
    expect(context.LossyImageCompression).toBe('01');
    expect(context.LossyImageCompressionRatio).toEqual(['8']);
    expect(context.LossyImageCompressionMethod).toEqual(['ISO_15444_1']);
    expect(readSourceSeriesContext([syntheticPetInstance({ sopInstanceUid: '2.25.1.3' })]).LossyImageCompression).toBe('');
  });

  test('marks the series lossy when an instance came in a lossy transfer syntax without saying so', () => {
    const plain = syntheticPetInstance({ sopInstanceUid: '2.25.1.1' });
    const nearLossless = encapsulateFrame(syntheticPetInstance({ sopInstanceUid: '2.25.1.2' }), '1.2.840.10008.1.2.4.81', new Uint8Array(8));
    const context = readSourceSeriesContext([plain, nearLossless]);
    expect(context.LossyImageCompression).toBe('01');
    expect(context.LossyImageCompressionMethod).toEqual(['ISO_14495_1']);
    expect(context.LossyImageCompressionRatio).toEqual([]);
    const reversible = encapsulateFrame(syntheticPetInstance({ sopInstanceUid: '2.25.1.3' }), '1.2.840.10008.1.2.4.80', new Uint8Array(8));
    expect(readSourceSeriesContext([plain, reversible]).LossyImageCompression).toBe('');
  });

  test('takes the lossy ratio and method from an instance that declares them, not only from the first', () => {
    const lossy = { LossyImageCompression: '01', LossyImageCompressionRatio: ['8.5', '2'], LossyImageCompressionMethod: ['ISO_15444_1', 'ISO_10918_1'] };
    const context = readSourceSeriesContext([
      syntheticPetInstance({ sopInstanceUid: '2.25.1.1' }),
      syntheticPetInstance({ sopInstanceUid: '2.25.1.2', extra: lossy }),
    ]);
    expect(context.LossyImageCompression).toBe('01');
    expect(context.LossyImageCompressionRatio).toEqual(['8.5', '2']);
    expect(context.LossyImageCompressionMethod).toEqual(['ISO_15444_1', 'ISO_10918_1']);
  });

  test('reads from a JPEG 2000 codestream whether it was compressed irreversibly, which the sender did not say', () => {
    const native = (sop: string) => volumeInstance({ sopInstanceUid: sop, imagePositionPatient: [0, 0, 0], rows: 32, columns: 32,
      stored: Array.from({ length: 1024 }, (_, i) => (i * 37) % 1000), attributes: { FrameOfReferenceUID: '2.25.2000.3' } });
    const irreversible = jpeg2000Copy(native('2.25.1.1'), { transferSyntaxUid: '1.2.840.10008.1.2.4.91', signedCodestream: false, lossyPsnr: 30 });
    const reversible = jpeg2000Copy(native('2.25.1.2'), { transferSyntaxUid: '1.2.840.10008.1.2.4.91', signedCodestream: false });
    const lossy = readSourceSeriesContext([Buffer.from(reversible), Buffer.from(irreversible)]);
    expect([lossy.LossyImageCompression, lossy.LossyImageCompressionMethod]).toEqual(['01', ['ISO_15444_1']]);
    expect(readSourceSeriesContext([Buffer.from(reversible)]).LossyImageCompression).toBe('');
  });

  test('reads everything from what the caller read while parsing, never from the bytes again', () => {
    const bytes = ['2.25.1.1', '2.25.1.2'].map((sopInstanceUid) => syntheticPetInstance({ sopInstanceUid }));
    const dataSets = bytes.map((b) => dicomParser.parseDicom(b));
    const parsed = { first: dataSets[0] as dicomParser.DataSet, compared: dataSets.map(readComparedAttributes) };
    expect(readSourceSeriesContext(bytes.map(() => new Uint8Array(0)), parsed)).toEqual(readSourceSeriesContext(bytes));
  });

  test('gives null for a per-image value that differs between bed positions', () => {
    const context = readSourceSeriesContext([
      syntheticPetInstance({ sopInstanceUid: '2.25.1.1', decayFactor: 1.01 }),
      syntheticPetInstance({ sopInstanceUid: '2.25.1.2', decayFactor: 1.05 }),
    ]);
    expect(context.DecayFactor).toBeNull();
    expect(context.FrameReferenceTime).toBe(0);
  });

  test.each([
    ['two series', [{ sopInstanceUid: '2.25.1.1' }, { sopInstanceUid: '2.25.1.2', seriesInstanceUid: '2.25.9' }]],
    ['two studies', [{ sopInstanceUid: '2.25.1.1' }, { sopInstanceUid: '2.25.1.2', studyInstanceUid: '2.25.9' }]],
    ['a CT series', [{ sopInstanceUid: '2.25.1.1', modality: 'CT' }]],
    ['no Frame of Reference', [{ sopInstanceUid: '2.25.1.1', frameOfReferenceUid: '' }]],
  ])('refuses %s with MIPSEG_SOURCE_SERIES_INVALID', (_name, headers) => {
    const bytes = headers.map((h) => syntheticPetInstance(h));
    expect(errorCodeOf(() => readSourceSeriesContext(bytes))).toBe('MIPSEG_SOURCE_SERIES_INVALID');
  });

  test('refuses an empty list and a file that is not DICOM', () => {
    expect(errorCodeOf(() => readSourceSeriesContext([]))).toBe('MIPSEG_SOURCE_SERIES_INVALID');
    expect(errorCodeOf(() => readSourceSeriesContext([Buffer.from('not dicom at all')]))).toBe('MIPSEG_DICOM_UNPARSEABLE');
  });
});
