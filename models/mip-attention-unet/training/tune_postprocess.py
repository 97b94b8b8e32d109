"""Chooses the output post-processing on the TRAINING split, never on validation.

  /usr/bin/python3 tune_postprocess.py --checkpoint runs/cpu/best.pt --data ../../../../shared/data/mip-pet

Grid: test-time flip (off/on) x threshold x seed threshold (hysteresis, postprocess.py) x minimum component area
x the laxer seed and area for the other regions of a confirmed image (postprocess.py step 4; null = as strict as
step 3).
The rule (fixed before looking at any figure): keep the settings that leave at least 90 % of the training
controls clean (stricter than the 80 % asked of validation, because the network has seen these controls), take
the one with the highest mean patient Dice (to 4 decimals; ties go to more clean controls, then to the stricter
setting); the test-time flip doubles inference time, so it is chosen only when it beats the best setting without
it by at least 0.01 Dice. Prints the choice, the best setting without step 4 (for comparison) and the 20 best
settings as JSON; --grid FILE writes the whole grid. release.sh takes the choice through its environment.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from data import list_cases, load, normalise, split
from postprocess import PostProcess, components, keep_components, logits_of, probability
from weights import input_normalisation_of, load_weights

THRESHOLDS = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
SEEDS = [None, 0.8, 0.9, 0.95, 0.98, 0.99]
MIN_AREAS = [0, 10, 20, 40, 80, 120, 160]
# Step 4's seeds: besides these, the threshold itself (any region, area rule only); only values above the
# threshold and below the seed threshold are tried, as others repeat a setting.
CONFIRMED_SEEDS = [0.3, 0.5, 0.7, 0.8, 0.9, 0.95]
CONFIRMED_AREAS = [None, 0, 10, 20, 40]  # None: the minimum area; only those below it are tried
CLEAN_CONTROLS_REQUIRED = 0.9
FLIP_MIN_GAIN = 0.01


def patient_dice(pat: list[tuple], pp: PostProcess) -> float:
    dices = []
    for areas, peaks, overlap, truth_px in pat:
        keep = keep_components(areas, peaks, pp)
        denom = areas[keep].sum() + truth_px
        dices.append(1.0 if denom == 0 else 2.0 * overlap[keep].sum() / denom)
    return float(np.mean(dices))


def settings(t: float, flip_tta: bool):
    """Every PostProcess of the grid at threshold t, each once; step 4 only where it is laxer than step 3
    (None: as strict as step 3; the threshold as seed: any region above it, by area alone)."""
    for seed in SEEDS:
        if seed is not None and seed <= t:
            continue
        for a in MIN_AREAS:
            laxer_seeds = [None] + ([t] if seed is not None else []) + [c for c in CONFIRMED_SEEDS if t < c < (seed or t)]
            for cs in laxer_seeds:
                for ca in CONFIRMED_AREAS:
                    if ca is not None and ca >= a:
                        continue
                    yield PostProcess(t, a, seed, flip_tta, cs, ca)


def score_grid(model, patients, controls, flip_tta: bool) -> list[dict]:
    """Dice of every setting from one forward pass per image: per component, its area, peak and overlap with the
    truth are enough to score any choice of components."""
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
        for pp in settings(t, flip_tta):
            # Step 4 never changes an image without a confirming region, so controls clean depends on step 3 only.
            clean = float(np.mean([not keep_components(areas, peaks, pp).any() for areas, peaks in ctl]))
            grid.append({"flipTta": flip_tta, "threshold": t, "seedThreshold": pp.seed_threshold,
                         "minComponentAreaPx": pp.min_area, "confirmedSeedThreshold": pp.confirmed_seed_threshold,
                         "confirmedMinComponentAreaPx": pp.confirmed_min_area,
                         "train_patient_dice": round(patient_dice(pat, pp), 4), "train_controls_clean": round(clean, 4)})
    return grid


def strictness(g: dict) -> tuple:
    """The tie-break among equal scores, compared in this order: step 4's seed, step 4's area, the seed, the area, the
    threshold, each larger first (None: as strict as step 3)."""
    seed = g["seedThreshold"] or g["threshold"]
    cs = seed if g["confirmedSeedThreshold"] is None else g["confirmedSeedThreshold"]
    ca = g["minComponentAreaPx"] if g["confirmedMinComponentAreaPx"] is None else g["confirmedMinComponentAreaPx"]
    return (cs, ca, seed, g["minComponentAreaPx"], g["threshold"])


def best(grid: list[dict]) -> dict:
    """The rule's choice. Where no setting keeps CLEAN_CONTROLS_REQUIRED of the training controls clean, the most
    Dice of the whole grid, marked as breaking the rule (and said on stderr) rather than chosen silently."""
    ok = [g for g in grid if g["train_controls_clean"] >= CLEAN_CONTROLS_REQUIRED]
    if ok:
        return max(ok, key=lambda g: (g["train_patient_dice"], g["train_controls_clean"], strictness(g)))
    chosen = max(grid, key=lambda g: (g["train_patient_dice"], g["train_controls_clean"], strictness(g)))
    return {**chosen, "breaksCleanControlRule": True}


def keeps_rule(g: dict) -> bool:
    return not g.get("breaksCleanControlRule", False)


def choose(plain_choice: dict, flipped_choice: dict | None) -> dict:
    """Plain or flipped: one that keeps the clean-control rule before one that breaks it; between two alike, the flip
    only where it gains FLIP_MIN_GAIN Dice."""
    if flipped_choice is None or keeps_rule(plain_choice) and not keeps_rule(flipped_choice):
        return plain_choice
    if keeps_rule(flipped_choice) and not keeps_rule(plain_choice):
        return flipped_choice
    gains = flipped_choice["train_patient_dice"] >= plain_choice["train_patient_dice"] + FLIP_MIN_GAIN
    return flipped_choice if gains else plain_choice


def without_step4(grid: list[dict]) -> list[dict]:
    return [g for g in grid if g["confirmedSeedThreshold"] is None and g["confirmedMinComponentAreaPx"] is None]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-flip", action="store_true", help="skip the test-time-flip half of the grid")
    ap.add_argument("--grid", type=Path, help="write every setting's training scores here (JSON)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, meta = load_weights(Path(args.checkpoint))
    norm = input_normalisation_of(Path(args.checkpoint), meta)
    patients, controls = list_cases(Path(args.data))
    train_p, train_c = normalise(load(split(patients)[0]), norm), normalise(load(split(controls)[0]), norm)
    plain = score_grid(model, train_p, train_c, flip_tta=False)
    flipped = [] if args.no_flip else score_grid(model, train_p, train_c, flip_tta=True)
    choice = choose(best(plain), best(flipped) if flipped else None)
    if not keeps_rule(choice):
        print(f"warning: no setting keeps {CLEAN_CONTROLS_REQUIRED:.0%} of the training controls clean; chosen by Dice "
              "alone, which the rule does not allow: do not ship this choice as the rule's", file=sys.stderr)
    grid = plain + flipped
    if args.grid:
        args.grid.write_text(json.dumps(grid))
    ok = [g for g in grid if g["train_controls_clean"] >= CLEAN_CONTROLS_REQUIRED]
    print(json.dumps({"choice": choice, "best_without_step_4_or_flip": best(without_step4(plain)),
                      "top": sorted(ok, key=lambda g: -g["train_patient_dice"])[:20], "settings": len(grid),
                      "rule": f"controls clean >= {CLEAN_CONTROLS_REQUIRED} on training, then best Dice "
                              f"(ties: more clean controls, then stricter); flip only if it gains >= {FLIP_MIN_GAIN}"},
                     indent=1))


if __name__ == "__main__":
    main()
