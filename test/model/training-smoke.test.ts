import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../support/shared-data';
import { runTrainingScript, torchAvailable, TRAINING_DIR } from './model-test-support';

const data = sharedData('data/mip-pet');
const ready = data.available && torchAvailable();

(ready ? describe : describe.skip)('Attention U-Net training', () => {
  let out: string;
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('runs one step of the CPU configuration and writes a resumable last.pt', () => {
    out = mkdtempSync(join(tmpdir(), 'mipseg-train-'));
    const config = join(TRAINING_DIR, 'configs', 'cpu.json');
    const run = runTrainingScript('train.py', ['--config', config, '--data', data.path, '--out', out, '--max-steps', '1', '--max-cases', '4'], 600_000);
    expect(run.stdout).toMatch(/finished 1 steps/);
    expect(existsSync(join(out, 'last.pt'))).toBe(true);
  }, 600_000);
});
