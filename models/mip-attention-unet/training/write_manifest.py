"""Fills the GENERATED fields of model.json (see model.schema.json) so that no figure is typed by hand.

  /usr/bin/python3 write_manifest.py --checkpoint runs/cpu/best.pt --evaluation ../evaluation.json \
      --data ../../../../shared/data/mip-pet --model-dir .. --threshold 0.5 --min-area 0

The curated fields (name, description, pixel spacing, the SUV intensity mapping and its suvWhite) are kept
as they are in the existing model.json: another engineer owns suvWhite, and a re-release must not undo it.
--threshold/--min-area must be the values evaluate.py ran with; they become the shipped post-processing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import torch

from data import input_normalisation, list_cases, split
from export_onnx import OPSET
from macs import conv_macs_per_padded_pixel
from weights import load_weights

# evaluate.py key -> manifest key; a missing key fails loudly rather than shipping a partial card.
METRIC_KEYS = {
    "patients": "patients", "controls": "controls", "mean_dice": "patientMeanDice",
    "median_dice": "patientMedianDice", "dice_quartiles": "patientDiceQuartiles",
    "dice_below_0_5": "patientsWithDiceBelow0_5", "lesion_sensitivity": "lesionSensitivity",
    "lesions": "lesions", "controls_clean_share": "controlsCleanShare",
    "control_fp_pixels_mean": "controlFalsePositivePixelsMean", "seed_style_inflated_dice": "seedStyleInflatedDice",
}
SPLIT_RULE = "case number % 5 == 4 is validation, the rest is training; patients and controls alike (data.py)"
SELECTION = "best validation score during training: patient mean Dice - max(0, 0.8 - clean-control share)"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def training_section(meta: dict, data_root: Path, selection: str, initialised_from: str | None) -> dict:
    patients, controls = list_cases(data_root)
    (tp, vp), (tc, vc) = split(patients), split(controls)
    return {
        "data": {"source": "DM i AI 2023 tumor-segmentation MIP-PET (amboltio/DM-i-AI-2023), the subset in "
                           "../shared/data/mip-pet", "patients": len(patients), "controls": len(controls)},
        "split": {"rule": SPLIT_RULE, "train": {"patients": len(tp), "controls": len(tc)},
                  "validation": {"patients": len(vp), "controls": len(vc)}},
        "configuration": meta["config"],
        "step": int(meta["step"]),
        "stepsPlanned": int(meta["config"]["steps"]),
        "selection": selection,
        **({"initialisedFrom": initialised_from} if initialised_from else {}),
    }


def metrics_section(evaluation: dict, args: argparse.Namespace) -> dict:
    out = {"source": "training/evaluate.py (PyTorch, full-size images)", "split": "validation",
           "threshold": args.threshold, "minComponentAreaPx": args.min_area, **postprocess_fields(args)}
    out.update({dst: evaluation[src] for src, dst in METRIC_KEYS.items()})
    return out


def postprocess_fields(args: argparse.Namespace) -> dict:
    """The optional output fields, written only when they change what a runtime does."""
    fields = {}
    if args.seed_threshold is not None and args.seed_threshold > args.threshold:
        fields["seedThreshold"] = args.seed_threshold
    if args.flip_tta:
        fields["flipTta"] = True
    confirmed = {}
    if args.confirmed_seed_threshold is not None:
        confirmed["seedThreshold"] = args.confirmed_seed_threshold
    if args.confirmed_min_area is not None:
        confirmed["minComponentAreaPx"] = args.confirmed_min_area
    if confirmed:
        fields["confirmedImage"] = confirmed
    return fields


def normalisation_field(intensity: dict, config: dict) -> dict:
    """input.intensity with "normalisation" as the training configuration had it (absent when it had none)."""
    out = {k: v for k, v in intensity.items() if k != "normalisation"}
    norm = input_normalisation(config)
    if norm:
        out["normalisation"] = {
            "bodyMedian": norm.body_median, "bodyLevel": norm.body_level,
            "basis": "training configuration input_normalisation (data.py InputNormalisation): the network was trained "
                     "on images so normalised; bodyMedian is the median over the 400 controls of their median body "
                     "pixel (training/estimate_suv_scale.py), bodyLevel the body/air level of that estimate"}
    return out


REFINEMENT_PREFIX = "full-resolution refinement branch"
REFINEMENT_DEVIATION = (REFINEMENT_PREFIX + " ({} channels, model.py FullResolutionRefinement): a correction to the resized "
                        "logits computed at the input's resolution from the image and the decoder's last features")
REFINEMENT_NARROWED = ", narrowed to {} by a 1x1 convolution at half resolution before the resize"


def architecture_deviations(deviations: list[str], model) -> list[str]:
    """The curated deviations, with the refinement branch's line kept true to the weights being released."""
    kept = [d for d in deviations if not d.startswith(REFINEMENT_PREFIX)]
    if model.refine_channels == 0:
        return kept
    narrowed = REFINEMENT_NARROWED.format(model.refine_features) if model.refine_features > 0 else ""
    return kept + [REFINEMENT_DEVIATION.format(model.refine_channels) + narrowed]


