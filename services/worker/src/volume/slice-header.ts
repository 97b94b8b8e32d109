import { MipsegError } from '@mipseg/shared/errors';
import { readNumber, readNumbers, readString, readUint16, type DataSet } from './dicom-dataset';
import type { Vec3 } from './pet-volume';

/** What stacking and decoding need from one single-frame PET instance. */
export interface SliceHeader {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly frameOfReferenceUid: string;
  readonly transferSyntaxUid: string;
  readonly rows: number;
  readonly columns: number;
  readonly imagePositionPatient: Vec3;
  /** Row direction then column direction, as ImageOrientationPatient (0020,0037) lists them. */
  readonly imageOrientationPatient: readonly [number, number, number, number, number, number];
  readonly pixelSpacing: readonly [number, number];
  readonly rescaleSlope: number;
  readonly rescaleIntercept: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  /** The sample's top bit (and sign bit, PS3.5 8.1.1); BitsStored - 1 where the instance leaves it out. */
  readonly highBit: number;
  readonly pixelRepresentation: number;
  readonly samplesPerPixel: number;
  readonly numberOfFrames: number;
}

function required(ds: DataSet, tag: string, keyword: string, sop: string): string {
  const value = readString(ds, tag);
  if (value === null) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${sop} has no ${keyword} (${tag.slice(0, 4)},${tag.slice(4)})`);
  }
  return value;
}

function requiredNumbers(ds: DataSet, tag: string, keyword: string, count: number, sop: string): number[] {
  const values = readNumbers(ds, tag);
  if (values === null || values.length !== count) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID',
      `instance ${sop} has no valid ${keyword} (${tag.slice(0, 4)},${tag.slice(4)}): ${count} numbers needed`);
  }
  return values;
}

/**
 * Rescale Slope is Type 1 in the PET Image module and differs per slice (GE) or lies far from 1 (Siemens ~9, GE
 * ~6e-8): a slice without a readable, positive one would be given wrong SUVs with nothing downstream to notice. A
 * negative slope turns every activity negative: the MIP's brightest pixels become the least negative, the model sees
 * a blank image, and the study would read as a confident "no lesion".
 */
function rescaleSlopeOf(ds: DataSet, sop: string): number {
  const [slope = 0] = requiredNumbers(ds, '00281053', 'RescaleSlope', 1, sop);
  if (!(slope > 0)) throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${sop} has a RescaleSlope (0028,1053) of ${slope}: PET activity needs a positive one`);
  return slope;
}

/** PixelSpacing, each value positive: 0 would make the MIP's resampling divide by zero, a negative one the geometry. */
function pixelSpacingOf(ds: DataSet, sop: string): [number, number] {
  const [rowSpacing = 0, columnSpacing = 0] = requiredNumbers(ds, '00280030', 'PixelSpacing', 2, sop);
  if (!(rowSpacing > 0 && columnSpacing > 0)) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${sop} has a PixelSpacing (0028,0030) of ${rowSpacing}\\${columnSpacing}: both must be positive`);
  }
  return [rowSpacing, columnSpacing];
}

/** Rescale Intercept is 0 for PET; absent means 0, but a value that cannot be read is not taken as 0. */
function rescaleInterceptOf(ds: DataSet, sop: string): number {
  if (readString(ds, '00281052') === null) return 0;
  const [intercept = 0] = requiredNumbers(ds, '00281052', 'RescaleIntercept', 1, sop);
  return intercept;
}

function requiredUint16(ds: DataSet, tag: string, keyword: string, sop: string): number {
  const value = readUint16(ds, tag);
  if (value === null || value === 0) {
    throw new MipsegError('MIPSEG_VOLUME_INVALID', `instance ${sop} has no ${keyword} (${tag.slice(0, 4)},${tag.slice(4)})`);
  }
  return value;
}

/** Reads the Image Plane and Image Pixel values of a slice; throws MIPSEG_VOLUME_INVALID naming what is missing. */
export function readSliceHeader(ds: DataSet): SliceHeader {
  const sop = readString(ds, '00080018') ?? '(no SOP Instance UID)';
  const [x = 0, y = 0, z = 0] = requiredNumbers(ds, '00200032', 'ImagePositionPatient', 3, sop);
  const [r0 = 0, r1 = 0, r2 = 0, c0 = 0, c1 = 0, c2 = 0] =
    requiredNumbers(ds, '00200037', 'ImageOrientationPatient', 6, sop);
  const [rowSpacing, columnSpacing] = pixelSpacingOf(ds, sop);
  const bitsAllocated = requiredUint16(ds, '00280100', 'BitsAllocated', sop);
  const bitsStored = readUint16(ds, '00280101') ?? bitsAllocated;
  return {
    sopClassUid: required(ds, '00080016', 'SOPClassUID', sop),
    sopInstanceUid: required(ds, '00080018', 'SOPInstanceUID', sop),
    seriesInstanceUid: required(ds, '0020000e', 'SeriesInstanceUID', sop),
    frameOfReferenceUid: required(ds, '00200052', 'FrameOfReferenceUID', sop),
    transferSyntaxUid: required(ds, '00020010', 'TransferSyntaxUID', sop),
    rows: requiredUint16(ds, '00280010', 'Rows', sop),
    columns: requiredUint16(ds, '00280011', 'Columns', sop),
    imagePositionPatient: [x, y, z],
    imageOrientationPatient: [r0, r1, r2, c0, c1, c2],
    pixelSpacing: [rowSpacing, columnSpacing],
    rescaleSlope: rescaleSlopeOf(ds, sop),
    rescaleIntercept: rescaleInterceptOf(ds, sop),
    bitsAllocated,
    bitsStored,
    highBit: readUint16(ds, '00280102') ?? bitsStored - 1,
    pixelRepresentation: readUint16(ds, '00280103') ?? 0,
    samplesPerPixel: readUint16(ds, '00280002') ?? 1,
    numberOfFrames: readNumber(ds, '00280008') ?? 1,
  };
}
