import * as dcmjs from 'dcmjs';
import { isMipsegError, type MipsegError } from '@mipseg/shared/errors';
import type { RenderedMip, SourceSeriesContext } from '../../../services/worker/src/dicom-output';
import { writePart10 } from '../../../services/worker/src/dicom-output/part10';

/** Fixed inputs for writer tests: deterministic UIDs, clock, equipment and algorithm. */
export const EQUIPMENT = { manufacturerModelName: 'mipseg', softwareVersions: '0.1.0', deviceSerialNumber: 'test-host' };
export const ALGORITHM = { name: 'mip-attention-unet', version: '0.1.0-test', description: 'Attention U-Net' };
export const FIXED_NOW = new Date(2024, 4, 17, 9, 30, 15, 250);

/** A UID generator counting up under a test root, so two runs write identical files. */
export function countingUids(root = '2.25.1000'): () => string {
  let n = 0;
  return () => `${root}.${++n}`;
}

const SOURCE_SERIES_UID = '2.25.2000.2';
const PET = '1.2.840.10008.5.1.4.1.1.128';

/** A PET series context as readSourceSeriesContext gives it, with a non-ASCII name to exercise UTF-8. */
export function syntheticSource(instanceCount = 3): SourceSeriesContext {
  return {
    PatientName: 'Müller^Jürgen', PatientID: 'MIPSEG-TEST-1', IssuerOfPatientID: '', PatientBirthDate: '19600101',
    PatientSex: 'M', PatientAge: '064Y', PatientSize: 1.8, PatientWeight: 81.5, PatientIdentityRemoved: '',
    StudyInstanceUID: '2.25.2000.1', StudyDate: '20240517', StudyTime: '081500', StudyID: 'S1', AccessionNumber: 'A1',
    ReferringPhysicianName: '', StudyDescription: 'PET/CT whole body', TimezoneOffsetFromUTC: '',
    carriedPatientAndStudy: {},
    SeriesInstanceUID: SOURCE_SERIES_UID, SeriesNumber: 3, Modality: 'PT', SeriesDate: '20240517', SeriesTime: '090000',
    FrameOfReferenceUID: '2.25.2000.3', PositionReferenceIndicator: '',
    Manufacturer: 'Test Scanner Co', ManufacturerModelName: 'PET 1', DeviceSerialNumber: 'SN1', SoftwareVersions: '1.0',
    Units: 'BQML', CountsSource: 'EMISSION', SeriesType: ['WHOLE BODY', 'IMAGE'], CorrectedImage: ['DECY', 'ATTN'],
    DecayCorrection: 'START', AttenuationCorrectionMethod: '', ReconstructionMethod: 'OSEM', CollimatorType: 'NONE',
    AcquisitionDate: '20240517', AcquisitionTime: '090000', DecayFactor: null, FrameReferenceTime: null,
    ActualFrameDuration: 120000,
    RadiopharmaceuticalInformationSequence: [{
      Radiopharmaceutical: 'Fluorodeoxyglucose', RadiopharmaceuticalStartTime: '080000', RadionuclideTotalDose: 3.5e8,
      RadionuclideHalfLife: 6586.2,
      RadionuclideCodeSequence: [{ CodeValue: '77004003', CodingSchemeDesignator: 'SCT', CodeMeaning: '^18^Fluorine' }],
    }],
    PatientOrientationCodeSequence: [],
    PatientGantryRelationshipCodeSequence: [],
    LossyImageCompression: '', LossyImageCompressionRatio: [], LossyImageCompressionMethod: [],
    instances: Array.from({ length: instanceCount }, (_, i) => ({ SOPClassUID: PET, SOPInstanceUID: `2.25.2000.10.${i + 1}` })),
  };
}

/**
 * A coronal MIP with every kind of value: a smooth body, a hot lesion, a few zeros, and an exact 0-to-max
 * ramp in the first row. Sizes where width × height is not a multiple of 8 exercise bit-packing.
 */
export function syntheticMip(width: number, height: number): RenderedMip {
  const suv = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const body = 1.5 + Math.sin(x / 7) * Math.cos(y / 11);
      const lesion = Math.hypot(x - width / 3, y - height / 2) < Math.min(width, height) / 8 ? 12.5 : 0;
      suv[y * width + x] = y === 0 ? (x / Math.max(1, width - 1)) * 20 : x % 13 === 0 ? 0 : body + lesion;
    }
  }
  return {
    width, height, suv,
    pixelSpacingMm: [2, 2],
    imagePositionPatient: [-(width - 1), 0, 900.5],
    imageOrientationPatient: [1, 0, 0, 0, 0, -1],
    sliceThicknessMm: 600,
  };
}

