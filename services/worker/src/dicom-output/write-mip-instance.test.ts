import { SopClass } from '@mipseg/shared/dicom';
import { writePart10 } from './part10';
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
    expect(ds['PatientOrientation']).toEqual(['L', 'F']);
    expect(ds['ImagePositionPatient']).toEqual([...mip.imagePositionPatient]);
    expect(ds['Rows']).toBe(29);
    expect(ds['Columns']).toBe(37);
    expect(ds['Manufacturer']).toBe('mipseg');
    expect(ds['PatientName'][0]['Alphabetic']).toBe('Müller^Jürgen');
  });

  test('writes its creation and content times in the time zone the source states, and the offset with them', () => {
    const instant = new Date(Date.UTC(2024, 4, 17, 23, 30, 15, 250));
    const ds = readNatural(writeMipInstance(mip, { ...source, TimezoneOffsetFromUTC: '+0900' },
      { ...options(), now: () => instant }).bytes);
    expect(ds['TimezoneOffsetFromUTC']).toBe('+0900');
    expect([ds['ContentDate'], ds['ContentTime']]).toEqual(['20240518', '083015.250']);
    expect([ds['InstanceCreationDate'], ds['InstanceCreationTime']]).toEqual(['20240518', '083015.250']);
    const mipseg = (ds['ContributingEquipmentSequence'] as Array<Record<string, unknown>>).at(-1);
    expect(String(mipseg?.['ContributionDateTime']).trimEnd()).toBe('20240518083015.250+0900'); // DT is padded with a space
  });

  test('leaves out a TimezoneOffsetFromUTC it cannot read rather than contradict its own times', () => {
    const ds = readNatural(writeMipInstance(mip, { ...source, TimezoneOffsetFromUTC: 'JST' }, options()).bytes);
    expect(ds['TimezoneOffsetFromUTC']).toBeUndefined();
  });

  test('says it derives from lossy compressed data when the source was, with the source ratio and method', () => {
    const lossy = { ...source, LossyImageCompression: '01' as const, LossyImageCompressionRatio: ['8'], LossyImageCompressionMethod: ['ISO_15444_1'] };
    const ds = readNatural(writeMipInstance(mip, lossy, options()).bytes);
    expect(ds['LossyImageCompression']).toBe('01');
    expect(ds['LossyImageCompressionRatio']).toBe(8);
    expect(ds['LossyImageCompressionMethod']).toBe('ISO_15444_1');
    expect(readNatural(writeMipInstance(mip, source, options()).bytes)['LossyImageCompression']).toBe('00');
  });

  test('copies the issuers, other patient IDs and de-identification codes of the source', () => {
    const carried = {
      IssuerOfAccessionNumberSequence: [{ LocalNamespaceEntityID: 'RADIOLOGY-EAST' }],
      OtherPatientIDsSequence: [{ PatientID: 'MRN-77', IssuerOfPatientID: 'HOSPITAL-B', TypeOfPatientID: 'TEXT' }],
    };
    const ds = readNatural(writeMipInstance(mip, { ...source, carriedPatientAndStudy: carried }, options()).bytes);
    expect(ds['IssuerOfAccessionNumberSequence']).toMatchObject(carried.IssuerOfAccessionNumberSequence);
    expect(ds['OtherPatientIDsSequence']).toMatchObject(carried.OtherPatientIDsSequence);
  });

  test('numbers and names a later result version apart from the first, and names the source series by its number', () => {
    const first = readNatural(writeMipInstance(mip, source, options()).bytes);
    const third = readNatural(writeMipInstance(mip, source, { ...options(), resultVersion: 3 }).bytes);
    const unnumbered = readNatural(writeMipInstance(mip, { ...source, SeriesNumber: null }, options()).bytes);
    expect([first['SeriesNumber'], first['SeriesDescription']]).toEqual([9001, 'MIP (SUV) of series 3 - mipseg']);
    expect([third['SeriesNumber'], third['SeriesDescription']]).toEqual([9005, 'MIP (SUV) of series 3 - mipseg v3']);
    expect(unnumbered['SeriesDescription']).toBe('MIP (SUV) - mipseg');
    expect(errorCodeOf(() => writeMipInstance(mip, source, { ...options(), resultVersion: 0 }))).toBe('MIPSEG_DICOM_OUTPUT_INVALID');
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

describe('writeMipInstance with source values the writer would refuse', () => {
  const mip = syntheticMip(37, 29);
  const source = syntheticSource();

  test('writes an ACR-NEMA date (yyyy.mm.dd) and time (hh:mm:ss) in the PS3.5 form, and leaves an unreadable one empty', () => {
    const ds = readNatural(writeMipInstance(mip, { ...source, StudyDate: '2014.10.23', StudyTime: '09:30:15.5',
      PatientBirthDate: 'unknown' }, options()).bytes);
    expect([ds['StudyDate'], ds['StudyTime']]).toEqual(['20141023', '093015.5']);
    expect(ds['PatientBirthDate'] ?? '').toBe('');
  });

  test('cuts a name longer than a PN component group may be (64 characters) instead of failing the result', () => {
    const long = `${'A'.repeat(70)}^Jürgen`;
    const ds = readNatural(writeMipInstance(mip, { ...source, PatientName: long, ReferringPhysicianName: long }, options()).bytes);
    expect(ds['PatientName'][0]['Alphabetic']).toBe('A'.repeat(64));
    expect(ds['ReferringPhysicianName'][0]['Alphabetic']).toBe('A'.repeat(64));
  });

  test('a value the writer still refuses fails as a fault of the source series (not retried), naming it', () => {
    // What reading the source did not fit, written as it came: a date that is no date.
    const refusal = (() => {
      try {
        writePart10({ SOPClassUID: SopClass.PositronEmissionTomographyImageStorage, SOPInstanceUID: '2.25.9', StudyDate: 'since 1 March 2014' });
      } catch (err) {
        return err as Error & { code?: string };
      }
      return undefined;
    })();
    expect(refusal?.code).toBe('MIPSEG_SOURCE_SERIES_INVALID');
    expect(refusal?.message).toContain('since 1 March 2014');
  });

  test('writes a radiopharmaceutical start time in the ACR-NEMA form (08:00:00) in the PS3.5 one', () => {
    const [item] = source.RadiopharmaceuticalInformationSequence;
    const legacy = { ...source, RadiopharmaceuticalInformationSequence: [{ ...item, RadiopharmaceuticalStartTime: '08:00:00.000000' }] };
    const ds = readNatural(writeMipInstance(mip, legacy, options()).bytes);
    expect(ds['RadiopharmaceuticalInformationSequence'][0]['RadiopharmaceuticalStartTime']).toBe('080000.000000');
  });
});
