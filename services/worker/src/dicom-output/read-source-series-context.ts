import * as dcmjs from 'dcmjs';
import * as dicomParser from 'dicom-parser';
import { dicomParseOptions, isValidUid, readDcmjsDataSet, TransferSyntax, parseDicomReadingNewerVrs } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import { readValueText } from '../volume';
import { checkedSequence, withCheckedSequences } from './carried-sequences';
import { fitDa, fitTm } from './common-modules';
import { itemsOf, numberOf, textOf, textsOf } from './natural-values';
import type { DicomItem, SourceInstanceRef, SourceSeriesContext } from './source-series-context';

/**
 * dcmjs reports every 'US or SS' dictionary VR it meets (GE's Smallest/LargestImagePixelValue) on the console
 * through a child logger that silencing its root does not reach; what matters reaches us as exceptions.
 */
function quietDcmjsValidationLog(): void {
  dcmjs.log.getLogger('validation.dcmjs').setLevel('silent', false);
}

/** The whole header of the first instance, naturalised by dcmjs (the values copied into the results). */
function readHeader(ds: dicomParser.DataSet): DicomItem {
  try {
    return dcmjs.data.DicomMetaDictionary.naturalizeDataset(readDcmjsDataSet(ds.byteArray, ds).dict);
  } catch (err) {
    const detail = `instance 1: ${err instanceof Error ? err.message : String(err)}`;
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', detail, { cause: err });
  }
}

/** The attributes compared across every instance (entries made once, not per instance). */
const COMPARED_TAGS: readonly (readonly [keyword: string, tag: string])[] = Object.entries({
  Modality: '00080060', StudyInstanceUID: '0020000d', SeriesInstanceUID: '0020000e',
  FrameOfReferenceUID: '00200052', SOPClassUID: '00080016', SOPInstanceUID: '00080018',
  AcquisitionDate: '00080022', AcquisitionTime: '00080032', DecayFactor: '00541321',
  FrameReferenceTime: '00541300', ActualFrameDuration: '00181242', LossyImageCompression: '00282110',
  LossyImageCompressionRatio: '00282112', LossyImageCompressionMethod: '00282114', TransferSyntaxUID: '00020010',
});

/** An instance's header by dicom-parser: a full dcmjs parse of every instance of a 600-slice series costs about a second. */
function parseHeader(bytes: Uint8Array, index: number): dicomParser.DataSet {
  try {
    return parseDicomReadingNewerVrs(bytes, dicomParseOptions('x7fe00010'));
  } catch (err) {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `instance ${index + 1}: ${String(err instanceof Error ? err.message : err)}`, { cause: err });
  }
}

/** Only the compared attributes; everything else is taken from the first instance. */
export function readComparedAttributes(ds: dicomParser.DataSet): DicomItem {
  const item: Record<string, unknown> = {};
  for (const [keyword, tag] of COMPARED_TAGS) {
    const value = readValueText(ds, tag);
    if (value !== null) item[keyword] = value;
  }
  if (item['TransferSyntaxUID'] === TransferSyntax.Jpeg2000 && isIrreversibleJpeg2000(ds)) item[IRREVERSIBLE_JPEG_2000] = true;
  return item;
}

/** Marks an instance whose JPEG 2000 codestream says it was compressed with the irreversible 9/7 wavelet. */
const IRREVERSIBLE_JPEG_2000 = 'irreversibleJpeg2000';

const readUint16 = (b: Uint8Array, at: number): number => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
const readUint32Le = (b: Uint8Array, at: number): number =>
  ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16)) + (b[at + 3] ?? 0) * 0x1000000;

/**
 * Whether the first frame of a JPEG 2000 (.91) instance was compressed irreversibly: that syntax may be either,
 * and senders often leave LossyImageCompression out. Reads the codestream's COD marker (ISO 15444-1 A.6.1): its
 * last SPcod byte is the wavelet, 0 for the irreversible 9/7 one. Works on a parse that stopped at Pixel Data
 * (the element's offset is known, its fragments are not): the first fragment is found by its item headers.
 */
