/** A direction or position in the patient coordinate system (LPS, millimetres). */
export type Vec3 = readonly [number, number, number];

/** One source slice, as a result's references name it (PS3.3 C.7.6.16 Source Image Sequence). */
export interface PetInstanceRef {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
}

/**
 * Patient, General Study and General Series values a derived series copies from its source (PS3.3 C.7.1.1,
 * C.7.2.1, C.7.3.1, C.7.4.1). Text is decoded per SpecificCharacterSet; absent values are null.
 */
export interface PetSourceAttributes {
  readonly patientName: string | null;
  readonly patientId: string | null;
  readonly issuerOfPatientId: string | null;
  readonly patientBirthDate: string | null;
  readonly patientSex: string | null;
  readonly studyInstanceUid: string;
  readonly studyDate: string | null;
  readonly studyTime: string | null;
  readonly studyId: string | null;
  readonly accessionNumber: string | null;
  readonly referringPhysicianName: string | null;
  readonly studyDescription: string | null;
  readonly seriesInstanceUid: string;
  readonly seriesNumber: number | null;
  readonly seriesDescription: string | null;
  readonly modality: string;
  readonly bodyPartExamined: string | null;
  readonly positionReferenceIndicator: string | null;
}

/**
 * Where the voxels of a PET series lie, and which instances they come from: a PetVolume without its values.
 * Voxel (column i, row j, slice k) lies at `origin + i * pixelSpacing[1] * rowDirection + j * pixelSpacing[0]
 * * columnDirection + k * sliceSpacing * sliceDirection` (PS3.3 C.7.6.2.1.1; PixelSpacing is [between rows,
 * between columns]).
 */
export interface PetVolumeGrid {
  readonly columns: number;
  readonly rows: number;
  readonly slices: number;
  /** ImageOrientationPatient's first triplet: the direction along a row (increasing column index). */
  readonly rowDirection: Vec3;
  /** ImageOrientationPatient's second triplet: the direction down a column (increasing row index). */
  readonly columnDirection: Vec3;
  /** rowDirection x columnDirection: the direction of increasing slice index. */
  readonly sliceDirection: Vec3;
  /** ImagePositionPatient of the first slice (centre of its first voxel). */
  readonly origin: Vec3;
  /** PixelSpacing (0028,0030): [row spacing, column spacing] in mm. */
  readonly pixelSpacing: readonly [number, number];
  /** Mean distance between consecutive slice centres along sliceDirection, in mm. */
  readonly sliceSpacing: number;
  readonly frameOfReferenceUid: string;
  /** The source slices in volume order (index k). */
  readonly instances: readonly PetInstanceRef[];
  readonly source: PetSourceAttributes;
}

/** A PET series as one regular grid with its values: voxel (i, j, k) is `voxels[(k * rows + j) * columns + i]`. */
export interface PetVolume extends PetVolumeGrid {
  /** Rescaled values in `valueUnits`: what the scanner stored (Units (0054,1001)), or `SUVbw` once converted. */
  readonly voxels: Float32Array;
  readonly valueUnits: string;
}
