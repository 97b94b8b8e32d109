"""Estimates how the DM i AI MIP PNGs map to SUV, from organ uptake (the PNGs carry no units).

  /usr/bin/python3 estimate_suv_scale.py --data ../../../../shared/data/mip-pet

Assumes a linear mapping x = clamp(SUV / suvWhite, 0, 1) with x = (255 - grey) / 255, and typical FDG
values of a coronal maximum projection: soft tissue / blood pool ~1.4 SUV along a ray, liver ~2.7 SUV
(max through the liver; mean liver SUV is ~2.0-2.5). Brain and bladder (SUV > 6) should then saturate.
The estimate is rough (+-20 %); training augments the intensity window by +-30 % to absorb it.

Only the training split's controls are read: suvWhite is part of the input contract the validation figures are
measured through, so it must not be estimated from the validation images (data.is_validation).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from data import is_validation, read_input

SOFT_TISSUE_MIP_SUV = 1.4
LIVER_MIP_SUV = 2.7
# control_000 (training split): the liver is the homogeneous region at image-left, rows 180-240, columns 140-200
# (checked by eye).
LIVER_BOX = ("control_000.png", (180, 240, 140, 200))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    controls = [p for p in sorted((Path(args.data) / "controls" / "imgs").glob("control_*.png"))
                if not is_validation(int(p.stem.split("_")[1]))]
    body_medians, saturated = [], []
    for path in controls:
        x = read_input(path)
        body = x[x > 0.02]
        body_medians.append(float(np.median(body)))
        saturated.append(float((x >= 0.999).mean()))
    name, (r0, r1, c0, c1) = LIVER_BOX
    liver_x = float(np.median(read_input(Path(args.data) / "controls" / "imgs" / name)[r0:r1, c0:c1]))
    body_x = float(np.median(body_medians))
    estimates = {"from_soft_tissue": SOFT_TISSUE_MIP_SUV / body_x, "from_liver": LIVER_MIP_SUV / liver_x}
    print(json.dumps({
        "training_controls": len(controls),
        "body_median_x": round(body_x, 3),
        "liver_median_x": round(liver_x, 3),
        "share_of_controls_with_saturated_pixels": round(float(np.mean(np.array(saturated) > 0)), 3),
        "suvWhite_estimates": {k: round(v, 2) for k, v in estimates.items()},
        "suvWhite": round(float(np.mean(list(estimates.values()))), 1),
    }, indent=1))


if __name__ == "__main__":
    main()