function isIrreversibleJpeg2000(ds: dicomParser.DataSet): boolean {
  const pixelData = ds.elements['x7fe00010'];
  if (!pixelData) return false;
  const bytes = ds.byteArray;
  let at = pixelData.dataOffset;
  // The Basic Offset Table item, then the first fragment's item (tag FFFE,E000 and a 4-byte length each).
  if (readUint32Le(bytes, at) !== 0xe000fffe) return false;
  at += 8 + readUint32Le(bytes, at + 4);
  if (readUint32Le(bytes, at) !== 0xe000fffe) return false;
  at += 8;
  if (readUint16(bytes, at) !== 0xff4f) return false; // SOC
  at += 2;
  const end = Math.min(bytes.length, at + 4096); // the main header comes first and is short
  while (at + 4 <= end) {
    const marker = readUint16(bytes, at);
    if (marker === 0xff52) return bytes[at + 13] === 0; // COD: Lcod, Scod, SGcod (4 bytes), then SPcod's 5th byte
    if (marker === 0xff90 || (marker & 0xff00) !== 0xff00) return false; // a tile part, or not a marker: no COD
    at += 2 + readUint16(bytes, at + 2);
  }
  return false;
}

function invalid(detail: string): MipsegError {
  return new MipsegError('MIPSEG_SOURCE_SERIES_INVALID', detail);
}

/** The one value every header shares, or an error naming the attribute that differs. */
function sameInAll(headers: readonly DicomItem[], keyword: string): string {
  const values = new Set(headers.map((h) => textOf(h, keyword)));
  if (values.size > 1) throw invalid(`${keyword} differs between instances: ${[...values].slice(0, 3).join(', ')}`);
  return [...values][0] ?? '';
}

/** The number every header shares, or null where they differ (one per bed position in a whole-body PET). */
function uniformNumber(headers: readonly DicomItem[], keyword: string): number | null {
  const values = new Set(headers.map((h) => numberOf(h, keyword)));
  return values.size === 1 ? ([...values][0] ?? null) : null;
}

type LossyCompression = Pick<SourceSeriesContext, 'LossyImageCompression' | 'LossyImageCompressionRatio' |
  'LossyImageCompressionMethod'>;

/**
 * Transfer syntaxes that are lossy by definition (PS3.5 8.2): what was sent in them has lost information whether
 * or not the sender set LossyImageCompression, and a derived image must say so (PS3.3 C.7.6.1.1.5). JPEG 2000
 * (.91) may be reversible or not: its codestream decides (isIrreversibleJpeg2000).
 */
const LOSSY_TRANSFER_SYNTAX_METHODS: ReadonlyMap<string, string> = new Map([
  [TransferSyntax.JpegLsNearLossless, 'ISO_14495_1'],
]);

function lossyCompression(headers: readonly DicomItem[]): LossyCompression {
  const declaring = headers.find((h) => textOf(h, 'LossyImageCompression') === '01');
  const impliedMethods = [...new Set(headers
    .map((h) => (h[IRREVERSIBLE_JPEG_2000] === true ? 'ISO_15444_1' : LOSSY_TRANSFER_SYNTAX_METHODS.get(textOf(h, 'TransferSyntaxUID'))))
    .filter((m): m is string => m !== undefined))];
  if (!declaring && impliedMethods.length === 0) {
    return { LossyImageCompression: '', LossyImageCompressionRatio: [], LossyImageCompressionMethod: [] };
  }
  // Ratio and method pair up value by value (one per lossy step): both from the instance that declared them.
  const split = (keyword: string): string[] => (declaring ? textOf(declaring, keyword).split('\\').map((v) => v.trim()).filter((v) => v !== '') : []);
  const declaredMethods = split('LossyImageCompressionMethod');
  return {
    LossyImageCompression: '01',
    // A ratio is only known where the sender wrote one.
    LossyImageCompressionRatio: split('LossyImageCompressionRatio'),
    LossyImageCompressionMethod: declaredMethods.length > 0 ? declaredMethods : impliedMethods,
  };
}

/** The earliest acquisition date and time, compared as one DA+TM string (TM padded to sort correctly). */
function earliestAcquisition(headers: readonly DicomItem[]): { date: string; time: string } {
  const stamps = headers
    .map((h) => ({ date: fitDa(textOf(h, 'AcquisitionDate')), time: fitTm(textOf(h, 'AcquisitionTime')) }))
    .filter((s) => s.date !== '' && s.time !== '')
    .sort((a, b) => `${a.date}${a.time.padEnd(13, '0')}`.localeCompare(`${b.date}${b.time.padEnd(13, '0')}`));
  return stamps[0] ?? { date: '', time: '' };
}

function instanceRefs(headers: readonly DicomItem[]): SourceInstanceRef[] {
  const seen = new Map<string, SourceInstanceRef>();
  for (const h of headers) {
    const ref = { SOPClassUID: textOf(h, 'SOPClassUID'), SOPInstanceUID: textOf(h, 'SOPInstanceUID') };
    if (!isValidUid(ref.SOPClassUID) || !isValidUid(ref.SOPInstanceUID)) {
      throw invalid(`instance without valid SOP Class/Instance UID (${ref.SOPInstanceUID || 'empty'})`);
    }
    if (!seen.has(ref.SOPInstanceUID)) seen.set(ref.SOPInstanceUID, ref);
  }
  return [...seen.values()];
}

