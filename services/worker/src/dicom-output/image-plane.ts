import { formatDs } from './dicom-values';
import type { NaturalDataset } from './part10';
import type { ImageGeometry } from './rendered-mip';

export interface ImagePlaneAttributes {
  readonly PixelSpacing: string[];
  readonly ImageOrientationPatient: string[];
  readonly ImagePositionPatient: string[];
  /** '' when the geometry has no slab depth. */
  readonly SliceThickness: string;
}

/** Image Plane attributes of a geometry, each DS value at most 16 characters. */
export function imagePlaneAttributes(g: ImageGeometry): ImagePlaneAttributes {
  return {
    PixelSpacing: g.pixelSpacingMm.map(formatDs),
    SliceThickness: g.sliceThicknessMm === undefined ? '' : formatDs(g.sliceThicknessMm),
    ImageOrientationPatient: g.imageOrientationPatient.map(formatDs),
    ImagePositionPatient: g.imagePositionPatient.map(formatDs),
  };
}

/** Letters of PS3.3 C.7.6.1.1.1 for the patient axes +x, +y, +z and their opposites. */
const AXIS_LETTERS = [['L', 'R'], ['P', 'A'], ['H', 'F']] as const;

/** The patient direction of one direction cosine vector, main axis first ('L', 'F', 'LF' for an oblique one). */
function patientDirection(cosines: readonly number[]): string {
  return cosines
    .map((c, axis) => ({ c, axis }))
    .filter(({ c }) => Math.abs(c) > 1e-3)
    .sort((a, b) => Math.abs(b.c) - Math.abs(a.c))
    .map(({ c, axis }) => AXIS_LETTERS[axis]?.[c > 0 ? 0 : 1] ?? '')
    .join('');
}

/**
 * PatientOrientation (0020,0020) of the geometry: the directions of the rows and of the columns. Not required
 * beside ImageOrientationPatient, but viewers that draw orientation markers from it alone (and readers) see
 * the coronal MIP as it is, e.g. L\F: the patient's left to the image's right, feet to the bottom.
 */
export function patientOrientation(g: ImageGeometry): string[] {
  const [rx = 0, ry = 0, rz = 0, cx = 0, cy = 0, cz = 0] = g.imageOrientationPatient;
  return [patientDirection([rx, ry, rz]), patientDirection([cx, cy, cz])];
}

/** Image Pixel module of a single-sample greyscale image. */
export function greyscalePixelModule(g: ImageGeometry, bitsAllocated: 1 | 16, pixelRepresentation: 0 | 1): NaturalDataset {
  return {
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: g.height,
    Columns: g.width,
    BitsAllocated: bitsAllocated,
    BitsStored: bitsAllocated,
    HighBit: bitsAllocated - 1,
    PixelRepresentation: pixelRepresentation,
  };
}

/** Pixel Data as dcmjs writes it: one buffer, padded to an even length (PS3.5 7.1.1). */
export function pixelDataValue(bytes: Uint8Array): ArrayBuffer[] {
  const even = new Uint8Array(bytes.length + (bytes.length % 2));
  even.set(bytes);
  return [even.buffer];
}
