"""Chooses the output threshold and minimum component area on the TRAINING split, never on validation.

  /usr/bin/python3 tune_postprocess.py --checkpoint runs/cpu/best.pt --data ../../../../shared/data/mip-pet

The rule (fixed before looking at any figure): among thresholds and minimum areas, keep those that leave
at least 90 % of the training controls clean (stricter than the 80 % asked of validation, because the
network has seen these controls), then take the one with the highest mean patient Dice.
Prints the grid and the choice as JSON; release.sh writes the choice into model.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from data import list_cases, load, pad_to_multiple, split
from metrics import dice, remove_small_components
from weights import load_weights

THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.9]
MIN_AREAS = [0, 10, 20, 40, 80, 160]
CLEAN_CONTROLS_REQUIRED = 0.9


@torch.no_grad()
def probabilities(model, samples) -> list[np.ndarray]:
    out = []
    for s in samples:
        x, (h, w) = pad_to_multiple(torch.from_numpy(s.image)[None, None], model.padding_multiple)
        out.append(torch.sigmoid(model(x))[0, 0, :h, :w].numpy())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, _ = load_weights(Path(args.checkpoint))
    model.eval()
    patients, controls = list_cases(Path(args.data))
    train_p, train_c = load(split(patients)[0]), load(split(controls)[0])
    prob_p, prob_c = probabilities(model, train_p), probabilities(model, train_c)
    grid = []
    for t in THRESHOLDS:
        for a in MIN_AREAS:
            d = [dice(remove_small_components(p > t, a), s.label > 0.5) for p, s in zip(prob_p, train_p)]
            clean = float(np.mean([not remove_small_components(p > t, a).any() for p in prob_c]))
            grid.append({"threshold": t, "minComponentAreaPx": a, "train_patient_dice": round(float(np.mean(d)), 4), "train_controls_clean": round(clean, 4)})
    ok = [g for g in grid if g["train_controls_clean"] >= CLEAN_CONTROLS_REQUIRED] or grid
    choice = max(ok, key=lambda g: (g["train_patient_dice"], -g["threshold"], -g["minComponentAreaPx"]))
    print(json.dumps({"grid": grid, "choice": choice, "rule": f"controls clean >= {CLEAN_CONTROLS_REQUIRED} on training, then best Dice"}, indent=1))


if __name__ == "__main__":
    main()
