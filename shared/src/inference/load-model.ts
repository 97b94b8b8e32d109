import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { MipsegError } from '../errors';
import { readModelManifest, type ModelManifest } from './model-manifest';
import { createSegmentationModel, type SegmentationModel } from './segmentation-model';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface LoadModelOptions {
  /** ONNX Runtime intra-op threads (one session serves every request; scale with processes, not threads). */
  readonly threads: number;
  /** 'cuda' needs an onnxruntime-node install with its CUDA libraries (install with ONNXRUNTIME_NODE_INSTALL=cuda12). */
  readonly executionProvider: ExecutionProvider;
}

/** Reads the ONNX file and refuses it unless its SHA-256 is the manifest's. */
async function readVerifiedOnnx(modelDir: string, manifest: ModelManifest): Promise<Uint8Array> {
  const path = join(modelDir, manifest.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new MipsegError('MIPSEG_MODEL_INVALID', `cannot read ${path}`, { cause: err });
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== manifest.sha256) {
    throw new MipsegError('MIPSEG_MODEL_INVALID', `${path} has SHA-256 ${actual}, the manifest says ${manifest.sha256}`);
  }
  return bytes;
}

function checkOptions(options: LoadModelOptions): void {
  if (!Number.isInteger(options.threads) || options.threads < 1 || options.threads > 256) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `inference threads ${options.threads} (an integer from 1 to 256)`);
  }
  if (options.executionProvider !== 'cpu' && options.executionProvider !== 'cuda') {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `execution provider ${String(options.executionProvider)} (cpu or cuda)`);
  }
}

async function createSession(onnx: Uint8Array, options: LoadModelOptions): Promise<InferenceSession> {
  try {
    return await InferenceSession.create(onnx, {
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1, // the graph is one chain: parallelism comes from inside each convolution
      graphOptimizationLevel: 'all',
      executionProviders: [options.executionProvider],
    });
  } catch (err) {
    const detail = `cannot create an ONNX Runtime session on ${options.executionProvider}: ${(err as Error).message}`;
    throw new MipsegError(options.executionProvider === 'cuda' ? 'MIPSEG_CONFIG_INVALID' : 'MIPSEG_MODEL_INVALID', detail, { cause: err });
  }
}

function checkSessionContract(session: InferenceSession, manifest: ModelManifest): void {
  const { tensorName: input } = manifest.input;
  const { tensorName: output } = manifest.output;
  if (!session.inputNames.includes(input) || !session.outputNames.includes(output)) {
    const found = `inputs [${session.inputNames.join(', ')}], outputs [${session.outputNames.join(', ')}]`;
    throw new MipsegError('MIPSEG_MODEL_INVALID', `the ONNX graph has ${found}; the manifest names ${input} -> ${output}`);
  }
}

/**
 * Loads a model folder (model.json, model.schema.json, the ONNX file): validates the manifest, verifies
 * the ONNX file's SHA-256 and creates one InferenceSession. Errors are MIPSEG_MODEL_INVALID (the folder)
 * or MIPSEG_CONFIG_INVALID (the options, or CUDA unavailable).
 */
export async function loadModel(modelDir: string, options: LoadModelOptions): Promise<SegmentationModel> {
  checkOptions(options);
  const manifest = await readModelManifest(modelDir);
  const session = await createSession(await readVerifiedOnnx(modelDir, manifest), options);
  try {
    checkSessionContract(session, manifest);
    // Also refuses what the schema cannot state (the input normalisation's two levels), after the session exists.
    return createSegmentationModel(session, manifest);
  } catch (err) {
    await session.release();
    throw err;
  }
}
