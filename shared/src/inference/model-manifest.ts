import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import { MipsegError } from '../errors';
import type { InputNormalisation } from './input-normalisation';

/** The manifest generation this loader understands; a model folder with another schema is refused. */
export const MODEL_MANIFEST_SCHEMA_ID = 'urn:mipseg:model-manifest:1';
export const MODEL_MANIFEST_FILE = 'model.json';
export const MODEL_MANIFEST_SCHEMA_FILE = 'model.schema.json';

/**
 * model.json as model.schema.json describes it (the schema is the source of truth; see its descriptions).
 * Only the fields the runtime reads are typed in detail.
 */
export interface ModelManifest {
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly sha256: string;
  readonly referenceWeights: { readonly file: string; readonly sha256: string; readonly format: string };
  readonly export: { readonly opset: number; readonly exporter: string; readonly batchNormFolded: boolean };
  readonly architecture: {
    readonly name: string;
    readonly channels: readonly number[];
    /** Width of the full-resolution refinement branch; absent or 0: none (the decoder's logits, resized). */
    readonly refineChannels?: number;
    /** Decoder features the refinement branch keeps before its full-resolution work; absent or 0: all of them. */
    readonly refineFeatures?: number;
    readonly parameters: number;
    /** Conv/ConvTranspose multiply-accumulates per padded input pixel (exactly linear in image size). */
    readonly convMacsPerPaddedPixel: number;
  };
  readonly input: {
    readonly tensorName: string;
    readonly channels: 1;
    readonly pixelSpacingMm: number;
    readonly paddingMultiple: number;
    readonly padValue: number;
    readonly intensity: {
      readonly fromSuv: { readonly formula: string; readonly suvWhite: number | null; readonly basis: string };
      /**
       * Applied to every image before the network (segment()): scaled so that its median body pixel lands on
       * bodyMedian (input-normalisation.ts); absent: the image as rendered.
       */
      readonly normalisation?: InputNormalisation & { readonly basis: string };
    };
  };
  readonly output: {
    readonly tensorName: string;
    readonly activation: 'sigmoid';
    readonly threshold: number;
    readonly minComponentAreaPx: number;
    /** Keep a component only if its most confident pixel reaches this; absent: the threshold (no hysteresis). */
    readonly seedThreshold?: number;
    /** Average the logits with those of the left-right mirrored image (test-time flip); absent: false. */
    readonly flipTta?: boolean;
    /**
     * Once one component passes minComponentAreaPx and seedThreshold, the image's other components need only
     * these; absent fields (or the whole object): the strict values.
     */
    readonly confirmedImage?: { readonly seedThreshold?: number; readonly minComponentAreaPx?: number };
    readonly connectivity: 8;
  };
  readonly training: Readonly<Record<string, unknown>>;
  readonly metrics: Readonly<Record<string, unknown>>;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new MipsegError('MIPSEG_MODEL_INVALID', `cannot read ${path}`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new MipsegError('MIPSEG_MODEL_INVALID', `${path} is not JSON`, { cause: err });
  }
}

/** Checks a parsed manifest against a parsed schema; throws MIPSEG_MODEL_INVALID naming every violation. */
export function validateModelManifest(manifest: unknown, schema: unknown, source = MODEL_MANIFEST_FILE): ModelManifest {
  const id = typeof schema === 'object' && schema !== null ? (schema as { $id?: unknown }).$id : undefined;
  if (id !== MODEL_MANIFEST_SCHEMA_ID) {
    throw new MipsegError('MIPSEG_MODEL_INVALID', `schema ${String(id)} is not ${MODEL_MANIFEST_SCHEMA_ID}`);
  }
  // allowUnionTypes: suvWhite is number | null until it has been estimated.
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  let validate: ValidateFunction<ModelManifest>;
  try {
    validate = ajv.compile<ModelManifest>(schema as object);
  } catch (err) {
    throw new MipsegError('MIPSEG_MODEL_INVALID', `unusable schema: ${(err as Error).message}`, { cause: err });
  }
  if (!validate(manifest)) {
    throw new MipsegError('MIPSEG_MODEL_INVALID', ajv.errorsText(validate.errors, { dataVar: source }));
  }
  return deepFreeze(manifest);
}

/** Reads `model.json` of a model folder and validates it against the folder's `model.schema.json`. */
export async function readModelManifest(modelDir: string): Promise<ModelManifest> {
  const path = join(modelDir, MODEL_MANIFEST_FILE);
  const [manifest, schema] = await Promise.all([readJson(path), readJson(join(modelDir, MODEL_MANIFEST_SCHEMA_FILE))]);
  return validateModelManifest(manifest, schema, path);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
