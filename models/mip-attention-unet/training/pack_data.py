"""Writes a compact, lossless copy of the MIP-PET data set for carrying to a GPU machine.

  /usr/bin/python3 pack_data.py --data ../../../../shared/data/mip-pet --out ../../../.gpu-data/mip-pet

The case's PNGs are RGBA with the grey value in every colour channel (62 MB); data.py reads only that grey value
(images) and whether it is above 127 (labels). The copy keeps exactly that: images as 8-bit grey PNGs, labels as
1-bit PNGs (33 MB), in the same folders under the same names, so train.py and evaluate.py read it as they read the
original and see the same arrays. A device machine takes at most 64 MiB of working tree, the repository included.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from data import read_input, read_label


def pack_file(source: Path, target: Path, is_label: bool) -> None:
    grey = Image.open(source).convert("L")
    target.parent.mkdir(parents=True, exist_ok=True)
    packed = Image.fromarray(np.asarray(grey) > 127) if is_label else grey
    packed.save(target, optimize=True)
    same = (np.array_equal(read_label(source), read_label(target)) if is_label
            else np.array_equal(read_input(source), read_input(target)))
    if not same:
        raise SystemExit(f"{target} does not read back as {source}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, type=Path, help="the case's folder (patients/, controls/)")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    sources = sorted(args.data.rglob("*.png"))
    if not sources:
        raise SystemExit(f"no PNG files under {args.data}")
    for source in sources:
        relative = source.relative_to(args.data)
        pack_file(source, args.out / relative, "labels" in relative.parts)
    size = sum(p.stat().st_size for p in args.out.rglob("*.png"))
    print(json.dumps({"files": len(sources), "bytes": size, "out": str(args.out)}))


if __name__ == "__main__":
    main()
