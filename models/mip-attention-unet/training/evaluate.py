"""Evaluates a checkpoint on the fixed validation split and prints every figure the model card reports.

  /usr/bin/python3 evaluate.py --checkpoint runs/cpu/best.pt --data ../../../../shared/data/mip-pet
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from data import list_cases, load, pad_to_multiple, split
from metrics import remove_small_components, summarise
from model import AttentionUNet


@torch.no_grad()
def predict(model: AttentionUNet, image: np.ndarray, device, threshold: float, min_area: int) -> np.ndarray:
    model.eval()
    x, (h, w) = pad_to_multiple(torch.from_numpy(image)[None, None].to(device), model.padding_multiple)
    prob = torch.sigmoid(model(x))[0, 0, :h, :w].cpu().numpy()
    return remove_small_components(prob > threshold, min_area)


def evaluate_model(model, val, device, threshold: float, min_area: int) -> dict:
    pats = [(predict(model, s.image, device, threshold, min_area), s.label > 0.5) for s in val["patients"]]
    ctrls = [predict(model, s.image, device, threshold, min_area) for s in val["controls"]]
    return summarise(pats, ctrls)


def selection_score(m: dict) -> float:
    """Checkpoint choice: patient Dice, penalised when fewer than 80 % of controls are clean."""
    return m["mean_dice"] - max(0.0, 0.8 - m["controls_clean_share"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--min-area", type=int, default=None)
    args = ap.parse_args()
    ck = torch.load(args.checkpoint, map_location="cpu")
    model = AttentionUNet(tuple(ck["config"]["channels"]))
    model.load_state_dict(ck["model"])
    patients, controls = list_cases(Path(args.data))
    val = {"patients": load(split(patients)[1]), "controls": load(split(controls)[1])}
    min_area = ck["config"].get("min_component_area", 0) if args.min_area is None else args.min_area
    print(json.dumps(evaluate_model(model, val, "cpu", args.threshold, min_area), indent=1))


if __name__ == "__main__":
    main()
