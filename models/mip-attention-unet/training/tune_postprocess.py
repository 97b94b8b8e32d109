"""Chooses the output post-processing on the TRAINING split, never on validation.

  /usr/bin/python3 tune_postprocess.py --checkpoint runs/cpu/best.pt --data ../../../../shared/data/mip-pet

Grid: test-time flip (off/on) x threshold x seed threshold (hysteresis, postprocess.py) x minimum component area.
The rule (fixed before looking at any figure): keep the settings that leave at least 90 % of the training
controls clean (stricter than the 80 % asked of validation, because the network has seen these controls), take
the one with the highest mean patient Dice; the test-time flip doubles inference time, so it is chosen only
when it beats the best setting without it by at least 0.01 Dice. Prints the grid and the choice as JSON;
release.sh writes the choice into model.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from data import list_cases, load, split
from postprocess import PostProcess, components, keep_components, logits_of, probability
from weights import load_weights

THRESHOLDS = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
SEEDS = [None, 0.8, 0.9, 0.95, 0.98, 0.99]
MIN_AREAS = [0, 10, 20, 40, 80, 120, 160]
CLEAN_CONTROLS_REQUIRED = 0.9
FLIP_MIN_GAIN = 0.01


def score_grid(model, patients, controls, flip_tta: bool) -> list[dict]:
    """Dice of every (threshold, seed, area) from one forward pass per image: per component, its area, peak and
    overlap with the truth are enough to score any choice of components."""
    probs_p = [probability(logits_of(model, s.image, flip_tta)) for s in patients]
    probs_c = [probability(logits_of(model, s.image, flip_tta)) for s in controls]
    grid = []
    for t in THRESHOLDS:
        pat = []
        for prob, s in zip(probs_p, patients):
            labels, areas, peaks = components(prob, t)
            truth = s.label > 0.5
            overlap = np.bincount(labels[truth], minlength=len(areas) + 1)[1:] if len(areas) else np.zeros(0)
            pat.append((areas, peaks, overlap, float(truth.sum())))
        ctl = [components(prob, t)[1:] for prob in probs_c]
        for seed in SEEDS:
            if seed is not None and seed <= t:
                continue
            for a in MIN_AREAS:
                pp = PostProcess(t, a, seed, flip_tta)
                dices = []
                for areas, peaks, overlap, truth_px in pat:
                    keep = keep_components(areas, peaks, pp)
                    denom = areas[keep].sum() + truth_px
                    dices.append(1.0 if denom == 0 else 2.0 * overlap[keep].sum() / denom)
                clean = float(np.mean([not keep_components(areas, peaks, pp).any() for areas, peaks in ctl]))
                grid.append({"flipTta": flip_tta, "threshold": t, "seedThreshold": seed, "minComponentAreaPx": a,
                             "train_patient_dice": round(float(np.mean(dices)), 4), "train_controls_clean": round(clean, 4)})
    return grid


def best(grid: list[dict]) -> dict:
    ok = [g for g in grid if g["train_controls_clean"] >= CLEAN_CONTROLS_REQUIRED] or grid
    return max(ok, key=lambda g: (g["train_patient_dice"], -g["threshold"], -g["minComponentAreaPx"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-flip", action="store_true", help="skip the test-time-flip half of the grid")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = load_weights(Path(args.checkpoint))
    patients, controls = list_cases(Path(args.data))
    train_p, train_c = load(split(patients)[0]), load(split(controls)[0])
    plain = score_grid(model, train_p, train_c, flip_tta=False)
    flipped = [] if args.no_flip else score_grid(model, train_p, train_c, flip_tta=True)
    choice = best(plain)
    if flipped and best(flipped)["train_patient_dice"] >= choice["train_patient_dice"] + FLIP_MIN_GAIN:
        choice = best(flipped)
    print(json.dumps({"grid": plain + flipped, "choice": choice,
                      "rule": f"controls clean >= {CLEAN_CONTROLS_REQUIRED} on training, then best Dice; "
                              f"flip only if it gains >= {FLIP_MIN_GAIN}"}, indent=1))


if __name__ == "__main__":
    main()
