import * as dcmjs from 'dcmjs';
import type { Vec3 } from '../../../services/worker/src/volume';

/** A small PET slice to write as a PS3.10 file (Explicit VR Little Endian, signed 16-bit pixels). */
export interface SyntheticPetSlice {
  readonly sopInstanceUid: string;
  readonly imagePositionPatient: Vec3;
  readonly imageOrientationPatient?: readonly number[];
  readonly rows?: number;
  readonly columns?: number;
  readonly pixelSpacing?: readonly [number, number];
  /** Stored values, rows x columns; zeros when left out. */
  readonly stored?: readonly number[];
  readonly rescaleSlope?: number;
  readonly numberOfFrames?: number;
  readonly seriesInstanceUid?: string;
  /** Replaces or adds attributes (keyword → naturalised value); `undefined` leaves an attribute out. */
  readonly attributes?: Readonly<Record<string, unknown>>;
}

const PET_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.128';

function petAttributes(s: SyntheticPetSlice, rows: number, columns: number): Record<string, unknown> {
  return {
    SOPClassUID: PET_IMAGE_STORAGE,
    SOPInstanceUID: s.sopInstanceUid,
    StudyInstanceUID: '2.25.700',
    SeriesInstanceUID: s.seriesInstanceUid ?? '2.25.701',
    FrameOfReferenceUID: '2.25.702',
    Modality: 'PT',
    Manufacturer: 'SYNTHETIC',
    PatientName: 'Synthetic^Pet',
    PatientID: 'SYN-1',
    PatientSex: 'F',
    PatientWeight: 70,
    StudyDate: '20240102',
    StudyTime: '090000',
    SeriesDate: '20240102',
    SeriesTime: '100000',
    AcquisitionDate: '20240102',
    AcquisitionTime: '100000',
    ImageType: ['ORIGINAL', 'PRIMARY'],
    SeriesType: ['WHOLE BODY', 'IMAGE'],
    CorrectedImage: ['ATTN', 'DECY', 'SCAT'],
    Units: 'BQML',
    DecayCorrection: 'START',
    RadiopharmaceuticalInformationSequence: [{
      Radiopharmaceutical: 'Fluorodeoxyglucose', RadiopharmaceuticalStartTime: '090000', RadionuclideTotalDose: 350e6, RadionuclideHalfLife: 6586.2,
    }],
    ImagePositionPatient: [...s.imagePositionPatient],
    ImageOrientationPatient: [...(s.imageOrientationPatient ?? [1, 0, 0, 0, 1, 0])],
    PixelSpacing: [...(s.pixelSpacing ?? [4, 4])],
    Rows: rows,
    Columns: columns,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 1,
    RescaleSlope: s.rescaleSlope ?? 1,
    RescaleIntercept: 0,
    ...(s.numberOfFrames === undefined ? {} : { NumberOfFrames: s.numberOfFrames }),
  };
}

/** Writes a single-frame PET instance with dcmjs (a writer independent of the reader under test). */
export function syntheticPetInstance(s: SyntheticPetSlice): Uint8Array {
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const rows = s.rows ?? 4;
  const columns = s.columns ?? 4;
  const pixels = new Int16Array(rows * columns * (s.numberOfFrames ?? 1));
  (s.stored ?? []).forEach((v, i) => { pixels[i] = v; });
  const dataset: Record<string, unknown> = {
    ...petAttributes(s, rows, columns),
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OW' },
    ...s.attributes,
  };
  for (const [keyword, value] of Object.entries(dataset)) if (value === undefined) delete dataset[keyword];
  const file = new DicomDict(DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: [new Uint8Array([0, 1]).buffer],
    MediaStorageSOPClassUID: PET_IMAGE_STORAGE,
    MediaStorageSOPInstanceUID: s.sopInstanceUid,
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '2.25.799',
    _vrMap: { FileMetaInformationVersion: 'OB' },
  }));
  file.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(file.write());
}