function requireUid(value: string, keyword: string): string {
  if (!isValidUid(value)) throw invalid(`${keyword} missing or invalid`);
  return value;
}

/** A series already parsed (the MIP stage parses every instance): its first instance, and each one's compared attributes. */
export interface ParsedSourceSeries {
  readonly first: dicomParser.DataSet;
  /** readComparedAttributes of every instance, in the order of the instance bytes. */
  readonly compared: readonly DicomItem[];
}

function parseSourceSeries(instanceBytes: readonly Uint8Array[]): ParsedSourceSeries {
  const dataSets = instanceBytes.map(parseHeader);
  const [first] = dataSets;
  if (!first) throw invalid('no instances');
  return { first, compared: dataSets.map(readComparedAttributes) };
}

/**
 * Builds the source context from the stored instances of one PET series (PS3.10 bytes; pixel data is not
 * read). `parsed`, where the caller has it, is what was read of the same instances while they were parsed for
 * the MIP: then none is parsed again. Throws MIPSEG_SOURCE_SERIES_INVALID when the instances are not one PET
 * series of one study with a Frame of Reference, and MIPSEG_DICOM_UNPARSEABLE for an instance that is not DICOM.
 */
export function readSourceSeriesContext(instanceBytes: readonly Uint8Array[], parsed?: ParsedSourceSeries): SourceSeriesContext {
  if (instanceBytes.length === 0) throw invalid('no instances');
  if (parsed && parsed.compared.length !== instanceBytes.length) {
    throw new MipsegError('MIPSEG_INTERNAL', `${parsed.compared.length} parsed instances for ${instanceBytes.length}`);
  }
  quietDcmjsValidationLog();
  const { first, compared: headers } = parsed ?? parseSourceSeries(instanceBytes);
  const modality = sameInAll(headers, 'Modality');
  if (modality !== 'PT') throw invalid(`Modality ${modality || 'empty'}, not PT`);
  const base = readHeader(first);
  const acquisition = earliestAcquisition(headers);
  return {
    ...patientAndStudy(base),
    StudyInstanceUID: requireUid(sameInAll(headers, 'StudyInstanceUID'), 'StudyInstanceUID'),
    SeriesInstanceUID: requireUid(sameInAll(headers, 'SeriesInstanceUID'), 'SeriesInstanceUID'),
    Modality: modality,
    FrameOfReferenceUID: requireUid(sameInAll(headers, 'FrameOfReferenceUID'), 'FrameOfReferenceUID'),
    ...petAttributes(base),
    AcquisitionDate: acquisition.date,
    AcquisitionTime: acquisition.time,
    DecayFactor: uniformNumber(headers, 'DecayFactor'),
    FrameReferenceTime: uniformNumber(headers, 'FrameReferenceTime'),
    ActualFrameDuration: uniformNumber(headers, 'ActualFrameDuration'),
    instances: instanceRefs(headers),
    ...lossyCompression(headers),
  };
}

type PatientAndStudy = Pick<SourceSeriesContext, 'PatientName' | 'PatientID' | 'IssuerOfPatientID' |
  'PatientBirthDate' | 'PatientSex' | 'PatientAge' | 'PatientSize' | 'PatientWeight' | 'PatientIdentityRemoved' |
  'StudyDate' | 'StudyTime' | 'StudyID' | 'AccessionNumber' | 'ReferringPhysicianName' |
  'StudyDescription' | 'TimezoneOffsetFromUTC' | 'carriedPatientAndStudy'>;

/** What carriedPatientAndStudy copies (PS3.3 C.7.1.1 Patient, C.7.2.1 General Study, C.7.2.2 Patient Study). */
const CARRIED_PATIENT_AND_STUDY = [
  'IssuerOfPatientIDQualifiersSequence', 'OtherPatientIDsSequence', 'OtherPatientNames', 'PatientBirthTime',
  'EthnicGroup', 'PatientComments', 'DeidentificationMethod', 'DeidentificationMethodCodeSequence',
  'IssuerOfAccessionNumberSequence', 'ReferringPhysicianIdentificationSequence', 'PhysiciansOfRecord',
  'ProcedureCodeSequence', 'AdmittingDiagnosesDescription',
] as const;

function hasValue(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return value !== undefined && value !== null && value !== '';
}

