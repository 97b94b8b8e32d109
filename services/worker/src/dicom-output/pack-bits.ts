// Moved to shared/dicom so that the gateway (worklist overlay) reads SEGs without depending on the worker.
export { packBits, unpackBits } from '@mipseg/shared/dicom';
