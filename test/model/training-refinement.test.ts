import { referenceWeights, runTrainingPython, torchAvailable } from './model-test-support';

// The released weights extended with an 8-channel refinement branch (train.py initialise_from), compared with
// the weights alone on a random image; then one optimiser step on a target that differs from the prediction,
// after which the branch must have moved (its zero start is not a dead end) and the export path must see it.
const REFINEMENT_CHECK = `
import json, sys
from pathlib import Path
import torch
from model import AttentionUNet
from train import initialise_from
from weights import load_weights, refine_channels_of
from write_manifest import architecture_deviations
torch.manual_seed(0)
released, _ = load_weights(Path(sys.argv[1]))
extended = AttentionUNet(released.channels, 8)
initialise_from(extended, Path(sys.argv[1]))
extended.eval()
x = torch.rand(1, 1, 64, 32)
with torch.no_grad():
    same = float((extended(x) - released(x)).abs().max())
extended.train()
opt = torch.optim.SGD(extended.parameters(), lr=0.1)
loss = ((torch.sigmoid(extended(x)) - (x > 0.5).float()) ** 2).mean()
loss.backward()
opt.step()
moved = float(extended.refine.out.weight.abs().max())
try:
    AttentionUNet(released.channels, 8).load_state_dict(released.state_dict())
    strict_load = "accepted"
except RuntimeError:
    strict_load = "refused"
print(json.dumps({"max_diff": same, "out_weight_after_step": moved, "refine_channels": refine_channels_of(extended.state_dict()),
                  "released_refine_channels": released.refine_channels, "strict_load": strict_load,
                  "deviations_with": architecture_deviations(["stem"], extended), "deviations_without": architecture_deviations(["stem", "full-resolution refinement branch (8 channels)"], released)}))
`;

(torchAvailable() ? describe : describe.skip)('full-resolution refinement branch (training)', () => {
  it('extends released weights without changing their output, then learns, and is named in the manifest only when present', () => {
    const weights = referenceWeights();
    if (!weights) return;
    const run = runTrainingPython(['-c', REFINEMENT_CHECK, weights], 120_000, 'the refinement check');
    const checks = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    expect(checks['max_diff']).toBe(0);
    expect(checks['out_weight_after_step']).toBeGreaterThan(0);
    expect(checks).toMatchObject({ refine_channels: 8, released_refine_channels: 0, strict_load: 'refused' });
    expect(checks['deviations_with']).toEqual(['stem', expect.stringMatching(/^full-resolution refinement branch \(8 channels/)]);
    expect(checks['deviations_without']).toEqual(['stem']);
  }, 180_000);
});