/** The mask a model would give: SUV above 4 (the lesion and part of the ramp), as 0/1. */
export function thresholdMask(mip: RenderedMip, suvThreshold = 4): Uint8Array {
  return Uint8Array.from(mip.suv, (v) => (v > suvThreshold ? 1 : 0));
}

export interface SyntheticPetHeader {
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid?: string;
  readonly studyInstanceUid?: string;
  readonly modality?: string;
  readonly frameOfReferenceUid?: string;
  readonly decayFactor?: number;
  readonly acquisitionTime?: string;
  /** Specific Character Set as stored (values joined by '\\') and the name's bytes in it, one character per byte. */
  readonly characterSet?: string;
  readonly patientNameBytes?: string;
  /** Further attributes, keyword-keyed as dcmjs naturalises them. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

const NAME_PLACEHOLDER = '\u0001';

/**
 * A PS3.10 PET instance (header and a 2×2 image) for reader tests. `patientNameBytes` goes in byte for byte
 * (dcmjs would write it as UTF-8): a name in an ISO 2022 or other non-UTF-8 character set.
 */
export function syntheticPetInstance(h: SyntheticPetHeader): Buffer {
  const file = writePetInstance(h);
  if (h.patientNameBytes === undefined) return file;
  const at = file.indexOf(Buffer.from(NAME_PLACEHOLDER.repeat(h.patientNameBytes.length)));
  file.write(h.patientNameBytes, at, 'latin1');
  return file;
}

function writePetInstance(h: SyntheticPetHeader): Buffer {
  return writePart10({
    SpecificCharacterSet: h.characterSet ?? 'ISO_IR 192', SOPClassUID: PET, SOPInstanceUID: h.sopInstanceUid,
    PatientName: h.patientNameBytes === undefined ? 'Müller^Jürgen' : NAME_PLACEHOLDER.repeat(h.patientNameBytes.length), PatientID: 'MIPSEG-TEST-1', PatientWeight: '81.5',
    StudyInstanceUID: h.studyInstanceUid ?? '2.25.2000.1', SeriesInstanceUID: h.seriesInstanceUid ?? SOURCE_SERIES_UID,
    Modality: h.modality ?? 'PT', SeriesNumber: '3', SeriesDate: '20240517', SeriesTime: '090000',
    AcquisitionDate: '20240517', AcquisitionTime: h.acquisitionTime ?? '090000',
    ...(h.frameOfReferenceUid === '' ? {} : { FrameOfReferenceUID: h.frameOfReferenceUid ?? '2.25.2000.3' }),
    Units: 'BQML', DecayCorrection: 'START', SeriesType: ['WHOLE BODY', 'IMAGE'], CorrectedImage: ['DECY', 'ATTN'],
    DecayFactor: String(h.decayFactor ?? 1.0123), FrameReferenceTime: '0', ActualFrameDuration: '120000',
    RadiopharmaceuticalInformationSequence: [{ Radiopharmaceutical: 'Fluorodeoxyglucose', RadionuclideTotalDose: '350000000' }],
    Rows: 2, Columns: 2, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2', PixelData: [new Uint16Array([0, 1, 2, 3]).buffer], _vrMap: { PixelData: 'OW' },
    ...h.extra,
  });
}

/** The catalogue code of what `fn` throws (errors are matched by code, never by message). */
export function errorCodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isMipsegError(err) ? err.code : `not a MipsegError: ${String(err)}`;
  }
  return undefined;
}

/** The MipsegError `fn` throws; anything else thrown is thrown on, and nothing thrown fails the test. */
export function mipsegErrorThrownBy(fn: () => unknown): MipsegError {
  try {
    fn();
  } catch (err) {
    if (isMipsegError(err)) return err;
    throw err;
  }
  throw new Error('nothing thrown');
}

/** A written file read back with dcmjs, keyword-keyed (values as dcmjs naturalises them). */
export function readNatural(bytes: Uint8Array): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any -- test access to dcmjs's untyped data sets
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(buffer).dict);
}
