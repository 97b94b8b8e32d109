import { runTrainingPython, torchAvailable } from './model-test-support';

/** Runs a Python snippet in the training folder (data.py needs torch); the snippet prints one JSON line. */
function runPython(code: string): Record<string, unknown> {
  const run = runTrainingPython(['-c', code], 120_000, 'the augmentation check');
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

// A synthetic MIP: air (0) beside a body (0.2) that touches the image's top and left edges (so pasted boxes get
// clipped there), holds a "liver" (0.5) about as hot as the lesions' rims and a saturated "bladder" (1.0), and is
// all a known false positive. The donor lesion is a graded disc (hot centre, cooler rim) and a 2x2 speck under the
// bank's minimum area.
const PASTE_CHECK = `
import json, random
import numpy as np
import torch
from data import AugmentConfig, Sample, augment, lesion_bank, paste_lesions, BODY_LEVEL
image = np.zeros((200, 120), np.float32); image[0:180, 0:90] = 0.2; image[20:60, 0:60] = 0.5; image[140:160, 50:70] = 1.0
label = np.zeros_like(image)
fp = np.zeros_like(image); fp[0:180, 0:90] = 1.0
yy, xx = np.mgrid[0:60, 0:60]
r = np.hypot(yy - 20, xx - 20)
donor = np.where(r <= 8, 0.9 - 0.04 * r, 0.0).astype(np.float32); donor[50:52, 50:52] = 0.9
bank = lesion_bank([Sample(donor, (donor > 0).astype(np.float32))], min_area=20)
cfg = AugmentConfig(paste_p=1.0, paste_max=3, paste_scale=(0.8, 2.0), paste_gain=(0.7, 1.3))
inputs = (image.copy(), label.copy(), fp.copy())
checks = {"bank": len(bank), "bank_area": int(bank[0].mask.sum()), "labelled": 0, "label_without_change": 0,
          "change_without_label": 0, "decreased": 0, "outside_body": 0, "on_bladder": 0, "fp_under_label": 0,
          "low_contrast": 0, "clipped_at_edge": 0}
for seed in range(300):
    img, lab, fps = paste_lesions(image, label, fp, bank, cfg, random.Random(seed))
    changed = img != image
    checks["labelled"] += int(lab.sum())
    checks["label_without_change"] += int(((lab > 0) & ~changed).sum())
    checks["change_without_label"] += int((changed & ~(lab > 0)).sum())
    checks["decreased"] += int((img < image).sum())
    checks["outside_body"] += int(((lab > 0) & (image <= BODY_LEVEL)).sum())
    checks["on_bladder"] += int(lab[140:160, 50:70].sum())
    checks["fp_under_label"] += int(((lab > 0) & (fps > 0)).sum())
    checks["low_contrast"] += int(((lab > 0) & (img - image < cfg.paste_contrast)).sum())
    checks["clipped_at_edge"] += int(lab[0, :].sum() + lab[:, 0].sum() > 0)
checks["inputs_changed"] = int(sum((a != b).sum() for a, b in zip((image, label, fp), inputs)))
# Through augment(): a control patch the size of the image, no geometric change, gets tumour only with a bank.
plain = AugmentConfig(scale=0.0, rotate_deg=0.0, window=0.0, gamma=0.0, height_crop_p=0.0, lesion_focus_p=0.0, paste_p=1.0)
control = Sample(image, label)
with_bank = sum(float(augment(control, 200, 120, plain, random.Random(s), bank)[1].sum()) for s in range(20))
without = sum(float(augment(control, 200, 120, plain, random.Random(s), None)[1].sum()) for s in range(20))
checks["augment_with_bank"] = with_bank
checks["augment_without_bank"] = without
print(json.dumps(checks))
`;

(torchAvailable() ? describe : describe.skip)('lesion pasting (training augmentation)', () => {
  it('pastes lesions as a MIP shows them: only where hotter than the image and inside the body, and labels exactly those pixels', () => {
    const checks = runPython(PASTE_CHECK);
    // The 2x2 speck is under the bank's 20 px minimum; the disc (radius 8: 197 px) is in it.
    expect(checks).toMatchObject({ bank: 1, bank_area: 197 });
    expect(checks['labelled']).toBeGreaterThan(10_000);
    expect(checks['clipped_at_edge']).toBeGreaterThan(5);
    expect(checks).toMatchObject({
      label_without_change: 0, change_without_label: 0, decreased: 0, outside_body: 0, on_bladder: 0, fp_under_label: 0,
      low_contrast: 0, inputs_changed: 0, augment_without_bank: 0,
    });
    expect(checks['augment_with_bank']).toBeGreaterThan(0);
  }, 120_000);
});
