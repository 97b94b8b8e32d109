"""DM i AI 2023 MIP-PET data: loading, the fixed patient-level split, and augmentation.

Network input convention (also written to model.json): one channel, x = (255 - grey) / 255, so air is 0
and high FDG uptake approaches 1. The PNGs are inverted grey (uptake dark), R = G = B, alpha 255.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


@dataclass(frozen=True)
class Case:
    case_id: str
    image_path: Path
    label_path: Path | None  # None for healthy controls


def read_input(path: Path) -> np.ndarray:
    """Reads a DM i AI MIP PNG (RGBA or grey) as float32 network input in [0, 1] (uptake high)."""
    grey = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    return (255.0 - grey) / 255.0


def read_label(path: Path) -> np.ndarray:
    return (np.asarray(Image.open(path).convert("L")) > 127).astype(np.float32)


def is_validation(case_number: int) -> bool:
    """The fixed split: every fifth case (number % 5 == 4) is held out, for patients and controls alike."""
    return case_number % 5 == 4


def list_cases(root: Path) -> tuple[list[Case], list[Case]]:
    """Returns (patients, controls) found under root (../shared/data/mip-pet)."""
    patients = [
        Case(p.stem, p, root / "patients" / "labels" / p.name.replace("patient_", "segmentation_"))
        for p in sorted((root / "patients" / "imgs").glob("patient_*.png"))
    ]
    controls = [Case(p.stem, p, None) for p in sorted((root / "controls" / "imgs").glob("control_*.png"))]
    return patients, controls


def split(cases: list[Case]) -> tuple[list[Case], list[Case]]:
    train = [c for c in cases if not is_validation(int(c.case_id.split("_")[1]))]
    val = [c for c in cases if is_validation(int(c.case_id.split("_")[1]))]
    return train, val


@dataclass
class Sample:
    image: np.ndarray
    label: np.ndarray
    # Pixels the current network calls tumour where there is none (train.py refreshes them while training);
    # patches centred on them teach the network its own false positives (hard-negative mining).
    false_positives: np.ndarray | None = None


def load(cases: list[Case]) -> list[Sample]:
    out = []
    for c in cases:
        img = read_input(c.image_path)
        lab = read_label(c.label_path) if c.label_path else np.zeros_like(img)
        out.append(Sample(img, lab))
    return out


@dataclass(frozen=True)
class AugmentConfig:
    scale: float = 0.2  # +-20 % isotropic
    rotate_deg: float = 7.0
    window: float = 0.3  # intensity scale +-30 %
    gamma: float = 0.3  # gamma in [1 - g, 1 + g]
    height_crop_p: float = 0.3  # chance of simulating a partial-body acquisition
    lesion_focus_p: float = 0.5  # chance a patch is centred on a tumour pixel
    hard_negative_p: float = 0.0  # chance a patch is centred on a false-positive pixel (when the sample has any)


def _affine(maps: torch.Tensor, scale: float, angle: float, flip: bool):
    """Rotates/scales (K,H,W) maps about the centre; the output is the input's size scaled by `scale`.
    Map 0 is the image (bilinear); the others are masks (re-binarised)."""
    h, w = maps.shape[-2:]
    oh, ow = max(32, round(h * scale)), max(32, round(w * scale))
    cos, sin = math.cos(angle), math.sin(angle)
    sx = -1.0 if flip else 1.0
    # affine_grid works in normalised coordinates; correct the rotation for the aspect ratio.
    theta = torch.tensor([[cos * sx, -sin * h / w, 0.0], [sin * w / h * sx, cos, 0.0]], dtype=torch.float32)
    grid = F.affine_grid(theta[None], [1, 1, oh, ow], align_corners=False)
    k = maps.shape[0]
    out = F.grid_sample(maps[:, None], grid.expand(k, -1, -1, -1), mode="bilinear", padding_mode="zeros",
                        align_corners=False)[:, 0]
    return torch.cat([out[:1], (out[1:] > 0.5).float()])


def _patch(img: torch.Tensor, lab: torch.Tensor, focus: torch.Tensor | None, ph: int, pw: int, rng: random.Random):
    """Crops (or zero-pads) to ph x pw; when a focus map with pixels is given, the patch contains one of them."""
    pad_h, pad_w = max(0, ph - img.shape[0]), max(0, pw - img.shape[1])
    if pad_h or pad_w:
        top, left = rng.randint(0, pad_h), rng.randint(0, pad_w)
        pads = (left, pad_w - left, top, pad_h - top)
        img, lab = F.pad(img, pads), F.pad(lab, pads)
        focus = F.pad(focus, pads) if focus is not None else None
    h, w = img.shape
    ys, xs = (torch.nonzero(focus, as_tuple=True) if focus is not None else (None, None))
    if ys is not None and len(ys) > 0:
        k = rng.randrange(len(ys))
        cy, cx = int(ys[k]), int(xs[k])
        y0 = min(max(0, cy - rng.randint(0, ph - 1)), h - ph)
        x0 = min(max(0, cx - rng.randint(0, pw - 1)), w - pw)
    else:
        y0, x0 = rng.randint(0, h - ph), rng.randint(0, w - pw)
    return img[y0 : y0 + ph, x0 : x0 + pw], lab[y0 : y0 + ph, x0 : x0 + pw]


def augment(sample: Sample, ph: int, pw: int, cfg: AugmentConfig, rng: random.Random):
    layers = [sample.image, sample.label]
    if sample.false_positives is not None:
        layers.append(sample.false_positives)
    maps = torch.from_numpy(np.stack(layers))
    if rng.random() < cfg.height_crop_p:
        h = maps.shape[1]
        keep = rng.randint(int(h * 0.5), h)
        top = rng.randint(0, h - keep)
        maps = maps[:, top : top + keep]
    scale = 1.0 + rng.uniform(-cfg.scale, cfg.scale)
    angle = math.radians(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
    maps = _affine(maps, scale, angle, rng.random() < 0.5)
    img, lab = maps[0], maps[1]
    img = torch.clamp(img * (1.0 + rng.uniform(-cfg.window, cfg.window)), 0.0, 1.0)
    img = img ** (1.0 + rng.uniform(-cfg.gamma, cfg.gamma))
    # A patch centres on tumour, on one of the network's false positives, or anywhere.
    pick = rng.random()
    if pick < cfg.lesion_focus_p:
        focus = lab
    elif pick < cfg.lesion_focus_p + cfg.hard_negative_p and len(maps) > 2:
        focus = maps[2]
    else:
        focus = None
    return _patch(img, lab, focus, ph, pw, rng)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Zero-pads (N,C,H,W) at the bottom/right to a multiple; returns the original (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph)), (h, w)
