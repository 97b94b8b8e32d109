import { spawnSync } from 'node:child_process';
import { TORCH_PYTHON, TRAINING_DIR, torchAvailable } from './model-test-support';

/** Runs Python in the training folder (data.py needs torch); the snippet prints one JSON line. */
function runPython(code: string): Record<string, unknown> {
  const run = spawnSync(TORCH_PYTHON, ['-c', code], { cwd: TRAINING_DIR, encoding: 'utf8', timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (run.status !== 0) throw new Error(`python exited ${run.status ?? run.signal}: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

// A synthetic MIP: air (0) around a body (0.2) that holds a saturated "bladder" (1.0) and a known false positive.
const PASTE_CHECK = `
import json, random
import numpy as np
from data import AugmentConfig, Lesion, Sample, lesion_bank, paste_lesions, BODY_LEVEL
image = np.zeros((200, 120), np.float32); image[20:180, 30:90] = 0.2; image[140:160, 50:70] = 1.0
label = np.zeros_like(image)
fp = np.zeros_like(image); fp[20:180, 30:90] = 1.0
donor = np.zeros((60, 60), np.float32); donor[10:20, 10:20] = 0.6; donor[40:42, 40:42] = 0.9
donor_label = (donor > 0).astype(np.float32)
bank = lesion_bank([Sample(donor, donor_label)], min_area=20)
cfg = AugmentConfig(paste_p=1.0, paste_max=3, paste_scale=(0.8, 2.0), paste_gain=(0.7, 1.3))
before = image.copy()
checks = {"bank": len(bank), "bank_area": int(bank[0].mask.sum()), "labelled": 0, "label_without_change": 0,
          "decreased": 0, "outside_body": 0, "on_bladder": 0, "fp_under_label": 0, "inputs_changed": 0}
for seed in range(200):
    img, lab, fps = paste_lesions(image, label, fp, bank, cfg, random.Random(seed))
    changed = img != image
    checks["labelled"] += int(lab.sum())
    checks["label_without_change"] += int(((lab > 0) & ~changed).sum())
    checks["decreased"] += int((img < image).sum())
    checks["outside_body"] += int(((lab > 0) & (image <= BODY_LEVEL)).sum())
    checks["on_bladder"] += int(lab[140:160, 50:70].sum())
    checks["fp_under_label"] += int(((lab > 0) & (fps > 0)).sum())
checks["inputs_changed"] = int((image != before).sum() + label.sum())
print(json.dumps(checks))
`;

(torchAvailable() ? describe : describe.skip)('lesion pasting (training augmentation)', () => {
  it('pastes lesions as a MIP shows them: only where hotter than the image and inside the body, and labels exactly those pixels', () => {
    const checks = runPython(PASTE_CHECK);
    // The 2x2 lesion is under the bank's 20 px minimum; the 10x10 one is in it.
    expect(checks).toMatchObject({ bank: 1, bank_area: 100 });
    expect(checks['labelled']).toBeGreaterThan(1000);
    expect(checks).toMatchObject({
      label_without_change: 0, decreased: 0, outside_body: 0, on_bladder: 0, fp_under_label: 0, inputs_changed: 0,
    });
  }, 120_000);
});
