"""Trains the MIP-PET Attention U-Net. Resumable: rerun the same command to continue from last.pt.

  /usr/bin/python3 train.py --config configs/cpu.json --data ../../../../shared/data/mip-pet --out runs/cpu
  /usr/bin/python3 train.py --config configs/cpu-finetune.json --init ../model.pt --data ... --out runs/cpu-finetune
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from data import AugmentConfig, augment, input_normalisation, lesion_bank, list_cases, load, normalise, split
from evaluate import evaluate_postprocesses, selection_score
from model import AttentionUNet
from postprocess import PostProcess, logits_of, probability
from weights import load_weights


def loss_fn(logits: torch.Tensor, target: torch.Tensor, focal_gamma: float, per_image_dice: float = 0.0) -> torch.Tensor:
    """Focal BCE plus a batch-global soft Dice (global so that empty control patches are well-defined).

    per_image_dice in [0, 1] moves that share of the Dice term to a mean of per-patch soft Dice over the patches
    that hold tumour: the case scores the mean of per-image Dice, where a patient with two small lesions counts
    as much as one with a large mass, and a batch-global Dice is dominated by the large masses.
    """
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    pt = p * target + (1 - p) * (1 - target)
    focal = ((1 - pt) ** focal_gamma * bce).mean()
    inter = (p * target).sum()
    soft_dice = 1 - (2 * inter + 1) / (p.sum() + target.sum() + 1)
    if per_image_dice > 0:
        dims = (1, 2, 3)
        has_tumour = target.sum(dim=dims) > 0
        if has_tumour.any():
            inter_i = (p * target).sum(dim=dims)[has_tumour]
            denom_i = (p.sum(dim=dims) + target.sum(dim=dims))[has_tumour]
            per_image = (1 - (2 * inter_i + 1) / (denom_i + 1)).mean()
            soft_dice = (1 - per_image_dice) * soft_dice + per_image_dice * per_image
    return focal * 10.0 + soft_dice


def make_batch(samples, cfg, aug, rng, bank=None):
    imgs, labs = [], []
    for _ in range(cfg["batch_size"]):
        pool = samples["patients"] if rng.random() < cfg["patient_fraction"] else samples["controls"]
        img, lab = augment(rng.choice(pool), cfg["patch_height"], cfg["patch_width"], aug, rng, bank)
        imgs.append(img)
        labs.append(lab)
    return torch.stack(imgs)[:, None], torch.stack(labs)[:, None]


# What forked batch workers read: set in the parent just before it forks them (BatchSource._start), so that each
# worker holds the images, with the false positives of the last mining, without pickling them once per batch.
_WORKER_INPUTS: dict = {}


def _init_batch_worker() -> None:
    torch.set_num_threads(1)  # the workers together fill the machine's cores; one thread each


def draw_batch(index: int) -> tuple[np.ndarray, np.ndarray]:
    """Batch `index` of a run with data workers, from its own random stream seeded by (seed, index): the same
    batch whichever worker draws it and however often the run was resumed. Sent back as float16 images and uint8
    labels (labels are 0/1 after augmentation; the images' rounding is under 0.05 %): a float32 batch of 16
    640x416 patches is 34 MB through a pipe, 13 MB this way."""
    w = _WORKER_INPUTS
    rng = random.Random(f"{w['cfg']['seed']}:{index}")
    x, y = make_batch(w["samples"], w["cfg"], w["aug"], rng, w["bank"])
    return x.numpy().astype(np.float16), y.numpy().astype(np.uint8)


class BatchSource:
    """Training batches. With data_workers 0 (the CPU configurations) each batch is drawn here, in turn, from the
    run's one random stream, whose state last.pt keeps. With data_workers > 0 (a GPU trains faster than one process
    augments), forked worker processes draw batches ahead of the step that needs them (draw_batch), 2 per worker
    in flight; refresh() forks them again after a hard-negative mining, so that patches centred on false positives
    use the new ones (batches drawn before it are dropped)."""

    def __init__(self, samples, cfg, aug, rng, bank) -> None:
        self.samples, self.cfg, self.aug, self.rng, self.bank = samples, cfg, aug, rng, bank
        self.workers = int(cfg.get("data_workers", 0))
        self.pool: ProcessPoolExecutor | None = None
        self.pending: deque[tuple[int, Future]] = deque()

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.workers:
            return make_batch(self.samples, self.cfg, self.aug, self.rng, self.bank)
        if self.pool is None or self.pending[0][0] != index:
            self._start(index)
        _, future = self.pending.popleft()
        following = self.pending[-1][0] + 1  # 2 per worker in flight, so one is left after the pop
        self.pending.append((following, self.pool.submit(draw_batch, following)))
        x, y = future.result()
        return torch.from_numpy(x).float(), torch.from_numpy(y).float()

    def refresh(self) -> None:
        """Call after the samples changed (mining): the next batch() forks new workers that see the change."""
        self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool, self.pending = None, deque()

    def _start(self, index: int) -> None:
        self.close()
        _WORKER_INPUTS.update(samples=self.samples, cfg=self.cfg, aug=self.aug, bank=self.bank)
        self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                        initializer=_init_batch_worker)
        self.pending = deque((i, self.pool.submit(draw_batch, i)) for i in range(index, index + 2 * self.workers))


def mine_false_positives(model, samples, device, threshold: float) -> dict:
    """Marks, on every training image, the pixels the network now calls tumour outside the truth (see
    data.Sample.false_positives). Returns counts for the log: images with any, and false-positive pixels."""
    images, pixels = 0, 0
    for sample in samples["patients"] + samples["controls"]:
        wrong = (probability(logits_of(model, sample.image, False, device)) > threshold) & (sample.label < 0.5)
        sample.false_positives = wrong.astype(np.float32) if wrong.any() else None
        images += int(wrong.any())
        pixels += int(wrong.sum())
    return {"images_with_false_positives": images, "false_positive_pixels": pixels}


def validation_score(model, val, device, cfg) -> tuple[dict, float]:
    """Figures at the raw threshold (0.5) and the score that picks best.pt. With "selection_postprocess" (keyword
    arguments of postprocess.PostProcess, e.g. the shipped model's output filter) the score is taken after that
    filter, as the service would output it, and its figures are logged under "postprocessed"; else at 0.5."""
    raw_pp = PostProcess(threshold=0.5, min_area=cfg.get("min_component_area", 0))
    chosen = cfg.get("selection_postprocess")
    if not chosen:
        raw = evaluate_postprocesses(model, val, device, [raw_pp])[0]
        return raw, selection_score(raw)
    raw, post = evaluate_postprocesses(model, val, device, [raw_pp, PostProcess(**chosen)])
    return {**raw, "postprocessed": post}, selection_score(post)


def learning_rate(cfg, progress: float) -> float:
    """Linear warm-up, then cosine to zero; with "swa", cosine down to the averaging rate by its start, then
    constant (the weights keep moving around the minimum, and their average lands nearer its centre)."""
    warm = cfg["warmup_fraction"]
    if progress < warm:
        return cfg["lr"] * progress / warm
    swa = cfg.get("swa")
    end, floor = (swa["start_fraction"], swa["lr"]) if swa else (1.0, 0.0)
    if progress >= end:
        return floor
    return floor + (cfg["lr"] - floor) * 0.5 * (1 + math.cos(math.pi * (progress - warm) / (end - warm)))


class WeightAverage:
    """Stochastic weight averaging (Izmailov et al. 2018): the running mean of the weights taken every few steps
    along the end of training. Only parameters are averaged; BatchNorm statistics of the average are measured
    again afterwards (recompute_batchnorm), since the mean of the running statistics does not describe it."""

    def __init__(self, saved: dict | None = None) -> None:
        self.mean: dict[str, torch.Tensor] = saved["mean"] if saved else {}
        self.count: int = saved["count"] if saved else 0

    @torch.no_grad()
    def add(self, model: torch.nn.Module) -> None:
        self.count += 1
        for name, p in model.named_parameters():
            if name not in self.mean:
                self.mean[name] = p.detach().clone()
            else:
                self.mean[name] += (p.detach() - self.mean[name]) / self.count

    def state(self) -> dict:
        return {"mean": self.mean, "count": self.count}

    def model_like(self, model: AttentionUNet) -> AttentionUNet:
        averaged = AttentionUNet(model.channels, model.refine_channels, model.refine_features)
        averaged = averaged.to(next(model.parameters()).device)
        averaged.load_state_dict(model.state_dict())
        with torch.no_grad():
            for name, p in averaged.named_parameters():
                p.copy_(self.mean[name])
        return averaged


@torch.no_grad()
def recompute_batchnorm(model, samples, cfg, aug, rng, batches: int, bank=None) -> None:
    """Running BatchNorm statistics as the plain mean over `batches` training batches (momentum None)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    device = next(model.parameters()).device
    for _ in range(batches):
        model(make_batch(samples, cfg, aug, rng, bank)[0].to(device))
    for m in norms:
        m.momentum = 0.1
    model.eval()


def initialise_from(model: AttentionUNet, path: Path) -> None:
    """Loads released weights into `model`. Weights without the refinement branch may start a model with one:
    the branch keeps its initialisation, whose zero output leaves the network computing what the weights did."""
    init_model, _ = load_weights(path)
    if init_model.channels != model.channels:
        raise SystemExit(f"--init weights have channels {init_model.channels}, config asks {model.channels}")
    if init_model.refine_channels not in (0, model.refine_channels):
        raise SystemExit(f"--init weights have refine_channels {init_model.refine_channels}, config asks {model.refine_channels}")
    if init_model.refine_channels and init_model.refine_features != model.refine_features:
        raise SystemExit(f"--init weights have refine_features {init_model.refine_features}, config asks {model.refine_features}")
    missing, unexpected = model.load_state_dict(init_model.state_dict(), strict=False)
    if unexpected or any(not k.startswith("refine.") for k in missing):
        raise SystemExit(f"--init weights do not fit: missing {missing}, unexpected {unexpected}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-steps", type=int, default=None, help="override (smoke tests)")
    ap.add_argument("--max-cases", type=int, default=None, help="use only the first N cases of each group (smoke tests)")
    ap.add_argument("--init", default=None,
                    help="start from these weights (a checkpoint or a released model.pt) instead of random ones; "
                         "ignored when OUT holds last.pt (resume wins)")
    args = ap.parse_args()
    cfg = json.loads(Path(args.config).read_text())
    if args.max_steps is not None:
        cfg["steps"] = args.max_steps
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.get("device") == "cuda" else "cpu")
    torch.set_num_threads(cfg.get("threads", 2))
    if device.type == "cuda":
        # Convolutions of fixed patch size: let cuDNN pick its fastest algorithms, and TensorFloat-32 matrix maths.
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True

    patients, controls = list_cases(Path(args.data))
    (tp, vp), (tc, vc) = split(patients), split(controls)
    if args.max_cases is not None:
        tp, vp, tc, vc = (cases[: args.max_cases] for cases in (tp, vp, tc, vc))
    # The network sees every image as the service will show it: normalised when the configuration says so.
    norm = input_normalisation(cfg)
    samples = {"patients": normalise(load(tp), norm), "controls": normalise(load(tc), norm)}
    val = {"patients": normalise(load(vp), norm), "controls": normalise(load(vc), norm)}
    print(f"train {len(tp)} patients {len(tc)} controls; val {len(vp)} patients {len(vc)} controls", flush=True)

    model = AttentionUNet(tuple(cfg["channels"]), cfg.get("refine_channels", 0), cfg.get("refine_features", 0)).to(device)
    if args.init is not None and not (out / "last.pt").exists():
        initialise_from(model, Path(args.init))
        print(f"initialised from {args.init}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    state = {"step": 0, "elapsed": 0.0, "best_score": -1.0, "history": []}
    rng = random.Random(cfg["seed"])
    torch.manual_seed(cfg["seed"])
    last = out / "last.pt"
    average = WeightAverage()
    if last.exists():
        ck = torch.load(last, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        rng.setstate(ck["rng"])
        average = WeightAverage(ck.get("swa"))
        print(f"resumed at step {state['step']} ({state['elapsed']:.0f} s)", flush=True)

    aug = AugmentConfig(**cfg.get("augment", {}))
    bank = lesion_bank(samples["patients"], aug.paste_min_area) if aug.paste_p > 0 else []
    if aug.paste_p > 0 and not bank:
        raise SystemExit(f"augment.paste_p > 0 but no training lesion has >= {aug.paste_min_area} px to paste")
    if bank:
        print(f"lesion bank: {len(bank)} lesions of >= {aug.paste_min_area} px", flush=True)
    batches = BatchSource(samples, cfg, aug, rng, bank)
    budget = cfg["max_minutes"] * 60.0
    t0, losses = time.time() - state["elapsed"], []
    # Hard negatives are refreshed every `hard_negative_every` steps, and at once on a start or resume.
    mine_every = cfg.get("hard_negative_every", 0) if aug.hard_negative_p > 0 else 0
    mined_at = None
    while state["step"] < cfg["steps"] and (time.time() - t0) < budget:
        if mine_every and (mined_at is None or state["step"] - mined_at >= mine_every):
            mined = mine_false_positives(model, samples, device, cfg.get("hard_negative_threshold", 0.5))
            mined_at = state["step"]
            batches.refresh()
            print(json.dumps({"step": state["step"], "mined": mined}), flush=True)
        progress = max(state["step"] / cfg["steps"], (time.time() - t0) / budget)
        for g in opt.param_groups:
            g["lr"] = learning_rate(cfg, progress)
        x, y = batches.batch(state["step"])
        model.train()
        loss = loss_fn(model(x.to(device)), y.to(device), cfg["focal_gamma"], cfg.get("per_image_dice", 0.0))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss))
        state["step"] += 1
        swa = cfg.get("swa")
        if swa and progress >= swa["start_fraction"] and state["step"] % swa["every"] == 0:
            average.add(model)
        done = state["step"] >= cfg["steps"] or (time.time() - t0) >= budget
        if state["step"] % cfg["eval_every"] == 0 or done:
            state["elapsed"] = time.time() - t0
            metrics, score = validation_score(model, val, device, cfg)
            entry = {"step": state["step"], "elapsed_s": round(state["elapsed"]), "loss": float(np.mean(losses)),
                     "score": score, **metrics}
            state["history"].append(entry)
            losses = []
            print(json.dumps(entry), flush=True)
            if score > state["best_score"]:
                state["best_score"] = score
                torch.save({"model": model.state_dict(), "config": cfg, "step": state["step"], "metrics": metrics},
                           out / "best.pt")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "rng": rng.getstate(),
                        "config": cfg, "swa": average.state()}, out / "last.pt.tmp")
            Path(out / "last.pt.tmp").replace(last)
            (out / "history.json").write_text(json.dumps(state["history"], indent=1))
    batches.close()
    if average.count and cfg.get("swa"):
        entry = write_weight_average(average, model, samples, val, cfg, aug, rng, bank, state["step"], out / "swa.pt")
        state["history"].append(entry)
        (out / "history.json").write_text(json.dumps(state["history"], indent=1))
    print("finished", state["step"], "steps", flush=True)


def write_weight_average(average, model, samples, val, cfg, aug, rng, bank, step: int, path: Path) -> dict:
    """The averaged weights as a checkpoint beside best.pt, scored on validation as the in-training entries are;
    returns its history entry. Like last.pt, it is a candidate for the checkpoint choice (model card), never
    compared with best.pt here: that choice is made with each candidate's own post-processing."""
    averaged = average.model_like(model)
    recompute_batchnorm(averaged, samples, cfg, aug, rng, cfg["swa"]["batchnorm_batches"], bank)
    device = next(model.parameters()).device
    metrics, score = validation_score(averaged, val, device, cfg)
    entry = {"swa": {"models": average.count, "step": step, "score": score, **metrics}}
    print(json.dumps(entry), flush=True)
    torch.save({"model": averaged.state_dict(), "config": cfg, "step": step, "metrics": metrics,
                "averaged_weights": average.count}, path)
    return entry


if __name__ == "__main__":
    main()
