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
from scipy import ndimage

from metrics import EIGHT_CONNECTED


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


@dataclass(frozen=True)
class InputNormalisation:
    """Per-image intensity normalisation (model.json input.intensity.normalisation): every image is scaled so that
    the median of its body pixels (x > body_level) lands on body_median, then clipped to [0, 1].

    Why: the PNGs carry no units, so the SUV-to-x mapping the service renders with (suvWhite) is an estimate
    (+-20 %), and the network's answer on a real study swung with it (model card: 0.87-0.996 on the GE sarcoma
    over -20 %..+25 %). A study's median body pixel in the MIP (soft tissue and blood pool along each ray) is a
    stable anatomical reference, so anchoring it makes the input independent of a global intensity scale, the
    estimate's error included; the +-30 % window augmentation then covers what a scale does not explain.
    The median is numpy's (the mean of the two middle values for an even count), which the TypeScript side repeats.
    """
    body_median: float
    body_level: float = 0.02

    def __post_init__(self) -> None:
        if not (0 < self.body_level < self.body_median < 1):
            raise ValueError(f"input normalisation needs 0 < body_level < body_median < 1, got {self}")

    def apply(self, image: np.ndarray) -> np.ndarray:
        body = image[image > self.body_level]
        if body.size == 0:  # no body at all (a blank image): nothing to anchor, left as it is
            return image
        return np.clip(image * np.float32(self.body_median / float(np.median(body))), 0.0, 1.0).astype(np.float32)


def input_normalisation(config: dict | None) -> InputNormalisation | None:
    """The normalisation a training configuration asks for ("input_normalisation"), or None (the images as read)."""
    spec = (config or {}).get("input_normalisation")
    return InputNormalisation(**spec) if spec else None


def normalise(samples: list["Sample"], norm: InputNormalisation | None) -> list["Sample"]:
    """Applies the normalisation to each sample's image in place (a no-op for None); returns the samples."""
    if norm is not None:
        for s in samples:
            s.image = norm.apply(s.image)
    return samples


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
    # Lesion pasting (paste_lesions): the chance that an image gets lesions of other patients, how many at most,
    # their scale and uptake gain ranges, and the smallest lesion (px) taken into the bank.
    paste_p: float = 0.0
    paste_max: int = 2
    paste_scale: tuple[float, float] = (0.8, 2.0)
    paste_gain: tuple[float, float] = (0.7, 1.3)
    paste_min_area: int = 20
    paste_max_area: int = 5000  # a scaled lesion is kept under this many pixels (the bank holds a few very large ones)
    # A pasted pixel is labelled (and drawn) only where it is this much hotter than the image: a lesion that barely
    # differs from what is there would be a label the image does not show.
    paste_contrast: float = 0.04

    def __post_init__(self) -> None:
        if self.paste_max < 1 or not (0 < self.paste_scale[0] <= self.paste_scale[1]) or self.paste_gain[0] > self.paste_gain[1]:
            raise ValueError(f"paste settings: paste_max >= 1 and ordered positive ranges needed, got {self}")


# Network input above which a pixel is body rather than air (air is 0; soft tissue ~0.1-0.25 in every image).
BODY_LEVEL = 0.05


@dataclass(frozen=True)
class Lesion:
    """One tumour of a training patient, cut out: its uptake inside its own outline, 0 around it."""
    uptake: np.ndarray
    mask: np.ndarray


def lesion_bank(samples: list[Sample], min_area: int) -> list[Lesion]:
    """Every 8-connected tumour of at least min_area pixels in the samples' labels."""
    bank = []
    for s in samples:
        labels, _ = ndimage.label(s.label > 0.5, structure=EIGHT_CONNECTED)
        for k, box in enumerate(ndimage.find_objects(labels), start=1):
            if box is None:
                continue
            mask = labels[box] == k
            if mask.sum() >= min_area:
                bank.append(Lesion(np.where(mask, s.image[box], 0.0).astype(np.float32), mask))
    return bank


def paste_lesions(image: np.ndarray, label: np.ndarray, false_positives: np.ndarray | None, bank: list[Lesion],
                  cfg: AugmentConfig, rng: random.Random):
    """Copies 1..paste_max lesions of the bank (any training patient's, this one's included), scaled and with
    their uptake scaled, onto random body pixels.

    A MIP keeps the larger uptake along each ray, so an extra lesion in the body shows only where it is hotter
    than what the image already holds: the pasted uptake is max-composited, and only those pixels, inside the
    body, are labelled tumour (a lesion pasted over the bladder adds nothing and no label). Large scales make
    masses bigger than most in the data, in places (limbs, trunk wall) where the data has few: the GE sarcoma's
    case. Returns new (image, label, false_positives); the inputs are not changed.
    """
    image, label = image.copy(), label.copy()
    body = np.argwhere(image > BODY_LEVEL)
    if not bank or not len(body):
        return image, label, false_positives
    for _ in range(rng.randint(1, cfg.paste_max)):
        lesion = rng.choice(bank)
        scale = min(rng.uniform(*cfg.paste_scale), float(np.sqrt(cfg.paste_max_area / lesion.mask.sum())))
        # Normalised interpolation: the zeros around the lesion in its box must not darken its edge.
        weight = ndimage.zoom(lesion.mask.astype(np.float32), scale, order=1)
        mask = weight > 0.5
        uptake = ndimage.zoom(lesion.uptake, scale, order=1) / np.maximum(weight, 1e-6)
        uptake = np.clip(uptake * rng.uniform(*cfg.paste_gain), 0.0, 1.0)
        cy, cx = body[rng.randrange(len(body))]
        y0, x0 = int(cy) - mask.shape[0] // 2, int(cx) - mask.shape[1] // 2
        # The part of the lesion's box that falls inside the image.
        ty0, tx0 = max(0, y0), max(0, x0)
        ty1, tx1 = min(image.shape[0], y0 + mask.shape[0]), min(image.shape[1], x0 + mask.shape[1])
        if ty1 <= ty0 or tx1 <= tx0:
            continue
        src = (slice(ty0 - y0, ty1 - y0), slice(tx0 - x0, tx1 - x0))
        region = image[ty0:ty1, tx0:tx1]
        # Only inside the body: a lesion's projection never falls outside the body's silhouette.
        visible = mask[src] & (uptake[src] > region + cfg.paste_contrast) & (region > BODY_LEVEL)
        region[visible] = uptake[src][visible]
        label[ty0:ty1, tx0:tx1][visible] = 1.0
    if false_positives is not None:
        false_positives = np.where(label > 0.5, 0.0, false_positives).astype(np.float32)
    return image, label, false_positives


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


def augment(sample: Sample, ph: int, pw: int, cfg: AugmentConfig, rng: random.Random, bank: list[Lesion] | None = None):
    image, label, false_positives = sample.image, sample.label, sample.false_positives
    if bank and rng.random() < cfg.paste_p:
        image, label, false_positives = paste_lesions(image, label, false_positives, bank, cfg, rng)
    layers = [image, label]
    if false_positives is not None:
        layers.append(false_positives)
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
