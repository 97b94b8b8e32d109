/**
 * Synthetic whole-body PET series whose coronal SUV MIP, as mipseg renders it, reproduces a given image:
 * a DM i AI MIP PNG (to test the service against the model's own figures) or any network-input image.
 *
 * Image pixel (row r, column c) at `pixelSpacingMm` becomes the column of voxels at patient x = x0 + s·c,
 * z = z0 − s·r (columns run towards the patient's left, rows towards the feet: mipseg's MIP orientation).
 * Along the anterior–posterior axis that column holds the pixel's SUV at ONE voxel, at a depth that varies
 * smoothly with x and z inside an elliptical body, and a fifth of it elsewhere in the body, so that the
 * maximum along AP is the placed value. One axial slice per image row; stored as 16-bit BQML with a
 * per-slice RescaleSlope, for a 70 kg patient injected with 350 MBq of F-18 one hour before the scan.
 */
import { readFileSync } from 'node:fs';
import * as dcmjs from 'dcmjs';
import { PNG } from 'pngjs';
import { newUid } from '@mipseg/shared/dicom';
import { pngToModelInput, type ModelInput } from '@mipseg/shared/inference';

const PET_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.128';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** The acquisition every synthetic series shares; SUVbw = BQML × weight (g) / dose decayed to the scan start. */
export const SYNTHETIC_ACQUISITION = Object.freeze({
  patientWeightKg: 70,
  injectedDoseBq: 350e6,
  halfLifeS: 6586.2,
  date: '20240102',
  injectionTime: '090000',
  seriesTime: '100000',
  /** Series time minus injection time. */
  uptakeS: 3600,
});

/** Bq/ml per SUVbw: the dose decayed from injection to the series start, over the weight in grams. */
export function bqmlPerSuv(acquisition = SYNTHETIC_ACQUISITION): number {
  const decayedDose = acquisition.injectedDoseBq * 2 ** (-acquisition.uptakeS / acquisition.halfLifeS);
  return decayedDose / (acquisition.patientWeightKg * 1000);
}

/** A saturated pixel (x = 1) stands for uptake at or above suvWhite: it is placed this far above it. */
const SATURATED_SUV_FACTOR = 1.25;
/** Largest stored value used: the slope leaves headroom below 32767 for rounding. */
const STORED_MAX = 32000;
/** Background within the body, as a share of the column's placed value. */
const BACKGROUND_SHARE = 0.2;

export interface SyntheticPetOptions {
  /** SUV at network input 1 (the manifest's input.intensity.fromSuv.suvWhite). */
  readonly suvWhite: number;
  /** Image pixel size = axial pixel size = slice spacing, mm (the manifest's input.pixelSpacingMm). */
  readonly pixelSpacingMm: number;
  /** Axial rows (anterior–posterior extent in voxels); at least 16. */
  readonly apRows: number;
  readonly patientId?: string;
  readonly studyInstanceUid?: string;
}

export interface SyntheticPetSeries {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** PS3.10 files, one axial slice each, head first. */
  readonly instances: Buffer[];
  /** The image the coronal MIP should reproduce, and its intended SUV (width × height, row-major). */
  readonly width: number;
  readonly height: number;
  readonly suv: Float32Array;
  /** Patient position of image pixel (0, 0): [x0, z0], mm. */
  readonly topLeftPatient: readonly [number, number];
  readonly pixelDataBytes: number;
}

/** A DM i AI MIP PNG as network input x = (255 − grey) / 255 (mipseg's own reader of the format). */
export function readMipPng(path: string): ModelInput {
  return pngToModelInput(readFileSync(path));
}

/** A DM i AI label PNG (white = tumour, on black) as a 0/1 mask: a mask, not a MIP, so not pngToModelInput's to read. */
export function readLabelPng(path: string): Uint8Array {
  const { data, width, height } = PNG.sync.read(readFileSync(path));
  return Uint8Array.from({ length: width * height }, (_, i) => ((data[4 * i] as number) >= 128 ? 1 : 0));
}

/** The SUV a network input stands for: x · suvWhite, saturated pixels above suvWhite. */
export function inputToSuv(input: Float32Array, suvWhite: number): Float32Array {
  return input.map((x) => (x >= 1 ? suvWhite * SATURATED_SUV_FACTOR : x * suvWhite));
}

/**
 * The body's cross-section, the same on every slice: per image column, the AP rows it fills and the terms of
 * the placed voxel's depth. Precomputed per series because the Jest environment makes Math calls slow
 * (test/model/onnx-runtime-environment.js runs test code in a realm of its own): the per-voxel loop has none.
 */
