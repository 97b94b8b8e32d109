import { readFile, writeFile } from 'node:fs/promises';
import { MipsegError } from '../errors';
import { loadModel, type LoadModelOptions } from './load-model';
import { maskToPng, pngToModelInput } from './mip-png';
import type { SegmentationModel } from './segmentation-model';

/** Either an already loaded model (a service segmenting many files) or a folder to load it from once. */
export type SegmentMipOptions = { readonly model: SegmentationModel } | ({ readonly modelDir: string } & LoadModelOptions);

export interface SegmentMipResult {
  readonly width: number;
  readonly height: number;
  readonly tumourPixels: number;
  readonly modelVersion: string;
}

/** The input's bytes; a missing file is MIPSEG_NOT_FOUND, any other failure (a folder, no permission) says its own reason. */
async function readInputFile(inPath: string): Promise<Buffer> {
  try {
    return await readFile(inPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MipsegError('MIPSEG_NOT_FOUND', inPath, { cause: err });
    throw err;
  }
}

/**
 * `mipseg segment-mip <in.png> <out.png>`: segments a DM i AI style MIP PNG (inverted grey, RGBA or grey)
 * and writes the tumour mask as a grey PNG of the same size with 0 and 255 pixels.
 */
export async function segmentMipFile(inPath: string, outPath: string, options: SegmentMipOptions): Promise<SegmentMipResult> {
  const image = pngToModelInput(await readInputFile(inPath));
  const model = 'model' in options ? options.model : await loadModel(options.modelDir, options);
  try {
    const { mask } = await model.segment(image.data, image.width, image.height);
    await writeFile(outPath, maskToPng(mask, image.width, image.height));
    const tumourPixels = mask.reduce((sum, v) => sum + v, 0);
    return { width: image.width, height: image.height, tumourPixels, modelVersion: model.manifest.version };
  } finally {
    // A model passed in belongs to the caller; one loaded here is ours to free.
    if (!('model' in options)) await model.release();
  }
}
