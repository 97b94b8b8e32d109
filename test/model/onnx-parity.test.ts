/**
 * @jest-environment ./test/model/onnx-runtime-environment.js
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import {
  componentFilterOf,
  createSegmentationModel,
  filterComponents,
  loadModel,
  pngToModelInput,
  readModelManifest,
  thresholdLogits,
  type ModelManifest,
  type SegmentationModel,
} from '../../shared/src/inference';
import { sharedData } from '../support/shared-data';
import { MODEL_DIR, referenceWeights, runTrainingScript, torchAvailable } from './model-test-support';

/** Largest |logit| difference allowed between PyTorch and ONNX Runtime (float32, BatchNorm folded). */
const TOLERANCE = 1e-3;

type OutputFilter = Pick<ModelManifest['output'], 'threshold' | 'minComponentAreaPx' | 'seedThreshold' | 'confirmedImage'>;
interface FixtureCase {
  id: string; image: string; height: number; width: number; input: string; logits: string; logitsFlipTta: string;
  /** Where the case's input was cut from its PNG (before any normalisation). */
  cut?: { top: number; left: number; height: number; width: number };
  /** postprocess.py's mask of `logits` for each of Fixtures.masks. */
  masks: string[];
}
interface Fixtures {
  weightsSha256: string; masks: OutputFilter[]; cases: FixtureCase[];
  inputNormalisation: { bodyMedian: number; bodyLevel: number } | null;
}

const data = sharedData('data/mip-pet');
const weights = referenceWeights();
const ready = data.available && weights !== undefined && torchAvailable();