interface BodyShape {
  readonly apRows: number;
  readonly first: readonly number[];
  readonly last: readonly number[];
  /** Largest offset of the placed voxel from the centre (voxels), and its two x-dependent terms. */
  readonly reach: readonly number[];
  readonly termA: readonly number[];
  readonly termB: readonly number[];
}

/** An ellipse across the width (never thinner than a few voxels), centred in the AP rows. */
function bodyShape(width: number, apRows: number): BodyShape {
  const centre = (apRows - 1) / 2;
  const columns = Array.from({ length: width }, (_, c) => {
    const u = (2 * c) / Math.max(1, width - 1) - 1;
    const half = (apRows / 2 - 2) * Math.sqrt(Math.max(0.2, 1 - u * u));
    return { first: Math.ceil(centre - half), last: Math.floor(centre + half), reach: 0.7 * half,
      termA: Math.sin(c / 37), termB: Math.cos(c / 149) };
  });
  return { apRows, first: columns.map((k) => k.first), last: columns.map((k) => k.last), reach: columns.map((k) => k.reach),
    termA: columns.map((k) => k.termA), termB: columns.map((k) => k.termB) };
}

/** The AP rows of the placed voxels of image row r: smooth in x and z, inside the body. */
function placedRows(shape: BodyShape, r: number): number[] {
  const centre = (shape.apRows - 1) / 2;
  const [zA, zB] = [Math.cos(r / 61), Math.sin(r / 83)];
  return shape.reach.map((reach, c) => Math.round(centre + reach * (0.6 * zA * (shape.termA[c] as number) + 0.4 * zB * (shape.termB[c] as number))));
}

/** A slope (as written: at most 16 characters) that stores `max` as about STORED_MAX. */
function rescaleSlope(max: number): number {
  return max > 0 ? Number((max / STORED_MAX).toPrecision(8)) : 1;
}

/**
 * The Pixel Data of the axial slice of image row r (columns × apRows, row-major: AP rows; signed 16-bit little
 * endian) and its slope, such that stored × slope is the activity in Bq/ml.
 */
function axialSlice(suvRow: readonly number[], r: number, shape: BodyShape, bqmlPerSuvFactor: number): { pixels: DataView; slope: string } {
  const width = suvRow.length;
  const slope = rescaleSlope(Math.max(0, ...suvRow) * bqmlPerSuvFactor);
  const placed = placedRows(shape, r);
  const pixels = new DataView(new ArrayBuffer(2 * width * shape.apRows));
  for (let c = 0; c < width; c++) {
    const value = ((suvRow[c] as number) * bqmlPerSuvFactor) / slope;
    if (value <= 0) continue;
    const background = Math.round(value * BACKGROUND_SHARE);
    for (let y = shape.first[c] as number; y <= (shape.last[c] as number); y++) pixels.setInt16(2 * (y * width + c), background, true);
    pixels.setInt16(2 * ((placed[c] as number) * width + c), Math.round(value), true);
  }
  return { pixels, slope: String(slope) };
}

interface SeriesIds {
  readonly study: string;
  readonly series: string;
  readonly frameOfReference: string;
  readonly patientId: string;
}

const sct = (CodeValue: string, CodeMeaning: string) => ({ CodeValue, CodingSchemeDesignator: 'SCT', CodeMeaning });

