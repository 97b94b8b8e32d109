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
