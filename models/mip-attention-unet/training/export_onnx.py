"""Exports the Attention U-Net to ONNX and writes PyTorch reference logits for the parity test.

  /usr/bin/python3 export_onnx.py --weights runs/cpu/best.pt --onnx ../model.onnx --state-dict ../model.pt
  /usr/bin/python3 export_onnx.py --weights ../model.pt --fixtures /tmp/parity --data ../../../../shared/data/mip-pet \
      --masks '[{"threshold": 0.2, "minComponentAreaPx": 80, "seedThreshold": 0.99, "confirmedImage": {"seedThreshold": 0.7}}]'

--weights takes a training checkpoint or the released state_dict (model.pt), so CI, which has no runs/,
can produce reference logits from the committed weights. Fixtures are raw float32 little-endian, row-major
H x W arrays at the image's own size (the network saw them zero-padded at the bottom/right, as
evaluate.py does) plus fixtures.json describing them; they are generated on the fly, never committed.
--masks takes post-processing settings in model.json's "output" form; for each, the mask postprocess.py makes
of the plain logits is written as uint8 0/1, for the TypeScript filter to be checked against.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from data import InputNormalisation, is_validation, list_cases, pad_to_multiple, read_input
from model import AttentionUNet
from postprocess import PostProcess, logits_of, mask_of, probability
from weights import input_normalisation_of, load_weights

OPSET = 17


def export_onnx(model: AttentionUNet, path: Path) -> None:
    """Eval-mode export: the exporter folds every BatchNorm into the preceding convolution."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A non-square dummy that is a multiple of the padding catches H/W mix-ups in the dynamic shapes.
    dummy = torch.zeros(1, 1, 3 * model.padding_multiple, 2 * model.padding_multiple)
    axes = {0: "batch", 2: "height", 3: "width"}
    # torch 1.13 warns once per pass about prim::Constant shape inference; the graph is checked below.
    warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
    torch.onnx.export(
        model, dummy, str(path), opset_version=OPSET, input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": axes, "logits": axes}, do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL,
    )
    check_graph(path)


def check_graph(path: Path) -> None:
    """Insists that no BatchNorm survived (model.json says batchNormFolded); where python3-onnx is installed, also
    runs its checker. Without it the op types are looked for in the file's bytes: a node's op_type is stored as a
    plain string, so a BatchNormalization node cannot be there without its name."""
    try:
        import onnx
    except ImportError:
        if b"BatchNormalization" in path.read_bytes():
            raise RuntimeError(f"BatchNorm not folded in {path}")
        return
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    left = [n.name for n in graph.graph.node if n.op_type == "BatchNormalization"]
    if left:
        raise RuntimeError(f"BatchNorm not folded: {left}")


def parity_cases(data_root: Path, count: int) -> list:
    """Validation patients of distinct heights (smallest, middle, largest) to exercise the dynamic shape."""
    patients, _ = list_cases(data_root)
    val = [c for c in patients if is_validation(int(c.case_id.split("_")[1]))]
    by_height = sorted(val, key=lambda c: (Image.open(c.image_path).size[1], c.case_id))
    if len(by_height) < count:
        raise SystemExit(f"only {len(by_height)} validation patients under {data_root}")
    picks = np.linspace(0, len(by_height) - 1, count).round().astype(int)
    return [by_height[i] for i in picks]


@torch.no_grad()
def write_fixtures(model: AttentionUNet, weights: Path, data_root: Path, out: Path, count: int,
                   masks: list[dict], norm: InputNormalisation | None) -> None:
    """Per case: the network input (the PNG as read, normalised when the weights were trained so), the logits
    of it, the test-time-flip logits and each post-processing's mask."""
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    picked = [(case.case_id, read_input(case.image_path), case.image_path, None) for case in parity_cases(data_root, count)]
    # Every DM i AI image is 400 pixels wide; the service's MIPs are not (the GE study's is 300 x 437). One more case,
    # cut from the first to a width and height that are no multiple of the padding, exercises the other dimension.
    first_id, first_image, first_path, _ = picked[0]
    cut = {"top": 0, "left": 50, "height": first_image.shape[0] - 37, "width": 300}
    picked.append((f"{first_id}-cut", np.ascontiguousarray(
        first_image[cut["top"]:cut["top"] + cut["height"], cut["left"]:cut["left"] + cut["width"]]), first_path, cut))
    for case_id, image, image_path, cut_from in picked:
        image = norm.apply(image) if norm else image
        x, (h, w) = pad_to_multiple(torch.from_numpy(image)[None, None], model.padding_multiple)
        logits = model(x)[0, 0, :h, :w].numpy()
        image.astype("<f4").tofile(out / f"{case_id}.input.f32")
        logits.astype("<f4").tofile(out / f"{case_id}.logits.f32")
        # The test-time-flip logits (postprocess.py), for the TypeScript flip to be checked against.
        logits_of(model, image, flip_tta=True).astype("<f4").tofile(out / f"{case_id}.logits-flip.f32")
        mask_files = []
        for k, output in enumerate(masks):
            mask_of(probability(logits), PostProcess.from_output(output)).astype("u1").tofile(out / f"{case_id}.mask-{k}.u8")
            mask_files.append(f"{case_id}.mask-{k}.u8")
        cases.append({"id": case_id, "image": str(image_path), **({"cut": cut_from} if cut_from else {}), "height": h, "width": w,
                      "input": f"{case_id}.input.f32", "logits": f"{case_id}.logits.f32",
                      "logitsFlipTta": f"{case_id}.logits-flip.f32", "masks": mask_files})
    meta = {"format": "float32 little-endian, row-major height x width", "weights": str(weights),
            "weightsSha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
            "paddingMultiple": model.padding_multiple, "padValue": 0.0, "masks": masks, "cases": cases,
            "inputNormalisation": {"bodyMedian": norm.body_median, "bodyLevel": norm.body_level} if norm else None}
    (out / "fixtures.json").write_text(json.dumps(meta, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True, help="training checkpoint or released model.pt")
    ap.add_argument("--onnx", type=Path, help="write the ONNX model here")
    ap.add_argument("--state-dict", type=Path, help="write the bare state_dict (the released model.pt) here")
    ap.add_argument("--fixtures", type=Path, help="write parity fixtures into this folder (needs --data)")
    ap.add_argument("--data", type=Path, help="the mip-pet folder of ../shared/data")
    ap.add_argument("--count", type=int, default=3, help="parity images (and one more, cut from the first to another width)")
    ap.add_argument("--masks", type=json.loads, default=[],
                    help='JSON list of post-processing settings in model.json "output" form (with --fixtures)')
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the CPU is shared with training)")
    args = ap.parse_args()
    if not (args.onnx or args.state_dict or args.fixtures):
        ap.error("nothing to do: give --onnx, --state-dict and/or --fixtures")
    if args.fixtures and not args.data:
        ap.error("--fixtures needs --data")
    torch.set_num_threads(args.threads)
    model, meta = load_weights(args.weights)
    if args.state_dict:
        args.state_dict.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), args.state_dict)
    if args.onnx:
        export_onnx(model, args.onnx)
    if args.fixtures:
        write_fixtures(model, args.weights, args.data, args.fixtures, args.count, args.masks,
                       input_normalisation_of(args.weights, meta))


if __name__ == "__main__":
    main()
