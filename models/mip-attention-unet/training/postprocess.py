"""From network output to the shipped mask, exactly as the TypeScript inference does it (model.json "output").

1. Optional test-time flip: the logits of the image and of its left-right mirror (mirrored back) are averaged.
   A body is close to left-right symmetric, so the mirror is a second, nearly independent look at each lesion.
2. Candidate tumour: sigmoid(logit) > threshold, split into 8-connected components.
3. A component is kept when it has at least min_area pixels AND its most confident pixel reaches
   seed_threshold (hysteresis). Physiological uptake that the network half-believes is tumour gives large,
   lukewarm regions; small lesions the network is sure of survive, which an area filter alone would drop.
4. Optional, once an image is confirmed: when at least one component passes step 3, the image is taken to be a
   cancer patient's, and every component with at least confirmed_min_area pixels whose peak reaches
   confirmed_seed_threshold is kept as well. FDG-avid cancer is often multifocal, and the strict rule of step 3,
   needed to keep healthy people clean, drops most small metastases beside a confident primary. An image
   with no confirming component stays empty, so the share of clean controls is exactly that of step 3.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from data import pad_to_multiple
from metrics import EIGHT_CONNECTED


@dataclass(frozen=True)
class PostProcess:
    threshold: float = 0.5
    min_area: int = 0
    seed_threshold: float | None = None  # None: the threshold itself (no hysteresis)
    flip_tta: bool = False
    # Step 4; None: as strict as step 3 (no separate rule for confirmed images).
    confirmed_seed_threshold: float | None = None
    confirmed_min_area: int | None = None

    @staticmethod
    def from_output(output: dict, flip_tta: bool = False) -> "PostProcess":
        """From model.json "output" (threshold, minComponentAreaPx, seedThreshold?, confirmedImage?)."""
        confirmed = output.get("confirmedImage", {})
        return PostProcess(output["threshold"], output["minComponentAreaPx"], output.get("seedThreshold"), flip_tta,
                           confirmed.get("seedThreshold"), confirmed.get("minComponentAreaPx"))


@torch.no_grad()
def logits_of(model, image: np.ndarray, flip_tta: bool, device="cpu") -> np.ndarray:
    model.eval()
    x, (h, w) = pad_to_multiple(torch.from_numpy(image)[None, None].to(device), model.padding_multiple)
    if flip_tta:
        # Mirror the unpadded image, then pad: both looks see the same zero border at bottom/right.
        xm, _ = pad_to_multiple(torch.from_numpy(np.ascontiguousarray(image[:, ::-1]))[None, None].to(device),
                                model.padding_multiple)
        out = model(torch.cat([x, xm]))
        direct = out[0, 0, :h, :w]
        mirrored = torch.flip(out[1, 0, :h, :w], dims=[1])
        return ((direct + mirrored) / 2).cpu().numpy()
    return model(x)[0, 0, :h, :w].cpu().numpy()


def probability(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def components(prob: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, area per component, peak probability per component); component k has label k + 1."""
    labels, n = ndimage.label(prob > threshold, structure=EIGHT_CONNECTED)
    if n == 0:
        return labels, np.zeros(0), np.zeros(0)
    index = np.arange(1, n + 1)
    return labels, ndimage.sum(np.ones_like(prob), labels, index), ndimage.maximum(prob, labels, index)


def keep_components(areas: np.ndarray, peaks: np.ndarray, pp: PostProcess) -> np.ndarray:
    seed = pp.threshold if pp.seed_threshold is None else pp.seed_threshold
    confirming = (areas >= pp.min_area) & (peaks >= seed)
    if not confirming.any():
        return confirming
    confirmed_seed = seed if pp.confirmed_seed_threshold is None else pp.confirmed_seed_threshold
    confirmed_area = pp.min_area if pp.confirmed_min_area is None else pp.confirmed_min_area
    return confirming | ((areas >= confirmed_area) & (peaks >= confirmed_seed))


def mask_of(prob: np.ndarray, pp: PostProcess) -> np.ndarray:
    labels, areas, peaks = components(prob, pp.threshold)
    keep = np.concatenate([[False], keep_components(areas, peaks, pp)])
    return keep[labels]