function readFloat32(path: string): Float32Array {
  // Copied into a fresh buffer: Float32Array needs 4-byte alignment. Fixtures are little-endian, as is every host we run.
  return new Float32Array(new Uint8Array(readFileSync(path)).buffer);
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

function differingPixels(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** The part of an image a fixture case was cut from (the whole image where it was not cut). */
function cutOut(image: { data: Float32Array; width: number; height: number }, cut: FixtureCase['cut']): { data: Float32Array; width: number; height: number } {
  if (!cut) return image;
  const data = new Float32Array(cut.width * cut.height);
  for (let y = 0; y < cut.height; y++) {
    const from = (cut.top + y) * image.width + cut.left;
    data.set(image.data.subarray(from, from + cut.width), y * cut.width);
  }
  return { data, width: cut.width, height: cut.height };
}

(ready ? describe : describe.skip)('ONNX export parity with PyTorch', () => {
  let dir: string;
  let fixtures: Fixtures;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-parity-'));
    // One run exports a fresh ONNX from the reference weights and writes their PyTorch logits, and the masks
    // postprocess.py makes of them with the shipped output filter, with that filter's strict rule alone, and with
    // a lax filter under which confirmed images keep much more (so that step 4 changes some mask).
    const { threshold, minComponentAreaPx, seedThreshold, confirmedImage } = (await readModelManifest(MODEL_DIR)).output;
    const masks: OutputFilter[] = [
      { threshold, minComponentAreaPx, seedThreshold, ...(confirmedImage ? { confirmedImage } : {}) },
      { threshold, minComponentAreaPx, seedThreshold },
      { threshold: 0.2, minComponentAreaPx: 80, seedThreshold: 0.9, confirmedImage: { seedThreshold: 0.3, minComponentAreaPx: 0 } },
    ];
    runTrainingScript('export_onnx.py', ['--weights', weights as string, '--onnx', join(dir, 'model.onnx'),
      '--fixtures', join(dir, 'fixtures'), '--data', data.path, '--count', '3', '--threads', '1',
      '--masks', JSON.stringify(masks)], 300_000);
    fixtures = JSON.parse(readFileSync(join(dir, 'fixtures', 'fixtures.json'), 'utf8')) as Fixtures;
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function expectParity(model: SegmentationModel, label: string): Promise<void> {
    // Three validation images of distinct heights, and one cut from the first to a width other than their 400.
    expect(fixtures.cases).toHaveLength(4);
    expect(fixtures.cases.filter((c) => c.width !== 400 && c.width % 32 !== 0 && c.height % 32 !== 0)).toHaveLength(1);
    for (const c of fixtures.cases) {
      const input = readFloat32(join(dir, 'fixtures', c.input));
      const diff = maxAbsDifference(await model.predictLogits(input, c.width, c.height), readFloat32(join(dir, 'fixtures', c.logits)));
      console.log(`parity ${label} ${c.id} (${c.width} x ${c.height}): max |logit difference| ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(TOLERANCE);
    }
  }

  it('the committed model.onnx reproduces the PyTorch logits of the committed model.pt', async () => {
    const manifest = await readModelManifest(MODEL_DIR);
    // The fixtures must come from the weights the manifest names, or the comparison would prove nothing.
    if (!weights?.endsWith('model.pt')) return console.warn(`SKIPPED: committed model.pt absent; compared ${weights} only`);
    expect(fixtures.weightsSha256).toBe(manifest.referenceWeights.sha256);
    const model = await loadModel(MODEL_DIR, { threads: 1, executionProvider: 'cpu' });
    try {
      await expectParity(model, 'committed');
    } finally {
      await model.release();
    }
  });

  it('a fresh export reproduces the PyTorch logits of its weights', async () => {
    const session = await InferenceSession.create(join(dir, 'model.onnx'), { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const model = createSegmentationModel(session, await readModelManifest(MODEL_DIR));
    try {
      await expectParity(model, 'fresh export');
    } finally {
      await model.release();
    }
  });

  it('the test-time flip averages the logits exactly as training/postprocess.py does', async () => {
    const session = await InferenceSession.create(join(dir, 'model.onnx'), { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const manifest = await readModelManifest(MODEL_DIR);
    const model = createSegmentationModel(session, { ...manifest, output: { ...manifest.output, flipTta: true } });
    try {
      for (const c of fixtures.cases) {
        const input = readFloat32(join(dir, 'fixtures', c.input));
        const flipped = await model.outputLogits(input, c.width, c.height);
        const diff = maxAbsDifference(flipped, readFloat32(join(dir, 'fixtures', c.logitsFlipTta)));
        console.log(`parity flip ${c.id}: max |logit difference| ${diff.toExponential(2)}`);
        expect(diff).toBeLessThan(TOLERANCE);
        // And the flip is not a no-op: the mirrored look changes the logits.
        expect(maxAbsDifference(flipped, await model.predictLogits(input, c.width, c.height))).toBeGreaterThan(TOLERANCE);
      }
    } finally {
      await model.release();
    }
  });

  it('filters the regions of the same logits exactly as training/postprocess.py does, confirmed images included', () => {
    const strictOnly = (f: OutputFilter): OutputFilter => ({ ...f, confirmedImage: undefined });
    let confirmedImageChangedAMask = false;
    for (const c of fixtures.cases) {
      const logits = readFloat32(join(dir, 'fixtures', c.logits));
      const tsMask = (f: OutputFilter) => filterComponents(thresholdLogits(logits, f.threshold), logits, c.width, c.height, componentFilterOf(f));
      fixtures.masks.forEach((filter, k) => {
        const expected = new Uint8Array(readFileSync(join(dir, 'fixtures', c.masks[k] as string)));
        const actual = tsMask(filter);
        expect(actual.length).toBe(c.width * c.height);
        expect(differingPixels(actual, expected)).toBe(0);
        if (filter.confirmedImage && differingPixels(actual, tsMask(strictOnly(filter))) > 0) confirmedImageChangedAMask = true;
      });
    }
    // Otherwise the confirmed-image rule would have gone untested.
    expect(confirmedImageChangedAMask).toBe(true);
  });

  it('reads the DM i AI PNG into exactly the input that PyTorch was given', async () => {
    // Normalised as the manifest says (or not at all), as segment() does before the network.
    const model = await loadModel(MODEL_DIR, { threads: 1, executionProvider: 'cpu' });
    try {
      const { normalisation } = model.manifest.input.intensity;
      expect(fixtures.inputNormalisation).toEqual(normalisation ? { bodyMedian: normalisation.bodyMedian, bodyLevel: normalisation.bodyLevel } : null);
      for (const c of fixtures.cases) {
        const fromPng = cutOut(pngToModelInput(readFileSync(c.image)), c.cut);
        expect([fromPng.width, fromPng.height]).toEqual([c.width, c.height]);
        const networkInput = model.networkInput(fromPng.data, fromPng.width, fromPng.height);
        expect(maxAbsDifference(networkInput, readFloat32(join(dir, 'fixtures', c.input)))).toBe(0);
      }
    } finally {
      await model.release();
    }
  });
});
