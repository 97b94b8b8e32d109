"""Loads Attention U-Net weights from a training checkpoint or from the released state_dict (model.pt).

The released model.pt holds the state_dict only, so CI (which has no runs/) can rebuild the network:
the channel widths are read back from the weight shapes instead of being stored a second time.
"""
from __future__ import annotations

from pathlib import Path

import torch

from model import AttentionUNet


def channels_of(state_dict: dict) -> tuple[int, ...]:
    """Encoder widths: the output channels of the first conv of each encoder block enc.<i>."""
    widths = []
    while f"enc.{len(widths)}.0.weight" in state_dict:
        widths.append(int(state_dict[f"enc.{len(widths)}.0.weight"].shape[0]))
    if not widths:
        raise ValueError("not an AttentionUNet state_dict (no enc.0.0.weight)")
    return tuple(widths)


def load_weights(path: Path) -> tuple[AttentionUNet, dict]:
    """Returns (model in eval mode, checkpoint metadata) for a checkpoint dict or a bare state_dict."""
    blob = torch.load(path, map_location="cpu")
    state_dict = blob["model"] if isinstance(blob, dict) and "model" in blob else blob
    meta = {k: v for k, v in blob.items() if k in ("config", "step", "metrics")} if "model" in blob else {}
    model = AttentionUNet(channels_of(state_dict))
    if "config" in meta and tuple(meta["config"]["channels"]) != model.channels:
        raise ValueError(f"checkpoint config channels {meta['config']['channels']} != weights {model.channels}")
    model.load_state_dict(state_dict)
    return model.eval(), meta
