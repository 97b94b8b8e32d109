"""Attention U-Net (Oktay et al. 2018, "Attention U-Net: Learning Where to Look for the Pancreas").

Plain PyTorch, because MONAI is not available on our machines. The layout follows the paper:
a U-Net encoder/decoder whose skip connections pass through additive attention gates driven by
the coarser decoder features. Two deviations, both for CPU cost, are recorded in the model card:
a stride-2 stem (the network thinks at half the input resolution and upsamples its logits back)
and BatchNorm, which folds into the convolutions at export. Optionally (refine_channels > 0) a small
full-resolution branch gives back what the stem gives up: see FullResolutionRefinement.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class ConvBlock(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class AttentionGate(nn.Module):
    """Additive attention: alpha = sigmoid(psi(relu(W_x x + W_g g))); returns x * alpha."""

    def __init__(self, skip_ch: int, gate_ch: int, inter_ch: int) -> None:
        super().__init__()
        self.w_x = nn.Sequential(nn.Conv2d(skip_ch, inter_ch, 1, bias=False), nn.BatchNorm2d(inter_ch))
        self.w_g = nn.Sequential(nn.Conv2d(gate_ch, inter_ch, 1, bias=False), nn.BatchNorm2d(inter_ch))
        self.psi = nn.Sequential(nn.Conv2d(inter_ch, 1, 1), nn.BatchNorm2d(1), nn.Sigmoid())

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        alpha = self.psi(F.relu(self.w_x(x) + self.w_g(g)))
        return x * alpha


class UpBlock(nn.Module):
    def __init__(self, in_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2)
        self.gate = AttentionGate(skip_ch, out_ch, max(out_ch // 2, 4))
        self.conv = ConvBlock(skip_ch + out_ch, out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        g = self.up(x)
        return self.conv(torch.cat([self.gate(skip, g), g], dim=1))


class FullResolutionRefinement(nn.Module):
    """A correction to the upsampled logits, computed at the input's resolution from the image itself and the
    decoder's last features (upsampled). Why: after the stride-2 stem the network places every boundary on a
    half-resolution grid, and bilinear logits blur the small lesions that dominate a per-image Dice; the
    ground truth itself, pooled to that grid and upsampled the same way, keeps only 0.977 Dice with its own
    full-resolution masks (validation split). The last convolution starts at zero, so a network extended from
    released weights first computes exactly what they did.
    """

    def __init__(self, feature_ch: int, ch: int, reduced_features: int = 0) -> None:
        super().__init__()
        # reduced_features > 0: a 1x1 convolution at half resolution narrows the decoder's features before the
        # resize, so the full-resolution work (resize, concatenation, first convolution) handles few channels.
        # Why: in the 8-channel branch fed all 12 features, that work was ~50 of its ~60 ms on one CPU thread.
        self.reduce = nn.Conv2d(feature_ch, reduced_features, 1) if reduced_features > 0 else None
        self.body = ConvBlock((reduced_features or feature_ch) + 1, ch)
        self.out = nn.Conv2d(ch, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def reduced_features(self) -> int:
        return 0 if self.reduce is None else self.reduce.out_channels

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        if self.reduce is not None:
            features = self.reduce(features)
        up = F.interpolate(features, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.out(self.body(torch.cat([x, up], dim=1)))


class AttentionUNet(nn.Module):
    """Input (N,1,H,W) with H and W multiples of `padding_multiple`; output logits (N,1,H,W)."""

    def __init__(self, channels: tuple[int, ...] = (16, 32, 64, 128, 256), refine_channels: int = 0,
                 refine_features: int = 0) -> None:
        super().__init__()
        if refine_features and not refine_channels:
            raise ValueError("refine_features narrows the refinement branch's input: it needs refine_channels > 0")
        self.channels = tuple(channels)
        self.refine_channels = refine_channels
        self.refine_features = refine_features
        self.stem = nn.Sequential(
            nn.Conv2d(1, channels[0], 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(inplace=True),
        )
        self.enc = nn.ModuleList()
        prev = channels[0]
        for ch in channels:
            self.enc.append(ConvBlock(prev, ch))
            prev = ch
        self.dec = nn.ModuleList(
            UpBlock(channels[i + 1], channels[i], channels[i]) for i in reversed(range(len(channels) - 1))
        )
        self.head = nn.Conv2d(channels[0], 1, 1)
        self.refine = (FullResolutionRefinement(channels[0], refine_channels, refine_features)
                       if refine_channels > 0 else None)

    @property
    def padding_multiple(self) -> int:
        return 2 ** len(self.channels)  # stem stride 2, then one 2x pooling per deeper level

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        h = self.stem(x)
        skips = []
        for i, block in enumerate(self.enc):
            if i > 0:
                h = F.max_pool2d(h, 2)
            h = block(h)
            skips.append(h)
        h = skips.pop()
        for block in self.dec:
            h = block(h, skips.pop())
        logits = F.interpolate(self.head(h), size=size, mode="bilinear", align_corners=False)
        return logits if self.refine is None else logits + self.refine(x, h)
