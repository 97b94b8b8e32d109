import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../support/shared-data';
import { runTrainingPython, runTrainingScript, torchAvailable, TRAINING_DIR } from './model-test-support';

// What a GPU run needs that a CPU run does not: the data set packed small enough to carry to the device machine
// (pack_data.py), and batches drawn by forked worker processes (train.py BatchSource, configs/gpu.json).

const data = sharedData('data/mip-pet');
const ready = data.available && torchAvailable();

// The packed copy must read, through data.py, as the same arrays as the original.
const PACKED_READS_THE_SAME = `
import json, sys
from pathlib import Path
import numpy as np
from data import list_cases, load
original, packed = (list_cases(Path(p)) for p in sys.argv[1:3])
same = all(np.array_equal(a.image, b.image) and np.array_equal(a.label, b.label)
           for group in (0, 1) for a, b in zip(load(original[group]), load(packed[group])))
print(json.dumps({"cases": [len(original[0]), len(original[1]), len(packed[0]), len(packed[1])], "same": same}))
`;

// Batches from two forked workers must be the ones draw_batch gives for the same indices here (each index its own
// random stream), in order; after the images change and refresh() is called, the next batch must show the change
// (workers forked before it would still hold the old images).
const WORKER_BATCHES = `
import json, sys
from pathlib import Path
import numpy as np
import train
from data import AugmentConfig, list_cases, load, split
patients, controls = list_cases(Path(sys.argv[1]))
samples = {"patients": load(split(patients)[0][:3]), "controls": load(split(controls)[0][:3])}
cfg = {"seed": 7, "batch_size": 2, "patch_height": 64, "patch_width": 48, "patient_fraction": 0.5, "data_workers": 2}
aug = AugmentConfig()
source = train.BatchSource(samples, cfg, aug, None, [])
drawn = [source.batch(i) for i in range(3)]
train._WORKER_INPUTS.update(samples=samples, cfg=cfg, aug=aug, bank=[])
expected = [train.draw_batch(i) for i in range(3)]
in_order = all(np.array_equal(x.numpy(), ex.astype(np.float32)) and np.array_equal(y.numpy(), ey.astype(np.float32)) for (x, y), (ex, ey) in zip(drawn, expected))
distinct = not np.array_equal(drawn[0][0].numpy(), drawn[1][0].numpy())
for s in samples["patients"] + samples["controls"]:
    s.image = np.zeros_like(s.image)
source.refresh()
after = source.batch(3)
source.close()
print(json.dumps({"in_order": in_order, "distinct": distinct, "zero_after_refresh": float(after[0].abs().max()) == 0.0}))
`;

(ready ? describe : describe.skip)('preparing a GPU training run', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('packs the data set losslessly: the packed copy reads as the same arrays', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-pack-'));
    dirs.push(dir);
    // Two patients and two controls of the shared data, linked into a small data set of the same layout.
    const source = join(dir, 'source');
    for (const [group, folder, names] of [
      ['patients', 'imgs', ['patient_000.png', 'patient_001.png']],
      ['patients', 'labels', ['segmentation_000.png', 'segmentation_001.png']],
      ['controls', 'imgs', ['control_000.png', 'control_001.png']],
    ] as const) {
      mkdirSync(join(source, group, folder), { recursive: true });
      for (const name of names) symlinkSync(join(data.path, group, folder, name), join(source, group, folder, name));
    }
    const packed = join(dir, 'packed');
    const pack = runTrainingScript('pack_data.py', ['--data', source, '--out', packed], 120_000);
    const summary = JSON.parse(pack.stdout.trim().split('\n').pop() ?? '{}') as { files: number; bytes: number };
    expect(summary.files).toBe(6);
    const check = runTrainingPython(['-c', PACKED_READS_THE_SAME, source, packed], 120_000, 'the packed-data check');
    expect(JSON.parse(check.stdout.trim().split('\n').pop() ?? '{}')).toEqual({ cases: [2, 2, 2, 2], same: true });
  }, 300_000);

  it('draws batches in forked workers, each index from its own random stream, and refreshes them after the images change', () => {
    const run = runTrainingPython(['-c', WORKER_BATCHES, data.path], 240_000, 'the batch-worker check');
    expect(JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}')).toEqual({ in_order: true, distinct: true, zero_after_refresh: true });
  }, 300_000);

  it('runs two steps of the GPU configuration (on this CPU, with two batch workers) and writes its checkpoints', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-train-gpu-'));
    dirs.push(dir);
    const config = JSON.parse(readFileSync(join(TRAINING_DIR, 'configs', 'gpu.json'), 'utf8')) as Record<string, unknown>;
    expect(config['data_workers']).toBeGreaterThan(0);
    // Two workers instead of the GPU machine's twelve, and smaller batches: this CPU has two cores.
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ ...config, data_workers: 2, batch_size: 2 }));
    const run = runTrainingScript('train.py', ['--config', configPath, '--data', data.path, '--out', join(dir, 'run'),
      '--max-steps', '2', '--max-cases', '4'], 280_000);
    expect(run.stdout).toMatch(/"mined": \{"images_with_false_positives"/);
    expect(run.stdout).toMatch(/"postprocessed": \{"patients": \d+/);
    expect(run.stdout).toMatch(/finished 2 steps/);
  }, 300_000);
});
