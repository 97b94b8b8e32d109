import type { InferenceSession } from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { MipsegError } from '../errors';
import { cropPadded, padToMultiple } from './image-padding';
import { assertInputNormalisation, normaliseInput } from './input-normalisation';
import { componentFilterOf, filterComponents, sigmoid, thresholdLogits } from './mask-postprocess';
import { MAX_IMAGE_SIDE } from './image-limits';
import type { ModelManifest } from './model-manifest';

export interface SegmentOptions {
  /** Also return the per-pixel tumour probability (costs a sigmoid per pixel). */
  readonly probability?: boolean;
}

export interface Segmentation {
  /** 0/1 per pixel, row-major, width x height. */
  readonly mask: Uint8Array;
  readonly probability?: Float32Array;
}

/** A loaded model: one ONNX Runtime session plus the manifest's input and output contract. */
export interface SegmentationModel {
  readonly manifest: ModelManifest;
  /**
   * What the network is given for an image (x in [0, 1], as pngToModelInput reads it or a MIP renders it; above
   * 1 too when the manifest normalises): the image normalised as the manifest's input.intensity.normalisation
   * says (then clamped to [0, 1]), or the image itself.
   */
  networkInput(image: Float32Array, width: number, height: number): Float32Array;
  /** Raw logits of a network input at its own size (padding removed): the figure the parity test compares. */
  predictLogits(input: Float32Array, width: number, height: number): Promise<Float32Array>;
  /** The logits segment() thresholds, of a network input: predictLogits, averaged with the mirrored look when the manifest asks. */
  outputLogits(input: Float32Array, width: number, height: number): Promise<Float32Array>;
  /** Tumour mask of an image (x in [0, 1], see pngToModelInput): networkInput, outputLogits, the output filter. */
  segment(image: Float32Array, width: number, height: number, options?: SegmentOptions): Promise<Segmentation>;
  /** Frees the native session; the model is unusable afterwards. */
  release(): Promise<void>;
}

/**
 * Refuses a size that does not match and values outside [0, maximum] (NaN included): the network was only
 * ever trained on [0, 1], and an image to be normalised is clamped to that after scaling.
 */
function checkInput(input: Float32Array, width: number, height: number, maximum = 1): void {
  const sizeOk = [width, height].every((n) => Number.isInteger(n) && n >= 1 && n <= MAX_IMAGE_SIDE);
  if (!sizeOk) throw new MipsegError('MIPSEG_IMAGE_INVALID', `size ${width} x ${height} (1 to ${MAX_IMAGE_SIDE} px a side)`);
  if (input.length !== width * height) {
    throw new MipsegError('MIPSEG_IMAGE_INVALID', `${input.length} values for ${width} x ${height} pixels`);
  }
  for (let i = 0; i < input.length; i++) {
    const v = input[i] as number;
    if (!(v >= 0 && v <= maximum)) throw new MipsegError('MIPSEG_IMAGE_INVALID', `value ${v} at pixel ${i} is outside [0, ${maximum}]`);
  }
}

/** Left-right mirror of a row-major width x height image (its own inverse). */
export function mirrorColumns(image: Float32Array, width: number, height: number): Float32Array {
  const out = new Float32Array(image.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + x] = image[row + width - 1 - x] as number;
  }
  return out;
}

/** Wraps a session created for `manifest`; see loadModel, which checks the manifest and the file first. */
export function createSegmentationModel(session: InferenceSession, manifest: ModelManifest): SegmentationModel {
  const { tensorName: inputName, paddingMultiple, padValue } = manifest.input;
  const { tensorName: outputName, threshold, flipTta } = manifest.output;
  const componentFilter = componentFilterOf(manifest.output);
  const normalisation = manifest.input.intensity.normalisation;
  if (normalisation) assertInputNormalisation(normalisation);

  function networkInput(image: Float32Array, width: number, height: number): Float32Array {
    // A normalising model takes an unclamped image (CoronalMipOptions.clampInput); infinity is still refused.
    checkInput(image, width, height, normalisation ? Number.MAX_VALUE : 1);
    return normalisation ? normaliseInput(image, normalisation) : image;
  }

  /** One session run over a batch of same-size images; returns each image's logits at its own size. */
  async function run(images: readonly Float32Array[], width: number, height: number): Promise<Float32Array[]> {
    const padded = images.map((image) => padToMultiple(image, width, height, paddingMultiple, padValue));
    const { width: pw, height: ph } = padded[0] as { width: number; height: number };
    const batch = new Float32Array(pw * ph * images.length);
    padded.forEach((p, i) => batch.set(p.data, i * pw * ph));
    const feeds = { [inputName]: new Tensor('float32', batch, [images.length, 1, ph, pw]) };
    const result = await session.run(feeds);
    const logits = result[outputName];
    const dims = logits?.dims.join(',');
    if (!logits || !(logits.data instanceof Float32Array) || dims !== `${images.length},1,${ph},${pw}`) {
      throw new MipsegError('MIPSEG_MODEL_INVALID', `output ${outputName} is ${logits?.type} [${dims}], not float32 [${images.length},1,${ph},${pw}]`);
    }
    const data = logits.data;
    return images.map((_, i) => cropPadded(data.subarray(i * pw * ph, (i + 1) * pw * ph), pw, width, height));
  }

  async function predictLogits(input: Float32Array, width: number, height: number): Promise<Float32Array> {
    checkInput(input, width, height);
    return (await run([input], width, height))[0] as Float32Array;
  }

  async function outputLogits(input: Float32Array, width: number, height: number): Promise<Float32Array> {
    checkInput(input, width, height);
    return checkedOutputLogits(input, width, height);
  }

  /** outputLogits of an input already checked (networkInput checks it, or makes it in [0, 1]). */
  async function checkedOutputLogits(input: Float32Array, width: number, height: number): Promise<Float32Array> {
    if (!flipTta) return (await run([input], width, height))[0] as Float32Array;
    // Mirrored before padding, as in training/postprocess.py: both looks see the zero border at bottom/right.
    const [direct, mirrored] = (await run([input, mirrorColumns(input, width, height)], width, height)) as [Float32Array, Float32Array];
    const back = mirrorColumns(mirrored, width, height);
    const mean = new Float32Array(direct.length);
    for (let i = 0; i < mean.length; i++) mean[i] = ((direct[i] as number) + (back[i] as number)) / 2;
    return mean;
  }

  async function segment(image: Float32Array, width: number, height: number, options: SegmentOptions = {}): Promise<Segmentation> {
    // networkInput has checked the image: a second pass over its pixels would find nothing new.
    const logits = await checkedOutputLogits(networkInput(image, width, height), width, height);
    const mask = filterComponents(thresholdLogits(logits, threshold), logits, width, height, componentFilter);
    return options.probability ? { mask, probability: sigmoid(logits) } : { mask };
  }

  return Object.freeze({ manifest, networkInput, predictLogits, outputLogits, segment, release: () => session.release() });
}
