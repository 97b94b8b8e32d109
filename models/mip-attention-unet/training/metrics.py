"""The case's metrics, computed honestly: per-image Dice over cancer patients only, controls apart."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """2TP / (2TP + FP + FN); 1.0 when both are empty (only used for the seed-style figure)."""
    tp = float(np.logical_and(pred, truth).sum())
    denom = float(pred.sum() + truth.sum())
    return 1.0 if denom == 0 else 2.0 * tp / denom


def lesion_hits(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """(lesions touched by the prediction, lesions) with lesions = 8-connected components of truth."""
    labels, n = ndimage.label(truth, structure=EIGHT_CONNECTED)
    if n == 0:
        return 0, 0
    hit = np.unique(labels[np.logical_and(pred, labels > 0)])
    return int(len(hit)), int(n)


def seed_style_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """The inflated figure of the seed project: Dice over RGBA channels (alpha always 255 -> 1.0)
    on every image, controls included (empty vs empty -> 1.0)."""
    rgb = dice(pred, truth)
    return (3 * rgb + 1.0) / 4.0


def summarise(patient_results: list[tuple[np.ndarray, np.ndarray]], control_preds: list[np.ndarray]) -> dict:
    dices = np.array([dice(p, t) for p, t in patient_results]) if patient_results else np.zeros(0)
    hits = [lesion_hits(p, t) for p, t in patient_results]
    fp = np.array([float(p.sum()) for p in control_preds]) if control_preds else np.zeros(0)
    seed = [seed_style_dice(p, t) for p, t in patient_results] + [
        seed_style_dice(p, np.zeros_like(p)) for p in control_preds
    ]
    return {
        "patients": len(patient_results),
        "controls": len(control_preds),
        "mean_dice": float(dices.mean()) if len(dices) else 0.0,
        "median_dice": float(np.median(dices)) if len(dices) else 0.0,
        "dice_quartiles": [float(q) for q in np.quantile(dices, [0.25, 0.5, 0.75])] if len(dices) else [],
        "dice_below_0_5": int((dices < 0.5).sum()),
        "lesion_sensitivity": (sum(h for h, _ in hits) / max(1, sum(n for _, n in hits))),
        "lesions": int(sum(n for _, n in hits)),
        "controls_clean_share": float((fp == 0).mean()) if len(fp) else 0.0,
        "control_fp_pixels_mean": float(fp.mean()) if len(fp) else 0.0,
        "seed_style_inflated_dice": float(np.mean(seed)) if seed else 0.0,
    }
