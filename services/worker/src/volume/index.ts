export { assemblePetVolume, decodePetVolume } from './assemble-pet-volume';
export type { VolumeScaling } from './assemble-pet-volume';
export { parsePetSeries, MAX_VOLUME_VOXELS } from './pet-series';
export type { PetSeries, PetSlice, InstanceReader } from './pet-series';
export type { PetVolume, PetVolumeGrid, PetInstanceRef, PetSourceAttributes, Vec3 } from './pet-volume';
export { stackSlices, MAX_SPACING_DEVIATION } from './slice-stack';
export type { SliceStack } from './slice-stack';
export { readSliceHeader } from './slice-header';
export type { SliceHeader } from './slice-header';
export { decodeSliceInto, pixelDataSource, DECODABLE_TRANSFER_SYNTAXES } from './decode-slice';
export type { PixelDataSource } from './decode-slice';
export {
  parseInstance,
  parseInstanceHeaderOnly,
  readString,
  readStrings,
  readNumber,
  readNumbers,
  readUint16,
  readFirstItem,
  findPrivateTag,
  readValueText,
  readDecodedString,
} from './dicom-dataset';
export type { DataSet } from './dicom-dataset';
