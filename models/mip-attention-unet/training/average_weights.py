"""Averages the parameters of released weights of one network (a uniform "model soup") into one checkpoint.

  /usr/bin/python3 average_weights.py --weights v060.pt ../model.pt --config configs/cpu-settle.json \
      --data ../../../../shared/data/mip-pet --out runs/soup/soup.pt

Only weights fine-tuned from one another (one basin) average into a working network; the result has the same
graph, so the same inference cost, as each of them. BatchNorm statistics are measured again over training batches
(train.recompute_batchnorm, as for the in-run weight average), since the mean of two networks' running statistics
does not describe the averaged network. The checkpoint carries the configuration it was measured with, so that
tune_postprocess.py, evaluate.py and release.sh read it like any training checkpoint.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch

from data import AugmentConfig, input_normalisation, lesion_bank, list_cases, load, normalise, split
from model import AttentionUNet
from train import WeightAverage, recompute_batchnorm
from weights import load_weights


def average_parameters(models: list[AttentionUNet]) -> AttentionUNet:
    """A network of the first model's shape whose every parameter is the mean over `models` (buffers: the first's):
    the in-run weight average (train.WeightAverage), fed released networks instead of training steps."""
    shapes = {(m.channels, m.refine_channels, m.refine_features) for m in models}
    if len(shapes) != 1:
        raise SystemExit(f"weights of different networks cannot be averaged: {sorted(shapes)}")
    average = WeightAverage()
    for m in models:
        average.add(m)
    return average.model_like(models[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", nargs="+", required=True, help="checkpoints or released model.pt files, 2 or more")
    ap.add_argument("--config", required=True, help="training configuration whose batches measure BatchNorm")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batchnorm-batches", type=int, default=100)
    ap.add_argument("--seed", type=int, required=True)
    args = ap.parse_args()
    if len(args.weights) < 2:
        raise SystemExit("--weights needs at least two files")
    cfg = json.loads(Path(args.config).read_text())
    torch.set_num_threads(cfg.get("threads", 2))
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    averaged = average_parameters([load_weights(Path(w))[0] for w in args.weights])
    if tuple(cfg["channels"]) != averaged.channels:
        raise SystemExit(f"--config channels {cfg['channels']} != weights {averaged.channels}")
    patients, controls = list_cases(Path(args.data))
    norm = input_normalisation(cfg)
    samples = {"patients": normalise(load(split(patients)[0]), norm),
               "controls": normalise(load(split(controls)[0]), norm)}
    aug = AugmentConfig(**cfg.get("augment", {}))
    bank = lesion_bank(samples["patients"], aug.paste_min_area) if aug.paste_p > 0 else []
    recompute_batchnorm(averaged, samples, cfg, aug, rng, args.batchnorm_batches, bank)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": averaged.state_dict(), "config": cfg, "step": 0,
                "averaged_from": [str(w) for w in args.weights], "batchnorm_batches": args.batchnorm_batches,
                "seed": args.seed}, out)
    print(json.dumps({"out": str(out), "averaged_from": args.weights, "batchnorm_batches": args.batchnorm_batches}))


if __name__ == "__main__":
    main()
