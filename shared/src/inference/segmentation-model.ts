import type { InferenceSession } from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { MipsegError } from '../errors';
import { cropPadded, padToMultiple } from './image-padding';
import { removeSmallComponents, sigmoid, thresholdLogits } from './mask-postprocess';
import type { ModelManifest } from './model-manifest';

/** Larger images are refused rather than risking an out-of-memory session run (MIPs are about 400 x 1000). */
export const MAX_IMAGE_SIDE = 4096;

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
  /** Raw logits at the input's own size (padding removed): the figure the parity test compares. */
  predictLogits(input: Float32Array, width: number, height: number): Promise<Float32Array>;
  /** Tumour mask of a network input image (x in [0, 1], see pngToModelInput). */
  segment(input: Float32Array, width: number, height: number, options?: SegmentOptions): Promise<Segmentation>;
  /** Frees the native session; the model is unusable afterwards. */
  release(): Promise<void>;
}

function checkInput(input: Float32Array, width: number, height: number): void {
  const sizeOk = [width, height].every((n) => Number.isInteger(n) && n >= 1 && n <= MAX_IMAGE_SIDE);
  if (!sizeOk) throw new MipsegError('MIPSEG_IMAGE_INVALID', `size ${width} x ${height} (1 to ${MAX_IMAGE_SIDE} px a side)`);
  if (input.length !== width * height) {
    throw new MipsegError('MIPSEG_IMAGE_INVALID', `${input.length} values for ${width} x ${height} pixels`);
  }
  for (let i = 0; i < input.length; i++) {
    const v = input[i] as number;
    // Written so that NaN fails too: the network was only ever trained on [0, 1].
    if (!(v >= 0 && v <= 1)) throw new MipsegError('MIPSEG_IMAGE_INVALID', `value ${v} at pixel ${i} is outside [0, 1]`);
  }
}

/** Wraps a session created for `manifest`; see loadModel, which checks the manifest and the file first. */
export function createSegmentationModel(session: InferenceSession, manifest: ModelManifest): SegmentationModel {
  const { tensorName: inputName, paddingMultiple, padValue } = manifest.input;
  const { tensorName: outputName, threshold, minComponentAreaPx } = manifest.output;

  async function predictLogits(input: Float32Array, width: number, height: number): Promise<Float32Array> {
    checkInput(input, width, height);
    const padded = padToMultiple(input, width, height, paddingMultiple, padValue);
    const feeds = { [inputName]: new Tensor('float32', padded.data, [1, 1, padded.height, padded.width]) };
    const result = await session.run(feeds);
    const logits = result[outputName];
    const dims = logits?.dims.join(',');
    if (!logits || !(logits.data instanceof Float32Array) || dims !== `1,1,${padded.height},${padded.width}`) {
      throw new MipsegError('MIPSEG_MODEL_INVALID', `output ${outputName} is ${logits?.type} [${dims}], not float32 [1,1,${padded.height},${padded.width}]`);
    }
    return cropPadded(logits.data, padded.width, width, height);
  }

  async function segment(input: Float32Array, width: number, height: number, options: SegmentOptions = {}): Promise<Segmentation> {
    const logits = await predictLogits(input, width, height);
    const mask = removeSmallComponents(thresholdLogits(logits, threshold), width, height, minComponentAreaPx);
    return options.probability ? { mask, probability: sigmoid(logits) } : { mask };
  }

  return Object.freeze({ manifest, predictLogits, segment, release: () => session.release() });
}
