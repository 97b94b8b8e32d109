import { SopClass } from '@mipseg/shared/dicom';
import { writeMipInstance } from './write-mip-instance';
import {
  countingUids, EQUIPMENT, errorCodeOf, FIXED_NOW, readNatural, syntheticMip, syntheticSource,
} from '../../../../test/pipeline/dicom-output/synthetic-source';

const options = () => ({ equipment: EQUIPMENT, newUid: countingUids(), now: () => FIXED_NOW });

describe('writeMipInstance', () => {
  const mip = syntheticMip(37, 29);
  const source = syntheticSource();

  test('writes a derived PET image in the source study, in SUVbw, on its own coronal grid', () => {
    const out = writeMipInstance(mip, source, options());
    const ds = readNatural(out.bytes);
    expect(out.sopClassUid).toBe(SopClass.PositronEmissionTomographyImageStorage);
    expect(ds['SOPInstanceUID']).toBe(out.sopInstanceUid);
    expect(ds['SeriesInstanceUID']).toBe(out.seriesInstanceUid);
    expect(ds['StudyInstanceUID']).toBe(source.StudyInstanceUID);
    expect(ds['FrameOfReferenceUID']).toBe(source.FrameOfReferenceUID);
    expect(ds['ImageType']).toEqual(['DERIVED', 'PRIMARY', 'MIP']);
    expect(ds['Units']).toBe('GML');
    expect(ds['SeriesType']).toEqual(['WHOLE BODY', 'REPROJECTION']);
    expect(ds['ReprojectionMethod']).toBe('MAX PIXEL');
    expect(ds['RescaleIntercept']).toBe(0);
    expect(ds['RealWorldValueMappingSequence'][0]['MeasurementUnitsCodeSequence'][0]['CodeValue']).toBe('{SUVbw}g/ml');
    expect(ds['ImageOrientationPatient']).toEqual([1, 0, 0, 0, 0, -1]);
    expect(ds['ImagePositionPatient']).toEqual([...mip.imagePositionPatient]);
    expect(ds['Rows']).toBe(29);
    expect(ds['Columns']).toBe(37);
    expect(ds['Manufacturer']).toBe('mipseg');
    expect(ds['PatientName'][0]['Alphabetic']).toBe('Müller^Jürgen');
  });

  test('references every source instance, in SourceImageSequence and ReferencedSeriesSequence', () => {
    const ds = readNatural(writeMipInstance(mip, source, options()).bytes);
    const uids = source.instances.map((i) => i.SOPInstanceUID);
    const items = ds['SourceImageSequence'] as Array<Record<string, unknown>>;
    expect(items.map((i) => i['ReferencedSOPInstanceUID'])).toEqual(uids);
    expect(ds['ReferencedSeriesSequence'][0]['SeriesInstanceUID']).toBe(source.SeriesInstanceUID);
  });

  test('writes identical bytes for identical inputs and injected UIDs and clock', () => {
    expect(writeMipInstance(mip, source, options()).bytes.equals(writeMipInstance(mip, source, options()).bytes)).toBe(true);
  });

  test('states FrameReferenceTime 0 and DecayFactor 1 when the beds of the source disagree, else the shared values', () => {
    const multiBed = readNatural(writeMipInstance(mip, source, options()).bytes);
    expect([multiBed['FrameReferenceTime'], multiBed['DecayFactor']]).toEqual([0, 1]);
    const oneBed = readNatural(writeMipInstance(mip, { ...source, DecayFactor: 1.2, FrameReferenceTime: 60000 }, options()).bytes);
    expect([oneBed['FrameReferenceTime'], oneBed['DecayFactor']]).toEqual([60000, 1.2]);
  });

  test.each([
    ['SUV values that do not fill the image', { ...mip, suv: new Float32Array(10) }],
    ['a zero pixel spacing', { ...mip, pixelSpacingMm: [0, 2] as const }],
    ['row and column directions that are not orthogonal', { ...mip, imageOrientationPatient: [1, 0, 0, 1, 0, 0] as const }],
  ])('refuses %s with MIPSEG_DICOM_OUTPUT_INVALID', (_name, bad) => {
    expect(errorCodeOf(() => writeMipInstance(bad, source, options()))).toBe('MIPSEG_DICOM_OUTPUT_INVALID');
  });

  test('refuses a source without DecayCorrection with MIPSEG_SOURCE_SERIES_INVALID', () => {
    expect(errorCodeOf(() => writeMipInstance(mip, { ...source, DecayCorrection: '' }, options())))
      .toBe('MIPSEG_SOURCE_SERIES_INVALID');
  });
});