function seriesAttributes(ids: SeriesIds, slices: number, apRows: number, width: number, spacing: number): Record<string, unknown> {
  const a = SYNTHETIC_ACQUISITION;
  return {
    SpecificCharacterSet: 'ISO_IR 100', SOPClassUID: PET_IMAGE_STORAGE, ImageType: ['ORIGINAL', 'PRIMARY'],
    StudyDate: a.date, SeriesDate: a.date, AcquisitionDate: a.date, ContentDate: a.date,
    StudyTime: a.injectionTime, SeriesTime: a.seriesTime, AcquisitionTime: a.seriesTime, ContentTime: a.seriesTime,
    AccessionNumber: '', Modality: 'PT', Manufacturer: 'Synthetic PET', ReferringPhysicianName: '',
    StudyDescription: 'Synthetic whole-body FDG PET', SeriesDescription: 'PET WB from a coronal MIP',
    PatientName: `Synthetic^${ids.patientId}`, PatientID: ids.patientId, PatientBirthDate: '', PatientSex: 'O',
    PatientWeight: String(a.patientWeightKg), SliceThickness: String(spacing),
    StudyInstanceUID: ids.study, SeriesInstanceUID: ids.series, StudyID: '1', SeriesNumber: '1',
    FrameOfReferenceUID: ids.frameOfReference, PositionReferenceIndicator: '', Laterality: '',
    // Head-first supine, coded (NM/PET Patient Orientation; PatientPosition must then be absent).
    PatientOrientationCodeSequence: [{ ...sct('102538003', 'recumbent'),
      PatientOrientationModifierCodeSequence: [sct('40199007', 'supine')] }],
    PatientGantryRelationshipCodeSequence: [sct('102540008', 'headfirst')],
    ImageOrientationPatient: ['1', '0', '0', '0', '1', '0'], PixelSpacing: [String(spacing), String(spacing)],
    SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2', Rows: apRows, Columns: width,
    BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 1, RescaleIntercept: '0',
    RescaleType: 'BQML', Units: 'BQML', CountsSource: 'EMISSION', SeriesType: ['WHOLE BODY', 'IMAGE'],
    CorrectedImage: ['DECY', 'ATTN', 'SCAT', 'NORM'], DecayCorrection: 'START', DecayFactor: '1',
    RandomsCorrectionMethod: 'DLYD', AttenuationCorrectionMethod: 'CT', ReconstructionMethod: 'OSEM',
    CollimatorType: 'NONE', NumberOfSlices: slices, FrameReferenceTime: '0', ActualFrameDuration: '120000',
    RadiopharmaceuticalInformationSequence: [{
      Radiopharmaceutical: 'Fluorodeoxyglucose', RadiopharmaceuticalStartTime: a.injectionTime,
      RadionuclideTotalDose: String(a.injectedDoseBq), RadionuclideHalfLife: String(a.halfLifeS),
      RadionuclidePositronFraction: '0.9673',
      RadionuclideCodeSequence: [sct('77004003', '^18^Fluorine')],
    }],
  };
}

/** Pixel Data (7FE0,0010) as Explicit VR Little Endian encodes it: tag, OW, two reserved bytes, 32-bit length. */
function pixelDataElement(pixels: DataView): Buffer[] {
  const header = Buffer.alloc(12);
  header.writeUInt16LE(0x7fe0, 0);
  header.writeUInt16LE(0x0010, 2);
  header.write('OW', 4, 'latin1');
  header.writeUInt32LE(pixels.byteLength, 8);
  return [header, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength)];
}

/**
 * One slice as a PS3.10 file. dcmjs writes everything but Pixel Data, which is appended as the last element
 * (it has the highest tag): dcmjs copies large values several times over, and a test generates ~10,000 slices.
 */
function writeSlice(common: Record<string, unknown>, index: number, position: readonly number[], pixels: DataView, slope: string): Buffer {
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const sop = newUid();
  const file = new DicomDict(DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: [new Uint8Array([0, 1]).buffer], MediaStorageSOPClassUID: PET_IMAGE_STORAGE,
    MediaStorageSOPInstanceUID: sop, TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN, ImplementationClassUID: '2.25.799',
    _vrMap: { FileMetaInformationVersion: 'OB' },
  }));
  file.dict = DicomMetaDictionary.denaturalizeDataset({
    ...common, SOPInstanceUID: sop, InstanceNumber: String(index + 1), ImageIndex: index + 1,
    ImagePositionPatient: position.map(String), SliceLocation: String(position[2]), RescaleSlope: slope,
  });
  return Buffer.concat([Buffer.from(file.write()), ...pixelDataElement(pixels)]);
}

/**
 * Writes the axial PET series whose coronal SUV MIP is `image` (network input x in [0, 1], width × height):
 * SUV = x · suvWhite (saturated pixels above suvWhite). Image centre at patient x = 0; top row at z = 0.
 */
export function syntheticPetSeries(image: ModelInput, options: SyntheticPetOptions): SyntheticPetSeries {
  const { width, height } = image;
  const { pixelSpacingMm: s, apRows } = options;
  if (apRows < 16) throw new Error(`apRows ${apRows}: at least 16`);
  const suv = inputToSuv(image.data, options.suvWhite);
  const ids: SeriesIds = { study: options.studyInstanceUid ?? newUid(), series: newUid(), frameOfReference: newUid(),
    patientId: options.patientId ?? 'SYNTHETIC' };
  const common = seriesAttributes(ids, height, apRows, width, s);
  const x0 = (-(width - 1) * s) / 2;
  const y0 = (-(apRows - 1) * s) / 2;
  const factor = bqmlPerSuv();
  const shape = bodyShape(width, apRows);
  const instances = Array.from({ length: height }, (_, r) => {
    const { pixels, slope } = axialSlice(Array.from(suv.subarray(r * width, (r + 1) * width)), r, shape, factor);
    return writeSlice(common, r, [x0, y0, -r * s], pixels, slope);
  });
  return { studyInstanceUid: ids.study, seriesInstanceUid: ids.series, instances, width, height, suv,
    topLeftPatient: [x0, 0], pixelDataBytes: width * apRows * height * 2 };
}
