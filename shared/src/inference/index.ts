export { loadModel } from './load-model';
export type { ExecutionProvider, LoadModelOptions } from './load-model';
export { createSegmentationModel, mirrorColumns } from './segmentation-model';
export { MAX_IMAGE_SIDE } from './image-limits';
export type { Segmentation, SegmentationModel, SegmentOptions } from './segmentation-model';
export {
  readModelManifest,
  validateModelManifest,
  MODEL_MANIFEST_FILE,
  MODEL_MANIFEST_SCHEMA_FILE,
  MODEL_MANIFEST_SCHEMA_ID,
} from './model-manifest';
export type { ModelManifest } from './model-manifest';
export { pngToModelInput, maskToPng, checkPngHeader, refuseInterlacedPng } from './mip-png';
export { normaliseInput, bodyMedian } from './input-normalisation';
export type { InputNormalisation } from './input-normalisation';
export type { ModelInput } from './mip-png';
export { thresholdLogits, filterComponents, componentFilterOf, logit, sigmoid, componentAreas, forEachComponent } from './mask-postprocess';
export type { ComponentFilter, ComponentRule } from './mask-postprocess';
export { padToMultiple, cropPadded, roundUpToMultiple } from './image-padding';
export type { PaddedImage } from './image-padding';
export { segmentMipFile } from './segment-mip';
export type { SegmentMipOptions, SegmentMipResult } from './segment-mip';
