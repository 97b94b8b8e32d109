import { MipsegError } from '@mipseg/shared/errors';
import { parseInstanceHeaderOnly, readDecodedString, readFirstItem, readNumber, readString, readStrings, readUint16, readValueText, type DataSet } from '../volume';

/** A coded concept as a data set gives it: CodeValue, CodingSchemeDesignator, CodeMeaning (any may be null). */
export interface CodedValue {
  readonly value: string | null;
  readonly scheme: string | null;
  readonly meaning: string | null;
}

/** What series eligibility looks at, read from one instance of the series. Absent values are null or empty. */
export interface PetSeriesHeader {
  readonly seriesInstanceUid: string;
  readonly seriesNumber: number | null;
  readonly seriesDescription: string | null;
  readonly modality: string | null;
  readonly sopClassUid: string | null;
  /** ImageType (0008,0008) values, e.g. ORIGINAL, PRIMARY. */
  readonly imageType: readonly string[];
  /** CorrectedImage (0028,0051) values, e.g. DECY, ATTN, SCAT. */
  readonly correctedImage: readonly string[];
  /** SeriesType (0054,1000) values, e.g. WHOLE BODY, IMAGE. */
  readonly seriesType: readonly string[];
  readonly manufacturer: string | null;
  readonly softwareVersions: readonly string[];
  readonly numberOfFrames: number;
  /** NumberOfSlices (0054,0081): the slices the series holds once complete (PET Series module, Type 1). */
  readonly numberOfSlices: number | null;
  /** SpacingBetweenSlices (0018,0088), else SliceThickness (0018,0050), in mm: with the slice count, the axial coverage. */
  readonly sliceSpacingMm: number | null;
  /** RadiopharmaceuticalInformationSequence's first item: Radiopharmaceutical (0018,0031) and its code. */
  readonly radiopharmaceutical: { readonly name: string | null; readonly code: CodedValue | null };
}

/** A series to choose from: one instance's header and how many instances the archive holds for it. */
export interface PetSeriesCandidate {
  readonly header: PetSeriesHeader;
  readonly instanceCount: number;
  /**
   * Whether SUVbw can be computed from its first instance's header (undefined: not known, taken as yes). Of two
   * reconstructions of one scan, one in counts whose Philips factor an anonymiser stripped (say) would fail the study
   * as MIPSEG_SUV_UNAVAILABLE while the other, in Bq/ml, could be analysed.
   */
  readonly suvReady?: boolean;
  /**
   * axialSpanMm from the series' first slice to its last by InstanceNumber, where planning read both: it does so
   * for a series holding more slices than NumberOfSlices only, whose slice count says nothing certain of its
   * length (a re-send under new SOP Instance UIDs doubles it; a scanner giving NumberOfSlices per bed position
   * does not).
   */
  readonly axialSpanMm?: number;
}

/** Reads the eligibility header from the PS3.10 bytes of any instance of a series (header only). */
export function readPetSeriesHeader(bytes: Uint8Array): PetSeriesHeader {
  return readPetSeriesHeaderFromDataSet(parseInstanceHeaderOnly(bytes));
}

/** readPetSeriesHeader of a header already parsed (parseInstanceHeaderOnly), for a caller that reads more of it. */
export function readPetSeriesHeaderFromDataSet(ds: DataSet): PetSeriesHeader {
  const seriesInstanceUid = readString(ds, '0020000e');
  if (seriesInstanceUid === null) {
    throw new MipsegError('MIPSEG_DICOM_MISSING_ATTRIBUTE', 'SeriesInstanceUID (0020,000E)');
  }
  const values = (tag: string): string[] => readStrings(ds, tag).filter((v) => v !== '');
  return {
    seriesInstanceUid,
    seriesNumber: readNumber(ds, '00200011'),
    seriesDescription: readString(ds, '0008103e'),
    modality: readString(ds, '00080060'),
    sopClassUid: readString(ds, '00080016'),
    imageType: values('00080008'),
    correctedImage: values('00280051'),
    seriesType: values('00541000'),
    manufacturer: readString(ds, '00080070'),
    softwareVersions: values('00181020'),
    numberOfFrames: readNumber(ds, '00280008') ?? 1,
    numberOfSlices: readUint16(ds, '00540081'),
    sliceSpacingMm: positive(readNumber(ds, '00180088')) ?? positive(readNumber(ds, '00180050')),
    radiopharmaceutical: readRadiopharmaceutical(ds),
  };
}

const positive = (value: number | null): number | null => (value !== null && value > 0 ? value : null);

function readRadiopharmaceutical(ds: ReturnType<typeof parseInstanceHeaderOnly>): PetSeriesHeader['radiopharmaceutical'] {
  const item = readFirstItem(ds, '00540016');
  if (item === null) return { name: null, code: null };
  const code = readFirstItem(item, '00540304');
  // A sequence item may name its own character set; otherwise it has the data set's.
  const characterSet = readValueText(item, '00080005') ?? readValueText(ds, '00080005');
  return {
    name: readDecodedString(item, '00180031', characterSet, 'LO'),
    code: code === null ? null : { value: readString(code, '00080100'), scheme: readString(code, '00080102'),
      meaning: readDecodedString(code, '00080104', readValueText(code, '00080005') ?? characterSet, 'LO') },
  };
}
