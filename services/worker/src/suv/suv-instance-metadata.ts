import {
  findPrivateTag,
  parseInstanceHeaderOnly,
  readFirstItem,
  readNumber,
  readString,
  readStrings,
  type DataSet,
} from '../volume';

/**
 * What SUV body-weight scaling reads from one PET instance (QIBA PET SUV pseudo-code; PS3.3 C.8.9.1 PET Series,
 * C.8.9.2 PET Isotope, C.7.1.3 Patient Study). Absent attributes are null, so that a refusal can name them.
 */
export interface SuvInstanceMetadata {
  readonly sopInstanceUid: string | null;
  readonly units: string | null;
  /** SUV Type (0054,1006): which SUV a GML series holds (BW, BSA, LBM, IBW, …). */
  readonly suvType: string | null;
  readonly decayCorrection: string | null;
  readonly correctedImage: readonly string[];
  /** kg */
  readonly patientWeight: number | null;
  /** m */
  readonly patientSize: number | null;
  readonly patientSex: string | null;
  readonly seriesDate: string | null;
  readonly seriesTime: string | null;
  readonly acquisitionDate: string | null;
  readonly acquisitionTime: string | null;
  readonly radiopharmaceuticalStartTime: string | null;
  readonly radiopharmaceuticalStartDateTime: string | null;
  /** Timezone Offset From UTC (0008,0201), &ZZXX: the zone of every DA/TM in the instance; null where absent. */
  readonly timezoneOffsetFromUtc: string | null;
  /** Bq at RadiopharmaceuticalStartTime */
  readonly radionuclideTotalDose: number | null;
  /** s */
  readonly radionuclideHalfLife: number | null;
  /** ms */
  readonly frameReferenceTime: number | null;
  /** ms */
  readonly actualFrameDuration: number | null;
  /** Philips (7053,xx00) SUV Scale Factor: SUVbw per stored CNTS value after rescale. */
  readonly philipsSuvScaleFactor: number | null;
  /** Philips (7053,xx09) Activity Concentration Scale Factor: Bq/ml per CNTS value after rescale. */
  readonly philipsActivityConcentrationScaleFactor: number | null;
  /** GE (0009,xx0D) in GEMS_PETD_01: the scan start a GE scanner decay-corrects to when SeriesTime moved. */
  readonly gePostInjectionDateTime: string | null;
}

const PHILIPS_CREATOR = 'Philips PET Private Group';
const GE_CREATOR = 'GEMS_PETD_01';

function privateNumber(ds: DataSet, group: string, creator: string, elementByte: string): number | null {
  const tag = findPrivateTag(ds, group, creator, elementByte);
  return tag === null ? null : readNumber(ds, tag);
}

function privateString(ds: DataSet, group: string, creator: string, elementByte: string): string | null {
  const tag = findPrivateTag(ds, group, creator, elementByte);
  return tag === null ? null : readString(ds, tag);
}

/** Reads SUV inputs from a parsed instance. */
export function readSuvMetadataFromDataSet(ds: DataSet): SuvInstanceMetadata {
  const isotope = readFirstItem(ds, '00540016');
  const fromIsotope = <T>(read: (d: DataSet) => T | null): T | null => (isotope === null ? null : read(isotope));
  return {
    sopInstanceUid: readString(ds, '00080018'),
    units: readString(ds, '00541001'),
    suvType: readString(ds, '00541006'),
    decayCorrection: readString(ds, '00541102'),
    correctedImage: readStrings(ds, '00280051').filter((v) => v !== ''),
    patientWeight: readNumber(ds, '00101030'),
    patientSize: readNumber(ds, '00101020'),
    patientSex: readString(ds, '00100040'),
    seriesDate: readString(ds, '00080021'),
    seriesTime: readString(ds, '00080031'),
    acquisitionDate: readString(ds, '00080022'),
    acquisitionTime: readString(ds, '00080032'),
    radiopharmaceuticalStartTime: fromIsotope((d) => readString(d, '00181072')),
    radiopharmaceuticalStartDateTime: fromIsotope((d) => readString(d, '00181078')),
    timezoneOffsetFromUtc: readString(ds, '00080201'),
    radionuclideTotalDose: fromIsotope((d) => readNumber(d, '00181074')),
    radionuclideHalfLife: fromIsotope((d) => readNumber(d, '00181075')),
    frameReferenceTime: readNumber(ds, '00541300'),
    actualFrameDuration: readNumber(ds, '00181242'),
    philipsSuvScaleFactor: privateNumber(ds, '7053', PHILIPS_CREATOR, '00'),
    philipsActivityConcentrationScaleFactor: privateNumber(ds, '7053', PHILIPS_CREATOR, '09'),
    gePostInjectionDateTime: privateString(ds, '0009', GE_CREATOR, '0d'),
  };
}

/** Reads SUV inputs from an instance's PS3.10 bytes (header only; Pixel Data is not touched). */
export function readSuvInstanceMetadata(bytes: Uint8Array): SuvInstanceMetadata {
  return readSuvMetadataFromDataSet(parseInstanceHeaderOnly(bytes));
}
