import { referenceWeights, runTrainingPython, torchAvailable } from './model-test-support';

// The released weights extended with an 8-channel refinement branch (train.py initialise_from), fed all the decoder's
// features or narrowed to 3, compared with the weights alone on a random image; then one optimiser step on a target
// that differs from the prediction, after which the branch must have moved (its zero start is not a dead end), the
// weights must load back as the same shape (weights.py) and the manifest's deviation line must describe it.
const REFINEMENT_CHECK = `
import io, json, sys
from pathlib import Path
import torch
from model import AttentionUNet
from train import initialise_from
from weights import load_weights, refine_channels_of, refine_features_of
from write_manifest import architecture_deviations
torch.manual_seed(0)
released, _ = load_weights(Path(sys.argv[1]))
def check(features):
    extended = AttentionUNet(released.channels, 8, features)
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
        AttentionUNet(released.channels, 8, features).load_state_dict(released.state_dict())
        strict_load = "accepted"
    except RuntimeError:
        strict_load = "refused"
    saved = io.BytesIO()
    torch.save(extended.state_dict(), saved)
    saved.seek(0)
    reloaded, _ = load_weights(saved)
    return {"max_diff": same, "out_weight_after_step": moved, "refine_channels": refine_channels_of(extended.state_dict()),
            "refine_features": refine_features_of(extended.state_dict()), "reloaded_features": reloaded.refine_features,
            "strict_load": strict_load, "deviations_with": architecture_deviations(["stem"], extended)}
print(json.dumps({"full": check(0), "narrowed": check(3), "released_refine_channels": released.refine_channels,
                  "deviations_without": architecture_deviations(["stem", "full-resolution refinement branch (8 channels)"], released)}))
`;

(torchAvailable() ? describe : describe.skip)('full-resolution refinement branch (training)', () => {
  it('extends released weights without changing their output, then learns, and is named in the manifest only when present', () => {
    const weights = referenceWeights();
    if (!weights) return;
    const run = runTrainingPython(['-c', REFINEMENT_CHECK, weights], 120_000, 'the refinement check');
    const checks = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Record<string, Record<string, unknown>>;
    for (const [shape, features] of [['full', 0], ['narrowed', 3]] as const) {
      const branch = checks[shape] ?? {};
      expect(branch['max_diff']).toBe(0);
      expect(branch['out_weight_after_step']).toBeGreaterThan(0);
      expect(branch).toMatchObject({ refine_channels: 8, refine_features: features, reloaded_features: features, strict_load: 'refused' });
    }
    expect(checks['full']?.['deviations_with']).toEqual(['stem', expect.stringMatching(/^full-resolution refinement branch \(8 channels[^]*last features$/)]);
    expect(checks['narrowed']?.['deviations_with']).toEqual(['stem', expect.stringMatching(/^full-resolution refinement branch \(8 channels[^]*narrowed to 3 by a 1x1 convolution/)]);
    expect(checks['released_refine_channels']).toBe(0);
    expect(checks['deviations_without']).toEqual(['stem']);
  }, 180_000);
});

