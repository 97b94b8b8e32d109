"""Counts the multiply-accumulates of the convolutions (Conv2d and ConvTranspose2d) of the network.

Every feature map is the padded input scaled by a fixed power of two, so the count is exactly linear in
the padded pixel count: one figure per padded pixel describes every image size. Pooling, activations,
attention products and the final bilinear resize are left out (they are a few % of the work).
"""
from __future__ import annotations

import torch
from torch import nn

from model import AttentionUNet


def _conv_macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        return output.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.ConvTranspose2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        return inputs[0].numel() * (module.out_channels // module.groups) * k
    return 0


@torch.no_grad()
def conv_macs_per_padded_pixel(model: AttentionUNet) -> float:
    total = [0]
    hooks = [m.register_forward_hook(lambda mod, i, o: total.__setitem__(0, total[0] + _conv_macs(mod, i, o)))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        side = 2 * model.padding_multiple
        model.eval()(torch.zeros(1, 1, side, side))
    finally:
        for h in hooks:
            h.remove()
    return total[0] / (side * side)
