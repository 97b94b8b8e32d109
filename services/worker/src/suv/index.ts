export { computeSuvScaleFactors } from './suv-scale-factors';
export { readSuvInstanceMetadata, readSuvMetadataFromDataSet } from './suv-instance-metadata';
export type { SuvInstanceMetadata } from './suv-instance-metadata';
export { assembleSuvVolume, seriesSuvScaleFactors, SUV_BODY_WEIGHT_UNITS } from './suv-volume';
export type { SuvVolume } from './suv-volume';
