import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { MODEL_DIR, runTrainingScript, torchAvailable } from './model-test-support';

const MIP_PET = 'data/mip-pet';

interface SuvWhiteEstimate {
  readonly training_controls: number;
  readonly suvWhite: number;
}

/**
 * suvWhite is part of the input contract the validation figures are measured through, so the command model.json
 * gives for it must reproduce it from the training split's controls alone (325 of the 400: every fifth is held out).
 */
(torchAvailable() ? describeWithSharedData(MIP_PET) : describe.skip)('the SUV mapping model.json publishes', () => {
  it('is what training/estimate_suv_scale.py gives from the training controls only', () => {
    const run = runTrainingScript('estimate_suv_scale.py', ['--data', sharedData(MIP_PET).path], 120_000);
    const estimate = JSON.parse(run.stdout) as SuvWhiteEstimate;
    const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'model.json'), 'utf8')) as
      { input: { intensity: { fromSuv: { suvWhite: number; basis: string } } } };
    expect(estimate.training_controls).toBe(325);
    expect(estimate.suvWhite).toBe(manifest.input.intensity.fromSuv.suvWhite);
    expect(manifest.input.intensity.fromSuv.basis).toContain('training/estimate_suv_scale.py');
  }, 180_000);
});
