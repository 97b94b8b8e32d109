import { referenceWeights, runTrainingPython, torchAvailable } from './model-test-support';

// average_weights.average_parameters on the released weights: averaged with a copy whose every parameter is moved by
// +1, each parameter must be the released one + 0.5 and the BatchNorm buffers the first network's; averaged with
// itself, the network must compute exactly what it did; weights of another shape (a refinement branch) are refused.
const AVERAGE_CHECK = `
import copy, json, sys
from pathlib import Path
import torch
from average_weights import average_parameters
from model import AttentionUNet
from weights import load_weights
torch.manual_seed(0)
released, _ = load_weights(Path(sys.argv[1]))
moved = copy.deepcopy(released)
with torch.no_grad():
    for p in moved.parameters():
        p.add_(1.0)
mean = average_parameters([released, moved]).eval()
base = dict(released.named_parameters())
param_error = max(float((p - (base[n] + 0.5)).abs().max()) for n, p in mean.named_parameters())
base_buffers = dict(released.named_buffers())
buffers_kept = all(torch.equal(b, base_buffers[n]) for n, b in mean.named_buffers())
x = torch.rand(1, 1, 64, 32)
with torch.no_grad():
    self_diff = float((average_parameters([released, released]).eval()(x) - released(x)).abs().max())
try:
    average_parameters([released, AttentionUNet(released.channels, 8, 0)])
    other_shape = "accepted"
except SystemExit as refusal:
    other_shape = str(refusal)
print(json.dumps({"param_error": param_error, "buffers_kept": buffers_kept, "self_diff": self_diff,
                  "other_shape": other_shape}))
`;

(torchAvailable() ? describe : describe.skip)('averaging released weights (training/average_weights.py)', () => {
  it('gives each parameter the mean of the networks, keeps a network averaged with itself unchanged, and refuses other shapes', () => {
    const weights = referenceWeights();
    if (!weights) return;
    const run = runTrainingPython(['-c', AVERAGE_CHECK, weights], 120_000, 'the averaging check');
    const checks = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    expect(checks['param_error']).toBeLessThan(1e-6);
    expect(checks['buffers_kept']).toBe(true);
    expect(checks['self_diff']).toBe(0);
    expect(checks['other_shape']).toMatch(/^weights of different networks cannot be averaged/);
  }, 180_000);
});
