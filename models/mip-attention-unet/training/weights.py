"""Loads Attention U-Net weights from a training checkpoint or from the released state_dict (model.pt).

The released model.pt holds the state_dict only, so CI (which has no runs/) can rebuild the network:
the channel widths are read back from the weight shapes instead of being stored a second time.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from data import InputNormalisation, input_normalisation
from model import AttentionUNet


def channels_of(state_dict: dict) -> tuple[int, ...]:
    """Encoder widths: the output channels of the first conv of each encoder block enc.<i>."""
    widths = []
    while f"enc.{len(widths)}.0.weight" in state_dict:
        widths.append(int(state_dict[f"enc.{len(widths)}.0.weight"].shape[0]))
    if not widths:
        raise ValueError("not an AttentionUNet state_dict (no enc.0.0.weight)")
    return tuple(widths)


def refine_channels_of(state_dict: dict) -> int:
    """Width of the full-resolution refinement branch (model.FullResolutionRefinement), 0 when there is none."""
    weight = state_dict.get("refine.body.0.weight")
    return int(weight.shape[0]) if weight is not None else 0


def refine_features_of(state_dict: dict) -> int:
    """How many decoder features the refinement branch keeps before its resize (FullResolutionRefinement
    reduced_features), 0 when it takes them all or there is no branch."""
    weight = state_dict.get("refine.reduce.weight")
    return int(weight.shape[0]) if weight is not None else 0


def load_weights(path: Path) -> tuple[AttentionUNet, dict]:
    """Returns (model in eval mode, checkpoint metadata) for a checkpoint dict or a bare state_dict."""
    blob = torch.load(path, map_location="cpu")
    state_dict = blob["model"] if isinstance(blob, dict) and "model" in blob else blob
    meta = {k: v for k, v in blob.items() if k in ("config", "step", "metrics")} if "model" in blob else {}
    model = AttentionUNet(channels_of(state_dict), refine_channels_of(state_dict), refine_features_of(state_dict))
    if "config" in meta and tuple(meta["config"]["channels"]) != model.channels:
        raise ValueError(f"checkpoint config channels {meta['config']['channels']} != weights {model.channels}")
    if "config" in meta and meta["config"].get("refine_channels", 0) != model.refine_channels:
        raise ValueError(f"checkpoint config refine_channels {meta['config'].get('refine_channels', 0)} != weights "
                         f"{model.refine_channels}")
    if "config" in meta and meta["config"].get("refine_features", 0) != model.refine_features:
        raise ValueError(f"checkpoint config refine_features {meta['config'].get('refine_features', 0)} != weights "
                         f"{model.refine_features}")
    model.load_state_dict(state_dict)
    return model.eval(), meta


def input_normalisation_of(path: Path, meta: dict) -> InputNormalisation | None:
    """The input normalisation the weights were trained with: from a checkpoint's training configuration, or, for a
    released model.pt (a bare state_dict, no configuration), from the model.json beside it that names it
    (input.intensity.normalisation). None: the images go to the network as read."""
    if "config" in meta:
        return input_normalisation(meta["config"])
    manifest_path = Path(path).parent / "model.json"
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("referenceWeights", {}).get("file") != Path(path).name:
        return None
    spec = manifest["input"]["intensity"].get("normalisation")
    return InputNormalisation(spec["bodyMedian"], spec["bodyLevel"]) if spec else None
