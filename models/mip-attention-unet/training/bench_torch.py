"""The PyTorch peer of scripts/bench-inference.ts: eager CPU latency of the same weights on the same size.

  /usr/bin/python3 bench_torch.py --weights ../model.pt --height 991 --width 400 --threads 1,2 --runs 20 --warmup 3

Prints one JSON object: {"torch": version, "results": [{"threads", "p50_ms", "p95_ms"}]}. Timed like the
ONNX side: zero padding to the multiple plus the forward pass, on a fixed pseudo-random input.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from data import pad_to_multiple
from weights import load_weights


@torch.no_grad()
def latencies(model, image: torch.Tensor, runs: int, warmup: int) -> list[float]:
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        x, _ = pad_to_multiple(image, model.padding_multiple)
        model(x)
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000.0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--height", type=int, default=991)
    ap.add_argument("--width", type=int, default=400)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    model, _ = load_weights(args.weights)
    image = torch.from_numpy(np.random.default_rng(0).random((1, 1, args.height, args.width), dtype=np.float32))
    results = []
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        times = latencies(model, image, args.runs, args.warmup)
        results.append({"threads": threads, "p50_ms": float(np.percentile(times, 50)),
                        "p95_ms": float(np.percentile(times, 95))})
    print(json.dumps({"torch": torch.__version__, "results": results}))


if __name__ == "__main__":
    main()