function carriedPatientAndStudy(h: DicomItem): DicomItem {
  const carried = withCheckedSequences(Object.fromEntries(CARRIED_PATIENT_AND_STUDY.filter((k) => hasValue(h[k])).map((k) => [k, h[k]])));
  // A TM in the ACR-NEMA form (hh:mm:ss.ffffff, which the writer refuses past 16 characters and dciodvfy at all) in
  // the PS3.5 one, or left out where it is no time (Type 3).
  const { PatientBirthTime: birthTime, ...rest } = carried;
  const fitted = birthTime === undefined ? '' : fitTm(textOf(carried, 'PatientBirthTime'));
  return fitted ? { ...rest, PatientBirthTime: fitted } : rest;
}

function patientAndStudy(h: DicomItem): PatientAndStudy {
  return {
    PatientName: textOf(h, 'PatientName'),
    PatientID: textOf(h, 'PatientID'),
    IssuerOfPatientID: textOf(h, 'IssuerOfPatientID'),
    PatientBirthDate: textOf(h, 'PatientBirthDate'),
    PatientSex: textOf(h, 'PatientSex'),
    PatientAge: textOf(h, 'PatientAge'),
    PatientSize: numberOf(h, 'PatientSize'),
    PatientWeight: numberOf(h, 'PatientWeight'),
    PatientIdentityRemoved: textOf(h, 'PatientIdentityRemoved'),
    StudyDate: textOf(h, 'StudyDate'),
    StudyTime: textOf(h, 'StudyTime'),
    StudyID: textOf(h, 'StudyID'),
    AccessionNumber: textOf(h, 'AccessionNumber'),
    ReferringPhysicianName: textOf(h, 'ReferringPhysicianName'),
    StudyDescription: textOf(h, 'StudyDescription'),
    TimezoneOffsetFromUTC: textOf(h, 'TimezoneOffsetFromUTC'),
    carriedPatientAndStudy: carriedPatientAndStudy(h),
  };
}

type PetAttributes = Pick<SourceSeriesContext, 'SeriesNumber' | 'SeriesDate' | 'SeriesTime' | 'PositionReferenceIndicator' |
  'Manufacturer' | 'ManufacturerModelName' | 'DeviceSerialNumber' | 'SoftwareVersions' | 'Units' | 'CountsSource' |
  'SeriesType' | 'CorrectedImage' | 'DecayCorrection' | 'AttenuationCorrectionMethod' | 'ReconstructionMethod' |
  'CollimatorType' | 'RadiopharmaceuticalInformationSequence' | 'PatientOrientationCodeSequence' |
  'PatientGantryRelationshipCodeSequence'>;

function petAttributes(h: DicomItem): PetAttributes {
  const seriesNumber = numberOf(h, 'SeriesNumber');
  return {
    // IS's range (PS3.5 6.2): a longer number is no valid SeriesNumber, and would push the SEG's ": none found" out of LO.
    SeriesNumber: Number.isInteger(seriesNumber) && Math.abs(seriesNumber ?? 0) < 2 ** 31 ? seriesNumber : null,
    // Fitted as the SUV's scan start reads them (a migrated archive's yyyy.mm.dd): the writer refuses the old forms.
    SeriesDate: fitDa(textOf(h, 'SeriesDate')),
    SeriesTime: fitTm(textOf(h, 'SeriesTime')),
    PositionReferenceIndicator: textOf(h, 'PositionReferenceIndicator'),
    Manufacturer: textOf(h, 'Manufacturer'),
    ManufacturerModelName: textOf(h, 'ManufacturerModelName'),
    DeviceSerialNumber: textOf(h, 'DeviceSerialNumber'),
    SoftwareVersions: textsOf(h, 'SoftwareVersions').join('\\'),
    Units: textOf(h, 'Units'),
    CountsSource: textOf(h, 'CountsSource'),
    SeriesType: textsOf(h, 'SeriesType'),
    CorrectedImage: textsOf(h, 'CorrectedImage'),
    DecayCorrection: textOf(h, 'DecayCorrection'),
    AttenuationCorrectionMethod: textOf(h, 'AttenuationCorrectionMethod'),
    ReconstructionMethod: textOf(h, 'ReconstructionMethod'),
    CollimatorType: textOf(h, 'CollimatorType'),
    RadiopharmaceuticalInformationSequence: checkedSequence('RadiopharmaceuticalInformationSequence', itemsOf(h, 'RadiopharmaceuticalInformationSequence')),
    PatientOrientationCodeSequence: checkedSequence('PatientOrientationCodeSequence', itemsOf(h, 'PatientOrientationCodeSequence')),
    PatientGantryRelationshipCodeSequence: checkedSequence('PatientGantryRelationshipCodeSequence', itemsOf(h, 'PatientGantryRelationshipCodeSequence')),
  };
}
