import { isMipsegError } from '@mipseg/shared/errors';
import { writePart10, type NaturalDataset } from './part10';
import { writeMipInstance } from './write-mip-instance';
import { writeSegInstance } from './write-seg-instance';
import { dataSetsWritten, dcmjsPart10 } from '../../../../test/pipeline/dicom-output/dcmjs-reference';
import {
  ALGORITHM, countingUids, EQUIPMENT, FIXED_NOW, syntheticMip, syntheticSource, thresholdMask,
} from '../../../../test/pipeline/dicom-output/synthetic-source';

const bytesOf = (values: readonly number[]): ArrayBuffer => new Uint8Array(values).buffer;

/** One attribute of every VR mipseg writes: multi-valued, empty, odd-length, non-ASCII, nested and empty sequences. */
const EVERY_VR: NaturalDataset = {
  SOPClassUID: '1.2.840.10008.5.1.4.1.1.128',
  SOPInstanceUID: '2.25.123',
  RetrieveAETitle: 'MIPSEG',
  PatientAge: '045Y',
  FrameIncrementPointer: 0x00181063,
  ImageType: ['DERIVED', 'PRIMARY', 'X'],
  StudyDate: '20240102',
  PixelSpacing: [2, 2.5],
  PatientWeight: 71.25,
  AcquisitionDateTime: '20240102100000.12345',
  RecommendedDisplayFrameRateInFloat: 12.5,
  RealWorldValueSlope: 0.00099801304885,
  InstanceNumber: 7,
  SeriesNumber: '9001',
  Manufacturer: 'Grüße',
  AdditionalPatientHistory: 'odd',
  RedPaletteColorLookupTableData: bytesOf([1, 2, 3, 4]),
  PatientName: [{ Alphabetic: 'Müller^Jürgen' }],
  ReferringPhysicianName: '',
  PerformingPhysicianName: ['A^B', 'C^D'],
  StudyID: '1234567',
  ReferencePixelX0: -5,
  TagAngleSecondAxis: -3,
  DerivationDescription: 'stored value × RescaleSlope = SUVbw',
  StudyTime: '101010.12',
  StrainDescription: 'unlimited',
  ConcatenationFrameOffsetNumber: 4000000000,
  RetrieveURL: 'http://localhost/dicomweb',
  Rows: 29,
  TextValue: 'text',
  AccessionNumber: '',
  EncapsulatedDocument: bytesOf([1, 2, 3]),
  PatientOrientationCodeSequence: [],
  ReferencedSeriesSequence: [{
    SeriesInstanceUID: '2.25.5',
    ReferencedInstanceSequence: [1, 2, 3].map((i) => ({ ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.128', ReferencedSOPInstanceUID: `2.25.5.${i}` })),
  }],
  DimensionIndexSequence: [{ DimensionIndexPointer: 0x0062000b, FunctionalGroupPointer: 0x0062000a }],
  PixelData: bytesOf([9, 8, 7]),
  _vrMap: { PixelData: 'OB' },
};

describe('writePart10', () => {
  test('writes the MIP, the SEG and the empty SEG byte for byte as dcmjs writes them', () => {
    const mip = syntheticMip(37, 29);
    const source = syntheticSource();
    const fixed = { equipment: EQUIPMENT, algorithm: ALGORITHM, now: () => FIXED_NOW };
    const files: Buffer[] = [];
    const dataSets = dataSetsWritten(() => {
      const mipOut = writeMipInstance(mip, source, { ...fixed, newUid: countingUids('2.25.3000') });
      const image = { ...mipOut, geometry: mip };
      files.push(mipOut.bytes, writeSegInstance(thresholdMask(mip), image, source, { ...fixed, newUid: countingUids() }).bytes,
        writeSegInstance(new Uint8Array(mip.width * mip.height), image, source, { ...fixed, newUid: countingUids() }).bytes);
    });
    expect(dataSets).toHaveLength(3);
    dataSets.forEach((ds, i) => expect(files[i]?.equals(dcmjsPart10(ds))).toBe(true));
  });

  test('writes every VR it supports, with empty, multiple, odd-length and non-ASCII values, as dcmjs does', () => {
    const ours = writePart10(EVERY_VR);
    expect(ours.equals(dcmjsPart10(EVERY_VR))).toBe(true);
    expect(ours.byteOffset === 0 && ours.byteLength === ours.buffer.byteLength).toBe(true);
  });

  test('refuses a value longer than its VR allows, naming the attribute, where dcmjs would throw', () => {
    const tooLong = { ...EVERY_VR, StudyDate: '202401021' };
    let caught: unknown;
    try {
      writePart10(tooLong);
    } catch (err) {
      caught = err;
    }
    expect(isMipsegError(caught, 'MIPSEG_DICOM_OUTPUT_INVALID') && caught.detail).toMatch(/^\(0008,0020\) DA value "202401021"/);
    expect(() => dcmjsPart10(tooLong)).toThrow(/exceeds max length/);
  });
});
