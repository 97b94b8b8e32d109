import { MipsegError } from '../errors';

/** model.json input.intensity.normalisation: where a study's median body pixel is put before the network. */
export interface InputNormalisation {
  /** The network input the median body pixel is scaled to. */
  readonly bodyMedian: number;
  /** Pixels above this input value are body (air is 0). */
  readonly bodyLevel: number;
}

/** The one rule between the two numbers that the manifest's schema cannot state. */
export function assertInputNormalisation(normalisation: InputNormalisation): void {
  const { bodyMedian: target, bodyLevel } = normalisation;
  if (!(bodyLevel > 0 && bodyLevel < target && target < 1)) {
    throw new MipsegError('MIPSEG_MODEL_INVALID', `input normalisation ${JSON.stringify(normalisation)}: needs 0 < bodyLevel < bodyMedian < 1`);
  }
}

/**
 * The k-th smallest of values[lo..hi] (inclusive), by in-place selection (Hoare partition around a
 * median of three): O(n) on average, where sorting the ~200,000 body pixels of a MIP would cost more than
 * the network's own pre-processing.
 */
function selectInPlace(values: Float32Array, k: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const a = values[lo] as number, b = values[(lo + hi) >>> 1] as number, c = values[hi] as number;
    const pivot = Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((values[i] as number) < pivot) i++;
      while ((values[j] as number) > pivot) j--;
      if (i <= j) {
        const t = values[i] as number;
        values[i] = values[j] as number;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k] as number;
  }
  return values[k] as number;
}

/**
 * numpy's median of the pixels above `level` (the mean of the two middle values for an even count), in
 * float32 as numpy computes it for a float32 array; undefined when no pixel is above `level`.
 */
export function bodyMedian(image: Float32Array, level: number): number | undefined {
  let count = 0;
  for (let i = 0; i < image.length; i++) if ((image[i] as number) > level) count++;
  if (count === 0) return undefined;
  const body = new Float32Array(count);
  for (let i = 0, n = 0; i < image.length; i++) if ((image[i] as number) > level) body[n++] = image[i] as number;
  const upper = selectInPlace(body, count >>> 1);
  if (count % 2 === 1) return upper;
  // After the selection every value left of the middle is <= it: the lower middle is the largest of them.
  let lower = -Infinity;
  for (let i = 0; i < count >>> 1; i++) lower = Math.max(lower, body[i] as number);
  return Math.fround((lower + upper) / 2);
}

/**
 * The image scaled so that its median body pixel lands on `bodyMedian`, clipped to [0, 1]: training/data.py
 * InputNormalisation.apply, to the bit (float32 factor, float32 products). It takes away a global intensity
 * scale — such as an error in the SUV mapping the MIP was rendered with — before the network sees the image.
 * An image with no body pixel is returned as it is. The input is not changed; it may hold values above 1 (a
 * MIP rendered without clamping, so that a study brighter than the mapping assumed keeps its contrast).
 */
export function normaliseInput(image: Float32Array, normalisation: InputNormalisation): Float32Array {
  assertInputNormalisation(normalisation);
  const { bodyMedian: target, bodyLevel } = normalisation;
  const median = bodyMedian(image, bodyLevel);
  if (median === undefined) return image;
  const factor = Math.fround(target / median);
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = Math.min(1, Math.max(0, Math.fround((image[i] as number) * factor)));
  return out;
}
