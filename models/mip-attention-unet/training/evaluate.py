"""Evaluates a checkpoint on the fixed validation split and prints every figure the model card reports.

  /usr/bin/python3 evaluate.py --checkpoint runs/cpu/best.pt --data ../../../../shared/data/mip-pet
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from data import list_cases, load, normalise, split
from metrics import summarise
from postprocess import PostProcess, logits_of, mask_of, probability
from weights import input_normalisation_of, load_weights


def evaluate_model(model, val, device, threshold: float = 0.5, min_area: int = 0, pp: PostProcess | None = None) -> dict:
    return evaluate_postprocesses(model, val, device, [pp or PostProcess(threshold=threshold, min_area=min_area)])[0]


def evaluate_postprocesses(model, val, device, pps: list[PostProcess]) -> list[dict]:
    """The figures of each post-processing, from one forward pass per image and test-time-flip setting (one image's
    probabilities held at a time)."""
    flips = {pp.flip_tta for pp in pps}

    def masks_of(s) -> list[np.ndarray]:
        probs = {flip: probability(logits_of(model, s.image, flip, device)) for flip in flips}
        return [mask_of(probs[pp.flip_tta], pp) for pp in pps]

    patients = [(masks_of(s), s.label > 0.5) for s in val["patients"]]
    controls = [masks_of(s) for s in val["controls"]]
    return [summarise([(masks[k], truth) for masks, truth in patients], [masks[k] for masks in controls])
            for k in range(len(pps))]


def selection_score(m: dict) -> float:
    """Checkpoint choice: patient Dice, penalised when fewer than 80 % of controls are clean."""
    return m["mean_dice"] - max(0.0, 0.8 - m["controls_clean_share"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--min-area", type=int, default=None)
    ap.add_argument("--seed-threshold", type=float, default=None, help="keep a component only if its peak reaches this")
    ap.add_argument("--confirmed-seed-threshold", type=float, default=None,
                    help="in an image with a kept component, also keep the others whose peak reaches this")
    ap.add_argument("--confirmed-min-area", type=int, default=None,
                    help="in an image with a kept component, the minimum area of the others")
    ap.add_argument("--flip-tta", action="store_true", help="average the logits with those of the mirrored image")
    ap.add_argument("--suv-white-scale", type=float, default=1.0,
                    help="robustness check: show each image as a suvWhite this many times larger would have rendered "
                         "it (x / scale, clipped at 1 unless the model normalises; pixels saturated in the PNG stay at "
                         "1/scale above 1)")
    args = ap.parse_args()
    model, meta = load_weights(Path(args.checkpoint))
    patients, controls = list_cases(Path(args.data))
    val = {"patients": load(split(patients)[1]), "controls": load(split(controls)[1])}
    norm = input_normalisation_of(Path(args.checkpoint), meta)
    for s in val["patients"] + val["controls"]:
        # As the service renders: clamped at 1, except for a normalising model, which is given the MIP unclamped
        # and clamps after normalising (CoronalMipOptions.clampInput).
        s.image = (s.image / args.suv_white_scale if norm else np.minimum(s.image / args.suv_white_scale, 1.0)).astype(np.float32)
    normalise(val["patients"] + val["controls"], norm)
    min_area = meta.get("config", {}).get("min_component_area", 0) if args.min_area is None else args.min_area
    pp = PostProcess(args.threshold, min_area, args.seed_threshold, args.flip_tta,
                     args.confirmed_seed_threshold, args.confirmed_min_area)
    print(json.dumps(evaluate_model(model, val, "cpu", pp=pp), indent=1))


if __name__ == "__main__":
    main()
