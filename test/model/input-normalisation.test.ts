import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bodyMedian, normaliseInput, pngToModelInput } from '../../shared/src/inference';
import { sharedData } from '../support/shared-data';
import { runTrainingPython, torchAvailable } from './model-test-support';

const NORMALISATION = { bodyMedian: 0.235, bodyLevel: 0.02 } as const;

/** A reproducible pseudo-random float32 image: air (0) around a body of continuous values, some above 1/factor. */
function syntheticImage(width: number, height: number, seed: number): Float32Array {
  let state = seed;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const image = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inBody = x > width * 0.2 && x < width * 0.8;
      image[y * width + x] = inBody ? 0.05 + 0.6 * next() ** 3 : 0.01 * next();
    }
  }
  return image;
}

function sortedMedian(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >>> 1;
  return s.length % 2 ? (s[mid] as number) : Math.fround(((s[mid - 1] as number) + (s[mid] as number)) / 2);
}

describe('input normalisation (model.json input.intensity.normalisation)', () => {
  it('takes the median of the body pixels only, for odd and even counts, ties and unsorted input', () => {
    const level = 0.02;
    for (const [seed, n] of [[1, 1], [2, 2], [3, 101], [4, 1000], [5, 4097]] as const) {
      const image = syntheticImage(n, 1, seed);
      const body = Array.from(image).filter((v) => v > level);
      if (body.length === 0) continue;
      expect(bodyMedian(image, level)).toBe(sortedMedian(body));
    }
    const ties = new Float32Array([0, 0.5, 0.5, 0.5, 0.2, 0.2, 0.01, 0.5]);
    expect(bodyMedian(ties, level)).toBe(0.5);
    expect(bodyMedian(new Float32Array([0, 0.3, 0.1, 0]), level)).toBe(Math.fround((Math.fround(0.1) + Math.fround(0.3)) / 2));
    expect(bodyMedian(new Float32Array([0, 0.01, 0.02]), level)).toBeUndefined();
  });

  it('puts the median body pixel on bodyMedian and clips at 1, leaving the input as it was', () => {
    const image = syntheticImage(64, 48, 7);
    const before = Float32Array.from(image);
    const out = normaliseInput(image, NORMALISATION);
    expect(image).toEqual(before);
    // The factor is a float32, so the median lands on the target to float32 precision.
    expect(bodyMedian(out, NORMALISATION.bodyLevel)).toBeCloseTo(NORMALISATION.bodyMedian, 6);
    const factor = NORMALISATION.bodyMedian / (bodyMedian(image, NORMALISATION.bodyLevel) as number);
    expect(factor).toBeGreaterThan(1.05);
    expect(out.some((v) => v === 1)).toBe(true);
    expect(out.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(out[0]).toBeCloseTo((image[0] as number) * factor, 6);
  });

  it('makes the network input independent of a global intensity scale (an error in suvWhite)', () => {
    const image = syntheticImage(64, 48, 11).map((v) => v * 0.8);
    const reference = normaliseInput(image, NORMALISATION);
    for (const scale of [0.8, 1.25]) {
      const rendered = normaliseInput(image.map((v) => Math.min(1, v * scale)), NORMALISATION);
      let max = 0;
      for (let i = 0; i < rendered.length; i++) max = Math.max(max, Math.abs((rendered[i] as number) - (reference[i] as number)));
      expect(max).toBeLessThan(1e-6);
    }
  });

  it('leaves an image without body pixels as it is and refuses an impossible setting', () => {
    const air = new Float32Array([0, 0.01, 0.02, 0]);
    expect(normaliseInput(air, NORMALISATION)).toBe(air);
    for (const bad of [{ bodyMedian: 0.01, bodyLevel: 0.02 }, { bodyMedian: 1.2, bodyLevel: 0.02 }, { bodyMedian: 0.2, bodyLevel: 0 }]) {
      expect(() => normaliseInput(air, bad)).toThrow(expect.objectContaining({ code: 'MIPSEG_MODEL_INVALID' }) as Error);
    }
  });
});

const data = sharedData('data/mip-pet');
const ready = data.available && torchAvailable();

(ready ? describe : describe.skip)('input normalisation against training/data.py', () => {
  let dir = '';
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('normalises DM i AI PNGs and a continuous, unclamped image to exactly the bits of training/data.py', () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-normalisation-'));
    const pngs = ['patients/imgs/patient_004.png', 'patients/imgs/patient_011.png', 'controls/imgs/control_004.png']
      .map((p) => join(data.path, p));
    // Doubled: an unclamped MIP (values above 1), as a normalising model is given it.
    const synthetic = syntheticImage(301, 211, 3).map((v) => v * 2);
    expect(Math.max(...synthetic)).toBeGreaterThan(1);
    const syntheticPath = join(dir, 'synthetic.f32');
    writeFileSync(syntheticPath, Buffer.from(synthetic.buffer));
    const code = `
import json, sys
import numpy as np
from pathlib import Path
from data import InputNormalisation, read_input
norm = InputNormalisation(${NORMALISATION.bodyMedian}, ${NORMALISATION.bodyLevel})
out = Path(sys.argv[1])
for k, png in enumerate(sys.argv[3:]):
    norm.apply(read_input(Path(png))).astype("<f4").tofile(out / f"png-{k}.f32")
norm.apply(np.fromfile(sys.argv[2], dtype="<f4")).astype("<f4").tofile(out / "synthetic-normalised.f32")
print(json.dumps({"ok": True}))
`;
    runTrainingPython(['-c', code, dir, syntheticPath, ...pngs], 120_000, 'the normalisation check');
    const readF32 = (p: string): Float32Array => new Float32Array(new Uint8Array(readFileSync(p)).buffer);
    const differing = (a: Float32Array, b: Float32Array): number => {
      expect(a.length).toBe(b.length);
      return a.reduce((n, v, i) => n + (v === b[i] ? 0 : 1), 0);
    };
    pngs.forEach((png, k) => {
      const input = pngToModelInput(readFileSync(png));
      expect(differing(normaliseInput(input.data, NORMALISATION), readF32(join(dir, `png-${k}.f32`)))).toBe(0);
    });
    expect(differing(normaliseInput(synthetic, NORMALISATION), readF32(join(dir, 'synthetic-normalised.f32')))).toBe(0);
  });
});