def update_manifest(manifest: dict, args: argparse.Namespace) -> dict:
    model, meta = load_weights(args.checkpoint)
    model_dir = args.model_dir
    onnx_path, weights_path = model_dir / manifest["file"], model_dir / manifest["referenceWeights"]["file"]
    if args.version:
        manifest["version"] = args.version
    manifest["sha256"] = sha256(onnx_path)
    manifest["referenceWeights"].update(sha256=sha256(weights_path))
    manifest["export"] = {"opset": OPSET, "exporter": f"torch {torch.__version__} torch.onnx.export (eval mode)",
                          "batchNormFolded": True, "command": "models/mip-attention-unet/training/release.sh"}
    manifest["architecture"].update(
        channels=list(model.channels), refineChannels=model.refine_channels, refineFeatures=model.refine_features,
        parameters=sum(p.numel() for p in model.parameters()), convMacsPerPaddedPixel=conv_macs_per_padded_pixel(model))
    manifest["architecture"]["deviations"] = architecture_deviations(manifest["architecture"].get("deviations", []), model)
    manifest["input"]["paddingMultiple"] = model.padding_multiple
    manifest["input"]["intensity"] = normalisation_field(manifest["input"]["intensity"], meta["config"])
    output = {k: v for k, v in manifest["output"].items() if k not in ("seedThreshold", "flipTta", "confirmedImage")}
    output.update(threshold=args.threshold, minComponentAreaPx=args.min_area, **postprocess_fields(args))
    manifest["output"] = output
    manifest["training"] = training_section(meta, args.data, args.selection, args.initialised_from)
    evaluation = json.loads(args.evaluation.read_text())
    manifest["metrics"] = metrics_section(evaluation, args)
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True, help="training checkpoint (config, step)")
    ap.add_argument("--evaluation", type=Path, required=True, help="JSON printed by evaluate.py")
    ap.add_argument("--data", type=Path, required=True, help="the mip-pet folder (case counts)")
    ap.add_argument("--model-dir", type=Path, required=True, help="folder with model.json, model.onnx, model.pt")
    ap.add_argument("--threshold", type=float, required=True)
    ap.add_argument("--min-area", type=int, required=True)
    ap.add_argument("--seed-threshold", type=float, default=None)
    ap.add_argument("--confirmed-seed-threshold", type=float, default=None)
    ap.add_argument("--confirmed-min-area", type=int, default=None)
    ap.add_argument("--selection", default=SELECTION, help="how this checkpoint was chosen, in words")
    ap.add_argument("--initialised-from", default=None, help="the release the weights were fine-tuned from, in words")
    ap.add_argument("--flip-tta", action="store_true")
    ap.add_argument("--version", help="semantic version of this release (default: keep)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    path = args.model_dir / "model.json"
    manifest = update_manifest(json.loads(path.read_text()), args)
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
