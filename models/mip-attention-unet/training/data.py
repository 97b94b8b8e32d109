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


def _affine(img: torch.Tensor, lab: torch.Tensor, scale: float, angle: float, flip: bool):
    """Rotates/scales about the centre; output keeps the input's size scaled by `scale`."""
    h, w = img.shape[-2:]
    oh, ow = max(32, round(h * scale)), max(32, round(w * scale))
    cos, sin = math.cos(angle), math.sin(angle)
    sx = -1.0 if flip else 1.0
    # affine_grid works in normalised coordinates; correct the rotation for the aspect ratio.
    theta = torch.tensor([[cos * sx, -sin * h / w, 0.0], [sin * w / h * sx, cos, 0.0]], dtype=torch.float32)
    grid = F.affine_grid(theta[None], [1, 1, oh, ow], align_corners=False)
    both = torch.stack([img, lab])[:, None]
    out = F.grid_sample(both, grid.expand(2, -1, -1, -1), mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[0, 0], (out[1, 0] > 0.5).float()


def _patch(img: torch.Tensor, lab: torch.Tensor, ph: int, pw: int, rng: random.Random, focus: bool):
    """Crops (or zero-pads) to ph x pw; when focus, the patch contains a random tumour pixel."""
    pad_h, pad_w = max(0, ph - img.shape[0]), max(0, pw - img.shape[1])
    if pad_h or pad_w:
        top, left = rng.randint(0, pad_h), rng.randint(0, pad_w)
        pads = (left, pad_w - left, top, pad_h - top)
        img, lab = F.pad(img, pads), F.pad(lab, pads)
    h, w = img.shape
    ys, xs = (torch.nonzero(lab, as_tuple=True) if focus else (None, None))
    if focus and ys is not None and len(ys) > 0:
        k = rng.randrange(len(ys))
        cy, cx = int(ys[k]), int(xs[k])
        y0 = min(max(0, cy - rng.randint(0, ph - 1)), h - ph)
        x0 = min(max(0, cx - rng.randint(0, pw - 1)), w - pw)
    else:
        y0, x0 = rng.randint(0, h - ph), rng.randint(0, w - pw)
    return img[y0 : y0 + ph, x0 : x0 + pw], lab[y0 : y0 + ph, x0 : x0 + pw]


def augment(sample: Sample, ph: int, pw: int, cfg: AugmentConfig, rng: random.Random):
    img, lab = torch.from_numpy(sample.image), torch.from_numpy(sample.label)
    if rng.random() < cfg.height_crop_p:
        h = img.shape[0]
        keep = rng.randint(int(h * 0.5), h)
        top = rng.randint(0, h - keep)
        img, lab = img[top : top + keep], lab[top : top + keep]
    scale = 1.0 + rng.uniform(-cfg.scale, cfg.scale)
    angle = math.radians(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
    img, lab = _affine(img, lab, scale, angle, rng.random() < 0.5)
    img = torch.clamp(img * (1.0 + rng.uniform(-cfg.window, cfg.window)), 0.0, 1.0)
    img = img ** (1.0 + rng.uniform(-cfg.gamma, cfg.gamma))
    return _patch(img, lab, ph, pw, rng, rng.random() < cfg.lesion_focus_p)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Zero-pads (N,C,H,W) at the bottom/right to a multiple; returns the original (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph)), (h, w)
