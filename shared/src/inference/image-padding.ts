/** Bottom/right padding to the network's size multiple, and the crop back, for row-major H x W images. */

export interface PaddedImage {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

export function roundUpToMultiple(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

/** Pads at the bottom and right only, so image pixel (x, y) keeps its coordinates (as in training). */
export function padToMultiple(input: Float32Array, width: number, height: number, multiple: number, padValue: number): PaddedImage {
  const pw = roundUpToMultiple(width, multiple);
  const ph = roundUpToMultiple(height, multiple);
  if (pw === width && ph === height) return { data: input, width, height };
  const data = new Float32Array(pw * ph);
  if (padValue !== 0) data.fill(padValue);
  for (let y = 0; y < height; y++) data.set(input.subarray(y * width, (y + 1) * width), y * pw);
  return { data, width: pw, height: ph };
}

/** The top-left width x height window of a padded image. */
export function cropPadded(padded: Float32Array, paddedWidth: number, width: number, height: number): Float32Array {
  if (paddedWidth === width && padded.length === width * height) return padded;
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) out.set(padded.subarray(y * paddedWidth, y * paddedWidth + width), y * width);
  return out;
}
