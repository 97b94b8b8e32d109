/**
 * Larger images are refused rather than risking an out-of-memory session run (MIPs are about 400 x 1000). Kept
 * apart from the model so that the PNG reader can check a declared size without loading ONNX Runtime.
 */
export const MAX_IMAGE_SIDE = 4096;
