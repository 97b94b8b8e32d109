// Moved to shared/dicom so that the gateway (worklist overlay) reads SEGs without depending on the worker.
export { readSegMask } from '@mipseg/shared/dicom';
export type { SegMask } from '@mipseg/shared/dicom';
