import { SopClass } from '@mipseg/shared/dicom';
import { readSegMask } from './read-seg-mask';
import { writeMipInstance } from './write-mip-instance';
import { SEG_NO_FINDINGS_SUFFIX, writeSegInstance } from './write-seg-instance';
import {
  ALGORITHM, countingUids, EQUIPMENT, errorCodeOf, FIXED_NOW, readNatural, syntheticMip, syntheticSource, thresholdMask,
} from '../../../../test/pipeline/dicom-output/synthetic-source';

const options = () => ({ equipment: EQUIPMENT, algorithm: ALGORITHM, newUid: countingUids(), now: () => FIXED_NOW });

describe('writeSegInstance', () => {
  const mip = syntheticMip(37, 29);
  const source = syntheticSource();
  const mipOut = writeMipInstance(mip, source, { ...options(), newUid: countingUids('2.25.3000') });
  const image = { ...mipOut, geometry: mip };

  test('writes one segment on one frame that derives from the MIP instance', () => {
    const out = writeSegInstance(thresholdMask(mip), image, source, options());
    const ds = readNatural(out.bytes);
    expect(out.sopClassUid).toBe(SopClass.SegmentationStorage);
    expect([ds['BitsAllocated'], ds['BitsStored'], ds['HighBit'], ds['NumberOfFrames']]).toEqual([1, 1, 0, 1]);
    const segment = ds['SegmentSequence'][0];
    expect(segment['SegmentAlgorithmName']).toBe(ALGORITHM.name);
    expect(segment['SegmentationAlgorithmIdentificationSequence'][0]['AlgorithmVersion']).toBe(ALGORITHM.version);
    expect(segment['SegmentedPropertyTypeCodeSequence'][0]).toMatchObject({ CodeValue: '108369006', CodingSchemeDesignator: 'SCT' });
    const frame = ds['PerFrameFunctionalGroupsSequence'][0];
    expect(frame['FrameContentSequence'][0]['DimensionIndexValues']).toEqual([1, 1]);
    const source0 = frame['DerivationImageSequence'][0]['SourceImageSequence'][0];
    expect(source0['ReferencedSOPInstanceUID']).toBe(mipOut.sopInstanceUid);
    expect(source0['SpatialLocationsPreserved']).toBe('YES');
    expect(ds['ReferencedSeriesSequence'][0]['SeriesInstanceUID']).toBe(mipOut.seriesInstanceUid);
    expect(ds['SeriesDescription']).toBe('Tumour SEG (MIP) of series 3 - mipseg');
  });

  test('carries the source time zone, lossy compression and issuers as the MIP does', () => {
    const instant = new Date(Date.UTC(2024, 4, 17, 23, 30, 15, 250));
    const withAll = {
      ...source, TimezoneOffsetFromUTC: '-0500', LossyImageCompression: '01' as const, LossyImageCompressionRatio: ['8'],
      LossyImageCompressionMethod: ['ISO_15444_1'], carriedPatientAndStudy: { IssuerOfAccessionNumberSequence: [{ LocalNamespaceEntityID: 'RIS' }] },
    };
    const ds = readNatural(writeSegInstance(thresholdMask(mip), image, withAll, { ...options(), now: () => instant }).bytes);
    expect([ds['TimezoneOffsetFromUTC'], ds['ContentDate'], ds['ContentTime']]).toEqual(['-0500', '20240517', '183015.250']);
    expect(ds['LossyImageCompression']).toBe('01');
    expect(ds['IssuerOfAccessionNumberSequence']).toMatchObject([{ LocalNamespaceEntityID: 'RIS' }]);
  });

  test('round-trips the mask exactly through readSegMask', () => {
    const mask = thresholdMask(mip);
    const back = readSegMask(writeSegInstance(mask, image, source, options()).bytes);
    expect([back.width, back.height]).toEqual([37, 29]);
    expect(Buffer.from(back.mask).equals(Buffer.from(mask))).toBe(true);
  });

  test('writes an empty mask as an explicit "none found" SEG with one all-zero frame', () => {
    const out = writeSegInstance(new Uint8Array(37 * 29), image, source, options());
    const ds = readNatural(out.bytes);
    expect(ds['NumberOfFrames']).toBe(1);
    expect(ds['SeriesDescription']).toBe(`Tumour SEG (MIP) of series 3 - mipseg${SEG_NO_FINDINGS_SUFFIX}`);
    expect(ds['ContentDescription']).toMatch(/^No /);
    expect(readSegMask(out.bytes).mask.every((v) => v === 0)).toBe(true);
  });

  test.each([
    ['a mask of another size', new Uint8Array(37 * 29 - 1)],
    ['a mask with values other than 0 and 1', new Uint8Array(37 * 29).fill(255)],
  ])('refuses %s with MIPSEG_DICOM_OUTPUT_INVALID', (_name, mask) => {
    expect(errorCodeOf(() => writeSegInstance(mask, image, source, options()))).toBe('MIPSEG_DICOM_OUTPUT_INVALID');
  });

  // Enhanced General Equipment (PS3.3 C.7.5.2) makes them Type 1: dciodvfy fails a SEG with one empty. The MIP's
  // writer shares the check, so a MIP is not stored whose SEG could not be.
  test.each([
    ['an empty DeviceSerialNumber', { deviceSerialNumber: '' }],
    ['a DeviceSerialNumber of spaces only', { deviceSerialNumber: '   ' }],
    ['an empty SoftwareVersions', { softwareVersions: '' }],
    ['a ManufacturerModelName of spaces only', { manufacturerModelName: ' ' }],
  ])('refuses %s with MIPSEG_DICOM_OUTPUT_INVALID, in the SEG and the MIP', (_name, change) => {
    const equipment = { ...EQUIPMENT, ...change };
    expect(errorCodeOf(() => writeSegInstance(thresholdMask(mip), image, source, { ...options(), equipment }))).toBe('MIPSEG_DICOM_OUTPUT_INVALID');
    expect(errorCodeOf(() => writeMipInstance(mip, source, { ...options(), equipment }))).toBe('MIPSEG_DICOM_OUTPUT_INVALID');
  });

  test('refuses an algorithm name longer than a LO value rather than letting it be cut short', () => {
    const long = { ...options(), algorithm: { ...ALGORITHM, name: 'x'.repeat(65) } };
    expect(errorCodeOf(() => writeSegInstance(thresholdMask(mip), image, source, long))).toBe('MIPSEG_DICOM_OUTPUT_INVALID');
  });
});
