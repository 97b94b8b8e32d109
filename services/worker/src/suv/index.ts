export { computeSuvScaleFactors } from './suv-scale-factors';
export { readSuvInstanceMetadata, readSuvMetadataFromDataSet } from './suv-instance-metadata';
export type { SuvInstanceMetadata } from './suv-instance-metadata';
export { convertVolumeToSuv, SUV_BODY_WEIGHT_UNITS } from './convert-volume-to-suv';
export type { SuvConversion } from './convert-volume-to-suv';
