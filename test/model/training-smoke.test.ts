import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../support/shared-data';
import { runTrainingScript, torchAvailable, TRAINING_DIR } from './model-test-support';

const data = sharedData('data/mip-pet');
const ready = data.available && torchAvailable();

(ready ? describe : describe.skip)('Attention U-Net training', () => {
  let out: string;
  let swaOut: string;
  afterAll(() => {
    for (const dir of [out, swaOut]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs one step of the CPU configuration and writes a resumable last.pt', () => {
    out = mkdtempSync(join(tmpdir(), 'mipseg-train-'));
    const config = join(TRAINING_DIR, 'configs', 'cpu.json');
    const run = runTrainingScript('train.py', ['--config', config, '--data', data.path, '--out', out, '--max-steps', '1', '--max-cases', '4'], 600_000);
    expect(run.stdout).toMatch(/finished 1 steps/);
    expect(existsSync(join(out, 'last.pt'))).toBe(true);
  }, 600_000);

  it('trains the lesion-pasting configuration, scores it after the shipped filter, averages its weights (SWA) into swa.pt, and keeps the average across a resume', () => {
    swaOut = mkdtempSync(join(tmpdir(), 'mipseg-train-swa-'));
    // The latest configuration (lesion pasting, weight averaging, validation scored after the shipped output
    // filter), averaging from the first step so that a few steps exercise it.
    const config = JSON.parse(readFileSync(join(TRAINING_DIR, 'configs', 'cpu-paste-continue.json'), 'utf8')) as Record<string, unknown>;
    expect(config['selection_postprocess']).toBeDefined();
    config['swa'] = { start_fraction: 0, lr: 0.0003, every: 1, batchnorm_batches: 2 };
    const configPath = join(swaOut, 'config.json');
    writeFileSync(configPath, JSON.stringify(config));
    const args = ['--config', configPath, '--data', data.path, '--out', join(swaOut, 'run'), '--max-cases', '4'];
    // Each run within half of the test's time, so that a hung first run leaves the test's own timeout to report it.
    const first = runTrainingScript('train.py', [...args, '--max-steps', '2'], 280_000);
    expect(first.stdout).toMatch(/lesion bank: [1-9]\d* lesions/);
    expect(first.stdout).toMatch(/"swa": \{"models": 2,/);
    // Every validation entry carries the figures after the filter beside the raw ones.
    expect(first.stdout).toMatch(/"postprocessed": \{"patients": \d+/);
    const resumed = runTrainingScript('train.py', [...args, '--max-steps', '3'], 280_000);
    expect(resumed.stdout).toMatch(/resumed at step 2/);
    expect(resumed.stdout).toMatch(/"swa": \{"models": 3,/);
    expect(existsSync(join(swaOut, 'run', 'swa.pt'))).toBe(true);
  }, 600_000);
});
